//! Every device of a person, against the real stack: recovery set up on the
//! first device, a second device (fresh data directory and keychain entry)
//! that takes over with the recovery key while the first is offline, and a
//! practitioner at the other organisation, invited later with a device made
//! after the messages, who reads a professional conversation's history.

use std::time::Duration;

use kring_core::{
    ConversationKind, ErrorCode, NewConversation, Notice, Role, Session, TimelineContent, TimelineItem,
    VerificationEmoji, VerificationStep,
};
use tokio::sync::mpsc;

use crate::{
    care_team::{Batches, client, eventually, files, until_timeline},
    stack::{Profile, Stack},
};

fn bodies(items: &[TimelineItem]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match &i.content {
            TimelineContent::Message { body, .. } => Some(body.clone()),
            _ => None,
        })
        .collect()
}

fn undecryptable(items: &[TimelineItem]) -> usize {
    items.iter().filter(|i| matches!(i.content, TimelineContent::Notice { notice: Notice::Undecryptable })).count()
}

/// Everything in `expected` is in the timeline, sent, and nothing is undecryptable.
fn holds(items: &[TimelineItem], expected: &[&str]) -> bool {
    let got = bodies(items);
    undecryptable(items) == 0
        && expected.iter().all(|e| got.iter().any(|b| b.starts_with(e)))
        && items.iter().all(|i| !matches!(&i.content, TimelineContent::Message { event_id: None, .. }))
}

