//! Every device of a person, against the real stack: recovery set up on the
//! first device, a second device (fresh data directory and keychain entry)
//! that takes over with the recovery key while the first is offline, and a
//! practitioner at the other organisation, invited later with a device made
//! after the messages, who reads a professional conversation's history.

use std::time::Duration;

use kring_core::{ConversationKind, ErrorCode, NewConversation, Notice, Role, Session, TimelineContent, TimelineItem};
use tokio::sync::mpsc;

use crate::{
    at_rest::assert_nothing_in_cleartext,
    care_team::{Batches, client, eventually, files, until_timeline},
    stack::{Profile, Stack},
};

pub(crate) fn bodies(items: &[TimelineItem]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match &i.content {
            TimelineContent::Message { body, .. } => Some(body.clone()),
            _ => None,
        })
        .collect()
}

pub(crate) fn undecryptable(items: &[TimelineItem]) -> usize {
    items.iter().filter(|i| matches!(i.content, TimelineContent::Notice { notice: Notice::Undecryptable })).count()
}

/// Everything in `expected` is in the timeline, sent, and nothing is undecryptable.
pub(crate) fn holds(items: &[TimelineItem], expected: &[&str]) -> bool {
    let got = bodies(items);
    undecryptable(items) == 0
        && expected.iter().all(|e| got.iter().any(|b| b.starts_with(e)))
        && items.iter().all(|i| !matches!(&i.content, TimelineContent::Message { event_id: None, .. }))
}

/// `member` accepts the invite to the care team `space_id` once it has synced.
pub(crate) async fn accept_when_invited(member: &Session, space_id: &str) {
    eventually("the care-team invite", || async {
        member.care_team_invites().await.unwrap().into_iter().find(|i| i.space_id == space_id)
    })
    .await;
    member.accept_care_team_invite(space_id).await.unwrap();
}

pub(crate) async fn watch(session: &Session, room_id: &str) -> (Batches, kring_core::Subscription) {
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
        accept_when_invited(&gp, &team.space_id).await;
        let room_id = lead
            .start_conversation(&NewConversation {
                space_id: team.space_id.clone(),
                subject: "Herstel".into(),
                body: "Eerste bericht met foto".into(),
                recipients: vec![gp_user.mxid.clone()],
                kind: ConversationKind::Professional,
                attachments: files("rec", 1),
                sensitive: false,
            })
            .await
            .unwrap();
        eventually("the conversation at B", || async {
            gp.conversations(&team.space_id).await.ok()?.into_iter().find(|c| c.room_id == room_id)
        })
        .await;
        // The conversation's invite carries the client, as the care team's does (001 §4).
        assert_eq!(gp.invite_context_client(&room_id).await.unwrap(), Some(client.clone()));
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
        assert!(rooms.iter().all(|r| r.room_id != team.space_id), "a care team's space is no conversation");

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
        accept_when_invited(&gp, &team.space_id).await;
        let room_id = lead
            .start_conversation(&NewConversation {
                space_id: team.space_id.clone(),
                subject: "Overdracht".into(),
                body: "Bericht 1".into(),
                recipients: vec![gp_user.mxid.clone()],
                kind: ConversationKind::Professional,
                attachments: vec![],
                sensitive: false,
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
        accept_when_invited(&late, &team.space_id).await;
        lead.add_to_conversation(&room_id, &late_user.mxid).await.unwrap();
        eventually("the conversation invite at B", || async {
            late.conversations(&team.space_id).await.ok()?.into_iter().find(|c| c.room_id == room_id)
        })
        .await;
        // Added later, the invite still carries the client.
        let linked = late.invite_context_client(&room_id).await.unwrap().expect("the invite context");
        assert_eq!(linked.display_name, late.client_of(&team.space_id).await.unwrap().display_name);
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
        for member in [&nurse, &carer] {
            accept_when_invited(member, &team.space_id).await;
        }
        let room_id = lead
            .start_conversation(&NewConversation {
                space_id: team.space_id.clone(),
                subject: "Thuissituatie".into(),
                body: "Voor de uitnodiging 1".into(),
                recipients: vec![nurse_user.mxid.clone()],
                kind: ConversationKind::ClientInclusive,
                attachments: vec![],
                sensitive: false,
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
