//! Benchmarks on the real stack, run with `--ignored` (they print figures,
//! next to a baseline measured in the same run, and assert only that the
//! work was done).

use std::time::Duration;

use kring_core::{ConversationKind, NewConversation, Role};

use crate::{
    care_team::{client, until_timeline},
    devices::{accept_when_invited, bodies, undecryptable, watch},
    stack::{Profile, Stack},
};

/// Benchmark, not a test (`--ignored`; `tests/bench/new_device_history.sh`):
/// a new device decrypts the full history of 200 messages in 10
/// conversations, next to downloading the same events raw over plain HTTP
/// (`/messages`, one room after the other) in the same run. Prints a table.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: prints figures; run by tests/bench/new_device_history.sh"]
async fn bench_new_device_history() {
    const ROOMS: usize = 10;
    const PER_ROOM: usize = 20;
    let stack = Stack::load();
    let (lead_user, nurse_user) = (stack.fresh_user("a", "benchlead").await, stack.fresh_user("a", "benchnurse").await);
    let (p1, pn) = (Profile::new("bench-hist-1"), Profile::new("bench-hist-nurse"));
    let first = p1.login(&stack, &lead_user).await;
    let nurse = pn.login(&stack, &nurse_user).await;
    let key = first.enable_recovery().await.unwrap();
    let team = first.create_care_team(&client("bench")).await.unwrap();
    first.invite_to_care_team(&team.space_id, &nurse_user.mxid, Role::Practitioner).await.unwrap();
    accept_when_invited(&nurse, &team.space_id).await;
    let seeding = std::time::Instant::now();
    let mut rooms = Vec::new();
    for r in 0..ROOMS {
        let room_id = first
            .start_conversation(&NewConversation {
                space_id: team.space_id.clone(),
                subject: format!("Gesprek {r}"),
                body: format!("Gesprek {r} bericht 0"),
                recipients: vec![nurse_user.mxid.clone()],
                kind: ConversationKind::Professional,
                attachments: vec![],
                sensitive: false,
            })
            .await
            .unwrap();
        for m in 1..PER_ROOM {
            first.send_message(&room_id, &format!("Gesprek {r} bericht {m}"), vec![], None, false).await.unwrap();
        }
        rooms.push(room_id);
    }
    for room_id in &rooms {
        assert!(first.wait_for_send_queue(room_id, Duration::from_secs(120)).await, "seeded messages sent");
    }
    first.client().encryption().backups().wait_for_steady_state().await.unwrap();
    let seeded = seeding.elapsed();
    first.stop().await;

    // Baseline: the same events, raw, with a plain HTTP client and a token of its own.
    let http = matrix_sdk::reqwest::Client::new();
    let base = &stack.homeserver("a").base_url;
    let login: serde_json::Value = http
        .post(format!("{base}/_matrix/client/v3/login"))
        .json(&serde_json::json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": lead_user.localpart}, "password": lead_user.password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let raw_start = std::time::Instant::now();
    let mut raw_messages = 0;
    for room_id in &rooms {
        let mut from: Option<String> = None;
        loop {
            let mut url = format!("{base}/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=100");
            if let Some(f) = &from {
                url.push_str(&format!("&from={f}"));
            }
            let page: serde_json::Value = http.get(url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
            let chunk = page["chunk"].as_array().cloned().unwrap_or_default();
            raw_messages += chunk.iter().filter(|e| e["type"] == "m.room.encrypted").count();
            match page["end"].as_str() {
                Some(end) if !chunk.is_empty() => from = Some(end.to_owned()),
                _ => break,
            }
        }
    }
    let raw = raw_start.elapsed();
    assert_eq!(raw_messages, ROOMS * PER_ROOM, "the raw download got every message");

    // Kring on a new device: the recovery key, then every conversation read to its start.
    let p2 = Profile::new("bench-hist-2");
    let login_start = std::time::Instant::now();
    let second = p2.login(&stack, &lead_user).await;
    second.wait_until_synced(Duration::from_secs(30)).await;
    let logged_in = login_start.elapsed();
    let start = std::time::Instant::now();
    second.recover(key.as_str()).await.unwrap();
    let recovered = start.elapsed();
    let (mut opening, mut paging, mut decrypting) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for room_id in &rooms {
        let t = std::time::Instant::now();
        let (mut rx, _sub) = watch(&second, room_id).await;
        opening += t.elapsed();
        let t = std::time::Instant::now();
        while !second.paginate_back(room_id, 50).await.unwrap() {}
        paging += t.elapsed();
        let t = std::time::Instant::now();
        let mut items = Vec::new();
        let expected: Vec<String> = (0..PER_ROOM).map(|m| format!("bericht {m}")).collect();
        until_timeline("the whole conversation decrypted", &mut rx, &mut items, 120, |i| {
            let got = bodies(i);
            undecryptable(i) == 0 && expected.iter().all(|e| got.iter().any(|b| b.ends_with(e.as_str())))
        })
        .await;
        decrypting += t.elapsed();
    }
    let kring = start.elapsed();
    let secs = |d: Duration| d.as_secs_f64();
    println!(
        "\nnew device, {ROOMS} conversations x {PER_ROOM} messages ({} in all; seeded in {:.1} s)",
        ROOMS * PER_ROOM,
        secs(seeded)
    );
    println!("| what | time |");
    println!("|---|---|");
    println!("| sign-in of the new device, until the first sync | {:.2} s |", secs(logged_in));
    println!("| Kring: recovery key, then every conversation decrypted to its start | {:.2} s |", secs(kring));
    println!("|   of which the recovery key (key import, cross-signing, vault) | {:.2} s |", secs(recovered));
    println!("|   opening the {ROOMS} timelines | {:.2} s |", secs(opening));
    println!("|   paginating back to the start | {:.2} s |", secs(paging));
    println!(
        "|   then waiting for the last undecryptable item to decrypt (keys from the backup) | {:.2} s |",
        secs(decrypting)
    );
    println!("| baseline, same run: the raw events over plain HTTP /messages | {:.2} s |", secs(raw));
    println!("| ratio Kring / raw | {:.1}x |", secs(kring) / secs(raw));
}