async fn watch(session: &Session, room_id: &str) -> (Batches, kring_core::Subscription) {
    let (tx, rx) = mpsc::unbounded_channel();
    let sub = session.watch_timeline(room_id, Box::new(move |b| tx.send(b).is_ok())).await.expect("timeline");
    (rx, sub)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_device_recovers_with_the_key_and_reads_every_care_team_and_message() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let (lead_user, gp_user) = (stack.fresh_user("a", "lead").await, stack.fresh_user("b", "gp").await);
        let (p1, pg) = (Profile::new("rec-lead-1"), Profile::new("rec-gp"));
        let lead = p1.login(&stack, &lead_user).await;
        let gp = pg.login(&stack, &gp_user).await;

        // Set up once, on the first device: the key is shown once, twelve groups.
        let key = lead.enable_recovery().await.expect("recovery set up");
        assert_eq!(key.as_str().split_whitespace().count(), 12, "the SDK's recovery key format");
        let trust = lead.device_trust().await;
        assert!(trust.verified && trust.backup_enabled, "{trust:?}");
        assert!(!format!("{key:?}").contains(key.as_str()), "the key never shows in a Debug print");

        let client = client("rec");
        let team = lead.create_care_team(&client).await.unwrap();
        lead.invite_to_care_team(&team.space_id, &gp_user.mxid, Role::Practitioner).await.unwrap();
        eventually("the invite at B", || async {
            gp.care_team_invites().await.unwrap().into_iter().find(|i| i.space_id == team.space_id)
        })
        .await;
        gp.accept_care_team_invite(&team.space_id).await.unwrap();
        let room_id = lead
            .start_conversation(&NewConversation {
                space_id: team.space_id.clone(),
                subject: "Herstel".into(),
                body: "Eerste bericht met foto".into(),
                recipients: vec![gp_user.mxid.clone()],
                kind: ConversationKind::Professional,
                attachments: files("rec", 1),
            })
            .await
            .unwrap();
        eventually("the conversation at B", || async {
            gp.conversations(&team.space_id).await.ok()?.into_iter().find(|c| c.room_id == room_id)
        })
        .await;
        gp.join_conversation(&room_id).await.unwrap();
        gp.send_message(&room_id, "Antwoord van organisatie B", vec![], None, false).await.unwrap();
        let (mut rx, _sub) = watch(&lead, &room_id).await;
        let mut items = Vec::new();
        until_timeline("B's answer at the lead", &mut rx, &mut items, 60, |i| {
            holds(i, &["Eerste bericht", "Antwoord van organisatie B"])
        })
        .await;
        for text in ["Tweede bericht", "Derde bericht"] {
            lead.send_message(&room_id, text, vec![], None, false).await.unwrap();
        }
        until_timeline("the lead's own messages sent", &mut rx, &mut items, 60, |i| {
            holds(i, &["Eerste bericht", "Antwoord", "Tweede bericht", "Derde bericht"])
        })
        .await;
        let first = items
            .iter()
            .find_map(|i| match &i.content {
                TimelineContent::Message { body, event_id, .. } if body.starts_with("Eerste") => event_id.clone(),
                _ => None,
            })
            .unwrap();
        // Every room key this device holds is in the backup before it goes offline.
        lead.client().encryption().backups().wait_for_steady_state().await.expect("backup upload");
        drop(rx);
        lead.stop().await;

        // A new device: no care team, not verified, until the key is given.
        let p2 = Profile::new("rec-lead-2");
        let second = p2.login(&stack, &lead_user).await;
        second.wait_until_synced(Duration::from_secs(30)).await;
        assert!(second.care_teams().await.unwrap().iter().all(|t| t.space_id != team.space_id));
        assert!(!second.device_trust().await.verified);

        // A wrong key (one character changed) is refused and changes nothing; the right one works after it.
        let mut wrong: Vec<char> = key.as_str().chars().collect();
        let i = wrong.iter().position(|c| c.is_alphanumeric()).unwrap() + 5;
        wrong[i] = if wrong[i] == 'a' { 'b' } else { 'a' };
        let err = second.recover(&wrong.into_iter().collect::<String>()).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::RecoveryKeyWrong, "{err}");
        assert!(!second.device_trust().await.verified);
        second.recover(key.as_str()).await.expect("recover with the right key");
        assert!(second.device_trust().await.verified, "cross-signed after recovery");

        let teams = second.care_teams().await.unwrap();
        let restored = teams.iter().find(|t| t.space_id == team.space_id).expect("the care team on the new device");
        assert_eq!(restored.client_name, client.display_name);
        assert_eq!(second.client_of(&team.space_id).await.unwrap(), client);

        // The whole history decrypts: own messages, B's, and the attachment.
        let (mut rx, _sub2) = watch(&second, &room_id).await;
        while !second.paginate_back(&room_id, 50).await.unwrap() {}
        let mut items = Vec::new();
        until_timeline("the whole history on the new device", &mut rx, &mut items, 60, |i| {
            holds(i, &["Eerste bericht", "Antwoord van organisatie B", "Tweede bericht", "Derde bericht"])
        })
        .await;
        let file = second.attachment_content(&room_id, &first, 0).await.expect("attachment on the new device");
        assert_eq!(file.data, files("rec", 1)[0].data);

        // The homeserver holds the vault's pointer and ciphertext only.
        let token = second.client().access_token().unwrap();
        let base = &stack.homeserver("a").base_url;
        let http = matrix_sdk::reqwest::Client::new();
        let pointer: serde_json::Value = http
            .get(format!("{base}/_matrix/client/v3/user/{}/account_data/nl.kring.vault", lead_user.mxid))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let vault = pointer["room_id"].as_str().expect("the vault's room id").to_owned();
        assert_eq!(pointer.as_object().unwrap().len(), 1, "only the room id: {pointer}");
        for path in ["messages?dir=b&limit=100", "state"] {
            let text = http
                .get(format!("{base}/_matrix/client/v3/rooms/{vault}/{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(
                !text.contains(&client.pseudo_bsn) && !text.contains("Kok"),
                "cleartext client data in the vault's {path}"
            );
        }
        // The room list shows the conversation, never the vault.
        let (tx, mut lists) = mpsc::unbounded_channel();
        let _rooms = second.watch_rooms(Box::new(move |b| tx.send(b).is_ok()));
        let mut rooms: Vec<kring_core::RoomSummary> = Vec::new();
        while !rooms.iter().any(|r| r.room_id == room_id) {
            let batch = tokio::time::timeout(Duration::from_secs(30), lists.recv()).await.expect("room list").unwrap();
            batch.into_iter().for_each(|d| d.apply(&mut rooms));
        }
        assert!(rooms.iter().all(|r| r.room_id != vault), "the vault is no conversation");

        // At rest on both homeservers: no client name, pseudo-BSN or BSN-like number in room
        // state, account data or profiles (the client travels only in the consumed invites).
        let needles = [client.display_name.as_str(), client.pseudo_bsn.as_str()];
        let rooms = [team.space_id.as_str(), room_id.as_str(), vault.as_str()];
        assert_nothing_in_cleartext(&stack, "a", &rooms, &[&lead_user.mxid], &needles).await;
        assert_nothing_in_cleartext(&stack, "b", &rooms[..2], &[&gp_user.mxid], &needles).await;
    })
    .await;
}

/// MSC4268 and the UC6 rule: a professional conversation shares its history
/// with a professional added later, whose device did not exist when the
/// messages were sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_practitioner_invited_later_reads_the_professional_history() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let (lead_user, gp_user, late_user) = (
            stack.fresh_user("a", "lead").await,
            stack.fresh_user("b", "gp").await,
            stack.fresh_user("b", "late").await,
        );
        let (pa, pb) = (Profile::new("hist-lead"), Profile::new("hist-gp"));
        let lead = pa.login(&stack, &lead_user).await;
        let gp = pb.login(&stack, &gp_user).await;
        let team = lead.create_care_team(&client("hist")).await.unwrap();
        lead.invite_to_care_team(&team.space_id, &gp_user.mxid, Role::Practitioner).await.unwrap();
        lead.invite_to_care_team(&team.space_id, &late_user.mxid, Role::Practitioner).await.unwrap();
        eventually("the invite at B", || async {
            gp.care_team_invites().await.unwrap().into_iter().find(|i| i.space_id == team.space_id)
        })
        .await;
        gp.accept_care_team_invite(&team.space_id).await.unwrap();
        let room_id = lead
            .start_conversation(&NewConversation {
                space_id: team.space_id.clone(),
                subject: "Overdracht".into(),
                body: "Bericht 1".into(),
                recipients: vec![gp_user.mxid.clone()],
                kind: ConversationKind::Professional,
                attachments: vec![],
            })
            .await
            .unwrap();
        for n in 2..=20 {
            lead.send_message(&room_id, &format!("Bericht {n}"), vec![], None, false).await.unwrap();
        }
        let expected: Vec<String> = (1..=20).map(|n| format!("Bericht {n}")).collect();
        let exact = |items: &[TimelineItem]| {
            let got = bodies(items);
            undecryptable(items) == 0 && expected.iter().all(|e| got.contains(e))
        };
        let (mut rx, _sub) = watch(&lead, &room_id).await;
        let mut items = Vec::new();
        until_timeline("20 messages sent", &mut rx, &mut items, 60, |i| {
            exact(i) && i.iter().all(|i| !matches!(&i.content, TimelineContent::Message { event_id: None, .. }))
        })
        .await;

        // Only now does the late practitioner get a device, join the care team and the conversation.
        let pl = Profile::new("hist-late");
        let late = pl.login(&stack, &late_user).await;
        eventually("the care-team invite of the late practitioner", || async {
            late.care_team_invites().await.unwrap().into_iter().find(|i| i.space_id == team.space_id)
        })
        .await;
        late.accept_care_team_invite(&team.space_id).await.unwrap();
        lead.add_to_conversation(&room_id, &late_user.mxid).await.unwrap();
        eventually("the conversation invite at B", || async {
            late.conversations(&team.space_id).await.ok()?.into_iter().find(|c| c.room_id == room_id)
        })
        .await;
        late.join_conversation(&room_id).await.unwrap();
        let (mut rx, _sub) = watch(&late, &room_id).await;
        // What came before the join arrives as the person scrolls back, as in the app.
        while !late.paginate_back(&room_id, 50).await.unwrap() {}
        let mut items = Vec::new();
        until_timeline("the 20 earlier messages at the late practitioner", &mut rx, &mut items, 60, exact).await;
    })
    .await;
}

/// The UC6 rule for a conversation with the client: a related person added
/// later reads from their invite on, never what was said before it.
#[tokio::test(flavor = "multi_thread")]
async fn a_related_person_added_later_reads_from_the_invite_on() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let (lead_user, nurse_user, carer_user) = (
            stack.fresh_user("a", "lead").await,
            stack.fresh_user("a", "nurse").await,
            stack.fresh_user("a", "carer").await,
        );
        let (pl, pn, pc) = (Profile::new("rp-lead"), Profile::new("rp-nurse"), Profile::new("rp-carer"));
        let (lead, nurse, carer) = (
            pl.login(&stack, &lead_user).await,
            pn.login(&stack, &nurse_user).await,
            pc.login(&stack, &carer_user).await,
        );
        let team = lead.create_care_team(&client("rp")).await.unwrap();
        lead.invite_to_care_team(&team.space_id, &nurse_user.mxid, Role::Practitioner).await.unwrap();
        lead.invite_to_care_team(&team.space_id, &carer_user.mxid, Role::RelatedPerson).await.unwrap();
        for (who, s) in [("nurse", &nurse), ("carer", &carer)] {
            eventually(who, || async {
                s.care_team_invites().await.unwrap().into_iter().find(|i| i.space_id == team.space_id)
            })
            .await;
            s.accept_care_team_invite(&team.space_id).await.unwrap();
        }
        let room_id = lead
            .start_conversation(&NewConversation {
                space_id: team.space_id.clone(),
                subject: "Thuissituatie".into(),
                body: "Voor de uitnodiging 1".into(),
                recipients: vec![nurse_user.mxid.clone()],
                kind: ConversationKind::ClientInclusive,
                attachments: vec![],
            })
            .await
            .unwrap();
        lead.send_message(&room_id, "Voor de uitnodiging 2", vec![], None, false).await.unwrap();
        let (mut rx, _sub) = watch(&lead, &room_id).await;
        let mut items = Vec::new();
        until_timeline("the messages before the invite sent", &mut rx, &mut items, 60, |i| {
            holds(i, &["Voor de uitnodiging 1", "Voor de uitnodiging 2"])
        })
        .await;

        lead.add_to_conversation(&room_id, &carer_user.mxid).await.unwrap();
        eventually("the carer joined", || async { carer.join_conversation(&room_id).await.ok() }).await;
        lead.send_message(&room_id, "Na de uitnodiging", vec![], None, false).await.unwrap();
        let (mut rx, _sub2) = watch(&carer, &room_id).await;
        let mut items = Vec::new();
        until_timeline("the message after the invite at the carer", &mut rx, &mut items, 60, |i| {
            holds(i, &["Na de uitnodiging"])
        })
        .await;
        while !carer.paginate_back(&room_id, 50).await.unwrap() {}
        // The whole history the server serves her, applied.
        while let Ok(Some(batch)) = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await {
            batch.into_iter().for_each(|d| d.apply(&mut items));
        }
        let got = bodies(&items);
        assert!(got.iter().any(|b| b == "Na de uitnodiging"), "{got:?}");
        assert!(got.iter().all(|b| !b.starts_with("Voor de uitnodiging")), "history before her invite: {got:?}");
        assert_eq!(undecryptable(&items), 0, "no blanks either: the server does not serve it");
    })
    .await;
}

/// A 9-digit number that passes the BSN eleven test (elfproef).
fn bsn_like(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i - start == 9 {
            let d: Vec<i64> = bytes[start..i].iter().map(|b| i64::from(b - b'0')).collect();
            let sum: i64 = d[..8].iter().zip((2..=9).rev()).map(|(digit, weight)| weight * digit).sum::<i64>() - d[8];
            if sum % 11 == 0 {
                return Some(text[start..i].to_owned());
            }
        }
    }
    None
}

/// Reads Synapse's own database (the stack runs it on sqlite): the current
/// state of `rooms`, the account data, profiles and user-directory rows of
/// `users`. None of it may hold a needle, nor a BSN-like number.
async fn assert_nothing_in_cleartext(stack: &Stack, org: &str, rooms: &[&str], users: &[&str], needles: &[&str]) {
    use sqlx::{Row, sqlite::SqliteConnectOptions};
    let path = stack.stack_dir.join(format!("hs-{org}")).join("homeserver.db");
    let options = SqliteConnectOptions::new().filename(&path).read_only(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows: Vec<(&str, String)> = Vec::new();
    let queries: [(&str, &'static str, &[&str]); 7] = [
        (
            "room state",
            "SELECT j.json FROM current_state_events c JOIN event_json j ON j.event_id = c.event_id WHERE c.room_id = ?",
            rooms,
        ),
        (
            "room stats",
            "SELECT coalesce(name,'') || ' ' || coalesce(topic,'') FROM room_stats_state WHERE room_id = ?",
            rooms,
        ),
        ("membership", "SELECT coalesce(display_name,'') FROM room_memberships WHERE room_id = ?", rooms),
        ("account data", "SELECT content FROM account_data WHERE user_id = ?", users),
        ("room account data", "SELECT content FROM room_account_data WHERE user_id = ?", users),
        (
            "profile",
            "SELECT coalesce(displayname,'') || ' ' || coalesce(CAST(fields AS TEXT),'') FROM profiles WHERE full_user_id = ?",
            users,
        ),
        ("user directory", "SELECT coalesce(display_name,'') FROM user_directory WHERE user_id = ?", users),
    ];
    for (what, sql, keys) in queries {
        for key in keys {
            for row in sqlx::query(sql).bind(*key).fetch_all(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}")) {
                let text: Option<String> = row.try_get(0).ok();
                rows.push((what, text.unwrap_or_default()));
            }
        }
    }
    assert!(
        rows.iter().any(|(what, text)| *what == "room state" && text.contains("m.room.create")),
        "the scan read the rooms' state"
    );
    for (what, text) in &rows {
        for needle in needles {
            assert!(!text.contains(needle), "cleartext client data in {what} at {org}");
        }
        assert_eq!(bsn_like(text), None, "a BSN-like number in {what} at {org}");
    }
}

#[test]
fn the_bsn_scan_knows_the_eleven_test() {
    assert_eq!(bsn_like("bsn 111222333 ts 1733312345678"), Some("111222333".into()));
    assert_eq!(bsn_like("uzi 900100101, room !abc123456789:hs"), None);
}

type Steps = mpsc::UnboundedReceiver<VerificationStep>;

fn steps() -> (kring_core::subscription::Sink<VerificationStep>, Steps) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Box::new(move |s| tx.send(s).is_ok()), rx)
}

/// The next step that `pick` accepts, skipping the ones in between.
async fn step<T>(what: &str, rx: &mut Steps, pick: impl Fn(&VerificationStep) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(s)) => {
                if let Some(v) = pick(&s) {
                    return v;
                }
            }
            other => panic!("timed out waiting for {what}: {other:?}"),
        }
    }
}

fn emojis(s: &VerificationStep) -> Option<Vec<VerificationEmoji>> {
    match s {
        VerificationStep::Compare { emojis, .. } => Some(emojis.clone()),
        _ => None,
    }
}

/// A device verified by the person's other device (emoji), not by the
/// recovery key: it is cross-signed, gets the backup key by gossip, reads the
/// history and knows the care teams. A device whose emoji do not match stays
/// unverified, and both sides hear that the verification was cancelled.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_device_verified_with_emoji_by_the_first_reads_the_history() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let (lead_user, nurse_user) = (stack.fresh_user("a", "lead").await, stack.fresh_user("a", "nurse").await);
        let (p1, pn) = (Profile::new("sas-lead-1"), Profile::new("sas-nurse"));
        let first = p1.login(&stack, &lead_user).await;
        let nurse = pn.login(&stack, &nurse_user).await;
        first.enable_recovery().await.expect("recovery set up");
        let client = client("sas");
        let team = first.create_care_team(&client).await.unwrap();
        first.invite_to_care_team(&team.space_id, &nurse_user.mxid, Role::Practitioner).await.unwrap();
        eventually("the nurse's invite", || async {
            nurse.care_team_invites().await.unwrap().into_iter().find(|i| i.space_id == team.space_id)
        })
        .await;
        nurse.accept_care_team_invite(&team.space_id).await.unwrap();
        let room_id = first
            .start_conversation(&NewConversation {
                space_id: team.space_id.clone(),
                subject: "Verificatie".into(),
                body: "Voor de verificatie geschreven".into(),
                recipients: vec![nurse_user.mxid.clone()],
                kind: ConversationKind::Professional,
                attachments: vec![],
            })
            .await
            .unwrap();
        let (mut rx, _sub) = watch(&first, &room_id).await;
        let mut items = Vec::new();
        until_timeline("the first message sent", &mut rx, &mut items, 60, |i| holds(i, &["Voor de verificatie"])).await;
        first.client().encryption().backups().wait_for_steady_state().await.expect("backup upload");

        let (incoming_sink, mut incoming) = steps();
        let _incoming = first.watch_verification_requests(incoming_sink);

        // The new device asks; the first device sees who asks and accepts.
        let p2 = Profile::new("sas-lead-2");
        let second = p2.login(&stack, &lead_user).await;
        let second_id = second.info().await.device_id;
        assert!(!second.device_trust().await.verified);
        let (sink, mut asking) = steps();
        let _asking = second.verify_this_device(sink).await.expect("request sent");
        step("the request being sent", &mut asking, |s| matches!(s, VerificationStep::Waiting { .. }).then_some(()))
            .await;
        let flow = step("the request at the first device", &mut incoming, |s| match s {
            VerificationStep::Requested { flow_id, device_id, .. } if *device_id == second_id => Some(flow_id.clone()),
            _ => None,
        })
        .await;
        let (sink, mut answering) = steps();
        let _answering = first.accept_verification(&flow, sink).await.expect("accepted");

        // Both show the same seven emoji; the person confirms on both.
        let on_second = step("emoji on the new device", &mut asking, emojis).await;
        let on_first = step("emoji on the first device", &mut answering, emojis).await;
        assert_eq!(on_second.len(), 7);
        assert_eq!(on_second, on_first, "both devices show the same emoji");
        first.confirm_verification(&flow, true).await.unwrap();
        second.confirm_verification(&flow, true).await.unwrap();
        for (what, rx) in [("done on the new device", &mut asking), ("done on the first device", &mut answering)] {
            step(what, rx, |s| match s {
                VerificationStep::Done { .. } => Some(()),
                VerificationStep::Cancelled { reason, .. } => panic!("cancelled: {reason}"),
                _ => None,
            })
            .await;
        }

        // Gossip brings the backup key: the history and the care team follow.
        let restored = second.finish_verification(Duration::from_secs(60)).await.expect("secrets by gossip");
        assert!(restored >= 1, "the care team's link came from the vault");
        eventually("the new device cross-signed", || async { second.device_trust().await.verified.then_some(()) })
            .await;
        assert_eq!(second.client_of(&team.space_id).await.unwrap(), client);
        let (mut rx2, _sub2) = watch(&second, &room_id).await;
        while !second.paginate_back(&room_id, 50).await.unwrap() {}
        let mut items = Vec::new();
        until_timeline("the history on the verified device", &mut rx2, &mut items, 60, |i| {
            holds(i, &["Voor de verificatie"])
        })
        .await;
        let listed = first.own_devices().await.unwrap();
        assert!(listed.iter().any(|d| d.device_id == second_id && d.verified), "{listed:?}");

        // A care team made on the first device while the second runs shows there without a restart.
        let other = crate::care_team::client("sas-live");
        let live = first.create_care_team(&other).await.unwrap();
        eventually("the live link on the second device", || async { second.client_of(&live.space_id).await.ok() })
            .await;
        assert_eq!(second.client_of(&live.space_id).await.unwrap(), other);

        // A third device whose emoji the person says differ: cancelled on both sides, still unverified.
        let p3 = Profile::new("sas-lead-3");
        let third = p3.login(&stack, &lead_user).await;
        let third_id = third.info().await.device_id;
        let (sink, mut asking) = steps();
        let _asking3 = third.verify_this_device(sink).await.expect("request sent");
        let flow = step("the third device's request", &mut incoming, |s| match s {
            VerificationStep::Requested { flow_id, device_id, .. } if *device_id == third_id => Some(flow_id.clone()),
            _ => None,
        })
        .await;
        let (sink, mut answering) = steps();
        let _answering3 = first.accept_verification(&flow, sink).await.expect("accepted");
        step("emoji on the first device", &mut answering, emojis).await;
        step("emoji on the third device", &mut asking, emojis).await;
        first.confirm_verification(&flow, false).await.unwrap();
        for (what, rx, by_this) in
            [("cancel at the first", &mut answering, true), ("cancel at the third", &mut asking, false)]
        {
            let by = step(what, rx, |s| match s {
                VerificationStep::Cancelled { by_this_device, mismatch, .. } => {
                    assert!(mismatch, "a mismatch, not a plain stop");
                    Some(*by_this_device)
                }
                VerificationStep::Done { .. } => panic!("a mismatch must not verify"),
                _ => None,
            })
            .await;
            assert_eq!(by, by_this, "{what}");
        }
        let err = third.confirm_verification(&flow, true).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::VerificationCancelled, "{err}");
        assert!(!third.device_trust().await.verified);
    })
    .await;
}

/// A lost phone: the person signs it out from another device. The signed-out
/// device notices at its next sync, wipes its stores and keychain entry and
/// reports `SignedOut`, and a restart finds no session.
#[tokio::test(flavor = "multi_thread")]
async fn a_device_signed_out_from_another_wipes_itself() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let user = stack.fresh_user("a", "lost").await;
        let (p1, p2) = (Profile::new("lost-1"), Profile::new("lost-2"));
        let desk = p1.login(&stack, &user).await;
        let phone = p2.login(&stack, &user).await;
        let (desk_id, phone_id) = (desk.info().await.device_id, phone.info().await.device_id);
        let team = phone.create_care_team(&client("lost")).await.unwrap();

        let listed = desk.own_devices().await.unwrap();
        assert_eq!(listed.first().map(|d| (d.device_id.clone(), d.this_device)), Some((desk_id.clone(), true)));
        assert!(listed.iter().any(|d| d.device_id == phone_id && !d.this_device), "{listed:?}");

        // Bad input first: this device, an unknown device, a wrong password.
        let pw = kring_core::Reauth::Password;
        assert_eq!(
            desk.sign_out_device(&desk_id, pw(&user.password)).await.unwrap_err().code(),
            ErrorCode::UnknownDevice
        );
        assert_eq!(
            desk.sign_out_device("NOSUCHDEV", pw(&user.password)).await.unwrap_err().code(),
            ErrorCode::UnknownDevice
        );
        assert_eq!(
            desk.sign_out_device(&phone_id, pw("not the password")).await.unwrap_err().code(),
            ErrorCode::WrongCredentials
        );

        let (tx, mut status) = mpsc::unbounded_channel();
        let _sync = phone.watch_sync(Box::new(move |s| tx.send(s).is_ok()));
        desk.sign_out_device(&phone_id, pw(&user.password)).await.expect("signed out");
        assert!(desk.own_devices().await.unwrap().iter().all(|d| d.device_id != phone_id));

        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        loop {
            match tokio::time::timeout_at(deadline, status.recv()).await {
                Ok(Some(kring_core::SyncStatus::SignedOut)) => break,
                Ok(Some(_)) => {}
                other => panic!("the phone never noticed it was signed out: {other:?}"),
            }
        }
        let stores = p2.dir.path().join("profiles").join(&p2.name).join("matrix");
        assert!(!stores.exists(), "the SDK's stores are wiped");
        assert!(kring_core::SecretStore::load(&*p2.secrets, &p2.name).unwrap().is_none(), "the keychain entry is gone");
        assert_eq!(phone.client_of(&team.space_id).await.unwrap_err().code(), ErrorCode::NotACareTeam);
        drop(phone);
        let again = Session::restore(p2.dir.path(), p2.secrets.clone(), &p2.name).await.unwrap();
        assert!(again.is_none(), "a restart shows the login");
        // The desk keeps working.
        let left = desk.own_devices().await.unwrap();
        assert!(left.iter().any(|d| d.this_device) && left.iter().all(|d| d.device_id != phone_id), "{left:?}");
    })
    .await;
}

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
    eventually("the invite", || async {
        nurse.care_team_invites().await.unwrap().into_iter().find(|i| i.space_id == team.space_id)
    })
    .await;
    nurse.accept_care_team_invite(&team.space_id).await.unwrap();
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
