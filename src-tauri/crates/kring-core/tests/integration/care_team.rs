//! UC2, UC3, UC5, UC6 against two federating homeservers: a care team that
//! spans both organisations, the client travelling only in the invite, and
//! conversations with a subject, recipients, type and shared status.

use std::{future::Future, time::Duration};

use kring_core::{
    AttachmentKind, ClientRef, ConversationKind, ConversationStatus, ErrorCode, NewAttachment, NewConversation, Role,
    Session, TimelineContent,
};
use matrix_sdk::ruma::{UserId, events::MessageLikeEventType};
use tokio::sync::mpsc;

use crate::stack::{Profile, Stack, User};

/// Polls until `check` yields a value (sync takes a moment across federation).
pub(crate) async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, mut check: impl FnMut() -> F) -> T {
    for _ in 0..150 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

pub(crate) type Batches = mpsc::UnboundedReceiver<Vec<kring_core::ListDiff<kring_core::TimelineItem>>>;

/// Applies timeline batches until `done` holds. On timeout it fails with what
/// the timeline did hold, so a CI log tells an undecryptable message (key not
/// shared) from one that never arrived (federation).
pub(crate) async fn until_timeline(
    what: &str,
    rx: &mut Batches,
    items: &mut Vec<kring_core::TimelineItem>,
    secs: u64,
    done: impl Fn(&[kring_core::TimelineItem]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !done(items) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(batch)) => batch.into_iter().for_each(|d| d.apply(items)),
            _ => {
                let seen: Vec<String> = items
                    .iter()
                    .map(|i| match &i.content {
                        TimelineContent::Message { body, .. } => {
                            format!("message {:?}", body.chars().take(20).collect::<String>())
                        }
                        TimelineContent::Notice { notice } => format!("{notice:?}"),
                        other => format!("{:?}", std::mem::discriminant(other)),
                    })
                    .collect();
                panic!("timed out after {secs} s waiting for {what}; the timeline held: {seen:#?}");
            }
        }
    }
}

pub(crate) fn client(tag: &str) -> ClientRef {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000;
    ClientRef { display_name: format!("Mw. J. Kok ({tag})"), pseudo_bsn: format!("9{n:010}") }
}

/// The raw current state of a room as one homeserver serves it.
pub(crate) async fn current_state(stack: &Stack, org: &str, session: &Session, room_id: &str) -> String {
    let url = format!("{}/_matrix/client/v3/rooms/{room_id}/state", stack.homeserver(org).base_url);
    let token = session.client().access_token().unwrap();
    let response = matrix_sdk::reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap();
    assert!(response.status().is_success());
    response.text().await.unwrap()
}

struct Team {
    lead: Session,
    gp: Session,
    lead_user: User,
    gp_user: User,
    space_id: String,
    client: ClientRef,
    _profiles: (Profile, Profile),
}

/// A lead at organisation A with a GP of organisation B in the care team.
async fn team(stack: &Stack, tag: &str) -> Team {
    let (lead_user, gp_user) = (stack.fresh_user("a", "lead").await, stack.fresh_user("b", "gp").await);
    let (pa, pb) = (Profile::new(&format!("{tag}-lead")), Profile::new(&format!("{tag}-gp")));
    let lead = pa.login(stack, &lead_user).await;
    let gp = pb.login(stack, &gp_user).await;
    let client = client(tag);
    let team = lead.create_care_team(&client).await.expect("create care team");
    lead.invite_to_care_team(&team.space_id, &gp_user.mxid, Role::Practitioner).await.expect("invite");
    let invite = eventually("the invite at B", || async {
        gp.care_team_invites().await.unwrap().into_iter().find(|i| i.space_id == team.space_id)
    })
    .await;
    assert_eq!(invite.client, client, "the invite context must arrive intact over federation");
    assert_eq!(invite.inviter.as_deref(), Some(lead_user.mxid.as_str()));
    let joined = gp.accept_care_team_invite(&team.space_id).await.expect("accept");
    assert_eq!(joined.client_name, client.display_name);
    Team { lead, gp, lead_user, gp_user, space_id: team.space_id, client, _profiles: (pa, pb) }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_care_team_spans_both_organisations_and_the_client_travels_only_in_the_invite() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let t = team(&stack, "ct").await;

        // B's Kring now shows the space under the client, from its own database.
        assert_eq!(t.gp.client_of(&t.space_id).await.unwrap(), t.client);
        assert!(t.gp.care_teams().await.unwrap().iter().any(|c| c.space_id == t.space_id));

        let members = eventually("B's join seen at A", || async {
            let m = t.lead.care_team_members(&t.space_id).await.unwrap();
            m.iter().any(|m| m.user_id == t.gp_user.mxid && m.joined).then_some(m)
        })
        .await;
        let role = |u: &str| members.iter().find(|m| m.user_id == u).map(|m| m.role);
        assert_eq!(role(&t.lead_user.mxid), Some(Role::Lead));
        assert_eq!(role(&t.gp_user.mxid), Some(Role::Practitioner));

        // Neither homeserver holds the client's identity in the space's current state.
        // (The join's clean-up reaches A over federation a moment later.)
        for (org, session) in [("a", &t.lead), ("b", &t.gp)] {
            let mut leaks = Vec::new();
            for _ in 0..50 {
                let state = current_state(&stack, org, session, &t.space_id).await;
                assert!(state.contains("m.space"));
                let events: Vec<serde_json::Value> = serde_json::from_str(&state).unwrap();
                leaks = events
                    .into_iter()
                    .filter(|e| {
                        let text = e.to_string();
                        text.contains(&t.client.pseudo_bsn) || text.contains("Kok")
                    })
                    .collect();
                if leaks.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            assert!(leaks.is_empty(), "client identity in {org}'s current state: {leaks:#?}");
        }
        // Inviting into a care team needs a care team: a plain room is refused.
        let err = t.gp.invite_to_care_team("!nietbestaand:localhost", &t.lead_user.mxid, Role::Practitioner).await;
        assert_eq!(err.unwrap_err().code(), ErrorCode::UnknownRoom);
    })
    .await;
}

/// Applies care networks from a watch until `done` holds; on timeout it
/// fails with the participants it last saw.
async fn until_network(
    what: &str,
    rx: &mut mpsc::UnboundedReceiver<kring_core::CareNetwork>,
    last: &mut Option<kring_core::CareNetwork>,
    done: impl Fn(&kring_core::CareNetwork) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !last.as_ref().is_some_and(&done) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(network)) => *last = Some(network),
            _ => {
                let seen: Vec<_> =
                    last.iter().flat_map(|n| &n.participants).map(|p| (&p.user_id, p.role, p.joined)).collect();
                panic!("the watched care network never showed {what}; it last held {seen:?}");
            }
        }
    }
}

/// The watched network follows membership as sync brings it, not on a
/// timer: invite, join, role change and leave each show (the directory
/// refresh comes only every five minutes, far past this test's bounds).
#[tokio::test(flavor = "multi_thread")]
async fn the_watched_care_network_follows_membership_as_it_syncs() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let (lead_user, gp_user) = (stack.fresh_user("a", "lead").await, stack.fresh_user("b", "gp").await);
        let (pa, pb) = (Profile::new("cnw-lead"), Profile::new("cnw-gp"));
        let lead = std::sync::Arc::new(pa.login(&stack, &lead_user).await);
        let gp = pb.login(&stack, &gp_user).await;
        let team = lead.create_care_team(&client("cnw")).await.unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _watch =
            kring_core::watch_care_network(lead.clone(), team.space_id.clone(), Box::new(move |n| tx.send(n).is_ok()));
        let mut last = None;
        until_network("the lead alone", &mut rx, &mut last, |n| n.participants.len() == 1).await;
        // Let the first directory refresh pass: what follows can come only from sync.
        tokio::time::sleep(Duration::from_secs(1)).await;

        let gp_id = gp_user.mxid.as_str();
        let find = |n: &kring_core::CareNetwork| n.participants.iter().find(|p| p.user_id == gp_id).cloned();
        lead.invite_to_care_team(&team.space_id, gp_id, Role::Practitioner).await.unwrap();
        until_network("the GP invited", &mut rx, &mut last, |n| find(n).is_some_and(|p| !p.joined)).await;

        eventually("the invite at B", || async {
            gp.care_team_invites().await.unwrap().into_iter().find(|i| i.space_id == team.space_id)
        })
        .await;
        gp.accept_care_team_invite(&team.space_id).await.unwrap();
        until_network("the GP joined", &mut rx, &mut last, |n| find(n).is_some_and(|p| p.joined)).await;

        lead.set_care_team_role(&team.space_id, gp_id, Role::Senior).await.unwrap();
        until_network("the GP as senior", &mut rx, &mut last, |n| find(n).is_some_and(|p| p.role == Role::Senior))
            .await;

        let room =
            gp.client().get_room(<&matrix_sdk::ruma::RoomId>::try_from(team.space_id.as_str()).unwrap()).unwrap();
        room.leave().await.unwrap();
        until_network("the GP gone", &mut rx, &mut last, |n| find(n).is_none()).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conversation_is_validated_created_delivered_encrypted_and_archived() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let t = team(&stack, "conv").await;
        eventually("B joined", || async {
            let m = t.lead.care_team_members(&t.space_id).await.unwrap();
            m.iter().any(|m| m.user_id == t.gp_user.mxid && m.joined).then_some(())
        })
        .await;
        let outsider = stack.fresh_user("b", "outsider").await;
        let new = |subject: &str, recipients: Vec<String>| NewConversation {
            space_id: t.space_id.clone(),
            subject: subject.into(),
            body: "Graag een medicatiereview voor mevrouw, zie de lijst van de apotheek.".into(),
            recipients,
            kind: ConversationKind::Professional,
            attachments: vec![],
            sensitive: false,
        };

        // Refusals come before anything is sent: no room is created.
        let too_long = "x".repeat(51);
        for (request, code) in [
            (new(&too_long, vec![t.gp_user.mxid.clone()]), ErrorCode::SubjectTooLong),
            (new("", vec![t.gp_user.mxid.clone()]), ErrorCode::SubjectMissing),
            (new("Medicatiereview", vec![outsider.mxid.clone()]), ErrorCode::RecipientNotInCareTeam),
            (new("Medicatiereview", vec![]), ErrorCode::RecipientsMissing),
        ] {
            assert_eq!(t.lead.start_conversation(&request).await.unwrap_err().code(), code);
        }
        assert!(t.lead.conversations(&t.space_id).await.unwrap().is_empty());

        let subject = "Medicatiereview"; // the room's name
        let room_id = t.lead.start_conversation(&new(subject, vec![t.gp_user.mxid.clone()])).await.unwrap();

        // B is invited to the child room and joins it through Kring, which
        // also pushes the invite's client context out of the current state.
        eventually("B can join the conversation", || async { t.gp.join_conversation(&room_id).await.ok() }).await;
        let listed = eventually("the conversation in B's list", || async {
            t.gp.conversations(&t.space_id).await.unwrap().into_iter().find(|c| c.room_id == room_id)
        })
        .await;
        assert_eq!(listed.subject, subject);
        assert_eq!(listed.kind, ConversationKind::Professional);
        assert_eq!(listed.status, ConversationStatus::Active);

        // The first message arrives, encrypted on the wire and decrypted at B.
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _sub = t.gp.watch_timeline(&room_id, Box::new(move |b| tx.send(b).is_ok())).await.unwrap();
        let mut items = Vec::new();
        until_timeline("the first message at B", &mut rx, &mut items, 60, |items| {
            items.iter().any(|i| {
                matches!(&i.content, TimelineContent::Message { body, .. } if body.starts_with("Graag een medicatiereview"))
            })
        })
        .await;
        let gp_room = t.gp.client().get_room(<&matrix_sdk::ruma::RoomId>::try_from(room_id.as_str()).unwrap()).unwrap();
        assert!(gp_room.encryption_state().is_encrypted());

        // Each reply carries its sender's role and whether this user may
        // redact it: 001's levels let a practitioner (50) redact (redact: 50).
        let first = items
            .iter()
            .find_map(|i| match &i.content {
                TimelineContent::Message { body, sender_role, allow_destroy, event_id, .. }
                    if body.starts_with("Graag een medicatiereview") =>
                {
                    Some((*sender_role, *allow_destroy, event_id.clone().unwrap()))
                }
                _ => None,
            })
            .unwrap();
        assert_eq!((first.0, first.1), (Some(Role::Lead), true));
        t.gp.redact(&room_id, &first.2).await.expect("redact");
        until_timeline("the redaction at B", &mut rx, &mut items, 30, |items| {
            items.iter().any(|i| matches!(&i.content, TimelineContent::Redacted { event_id: Some(e), .. } if *e == first.2))
        })
        .await;

        // A practitioner (50) may not archive; the lead may, for everyone.
        assert_eq!(
            t.gp.set_conversation_status(&room_id, ConversationStatus::Archived).await.unwrap_err().code(),
            ErrorCode::NotPermitted
        );
        t.lead.set_conversation_status(&room_id, ConversationStatus::Archived).await.unwrap();
        let gp_id = UserId::parse(&t.gp_user.mxid).unwrap();
        eventually("archived at B, read-only", || async {
            let summary = t.gp.conversation(&room_id).await.unwrap();
            let pl = gp_room.power_levels().await.ok()?;
            (summary.status == ConversationStatus::Archived
                && !pl.user_can_send_message(&gp_id, MessageLikeEventType::RoomEncrypted))
            .then_some(())
        })
        .await;
        t.lead.set_conversation_status(&room_id, ConversationStatus::Active).await.unwrap();
        eventually("reopened at B", || async {
            let pl = gp_room.power_levels().await.ok()?;
            pl.user_can_send_message(&gp_id, MessageLikeEventType::RoomEncrypted).then_some(())
        })
        .await;

        // Raising the GP to senior (75) in the care team raises them in its
        // conversations too: now they may archive. The change is recorded.
        t.lead.set_care_team_role(&t.space_id, &t.gp_user.mxid, Role::Senior).await.unwrap();
        eventually("B senior in the conversation", || async {
            let pl = gp_room.power_levels().await.ok()?;
            (pl.for_user(&gp_id) == matrix_sdk::ruma::Int::from(75)).then_some(())
        })
        .await;
        t.gp.set_conversation_status(&room_id, ConversationStatus::Archived).await.unwrap();
        let audit = t.lead.audit_trail(10).await.unwrap();
        let changes: Vec<_> = audit.iter().filter(|e| e.kind == "set_role").collect();
        assert_eq!(changes.len(), 2, "space and conversation: {audit:?}");
        let expected = format!("{} practitioner -> senior", t.gp_user.mxid);
        assert!(changes.iter().all(|e| e.detail.as_deref() == Some(expected.as_str())), "{changes:?}");
        assert!(changes.iter().all(|e| e.action == "U"), "{changes:?}");
        assert!(changes.iter().any(|e| e.object.as_deref() == Some(room_id.as_str())));
        // Both for the same client: the care team's space, in the space and in its conversation.
        assert!(changes.iter().all(|e| e.client_ref.as_deref() == Some(t.space_id.as_str())), "{changes:?}");
        // Someone outside the care team has no role to change.
        let err = t.lead.set_care_team_role(&t.space_id, "@niemand:localhost", Role::Senior).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::RecipientNotInCareTeam);

        // The client's identity is in no conversation state either.
        let state = current_state(&stack, "b", &t.gp, &room_id).await;
        assert!(!state.contains(&t.client.pseudo_bsn));
        assert!(state.contains("nl.kring.conversation.status"));
    })
    .await;
}

/// UC6: a related person (mantelzorger, level 25) cannot be in a
/// professional-only conversation, and in a client-inclusive one can write:
/// encrypted messages are `m.room.encrypted`, which Kring puts at 25 too.
#[tokio::test(flavor = "multi_thread")]
async fn a_related_person_takes_part_only_in_client_inclusive_conversations() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let t = team(&stack, "uc6").await;
        let carer_user = stack.fresh_user("a", "mantelzorger").await;
        let pc = Profile::new("uc6-carer");
        let carer = pc.login(&stack, &carer_user).await;
        t.lead.invite_to_care_team(&t.space_id, &carer_user.mxid, Role::RelatedPerson).await.unwrap();
        eventually("the carer's invite", || async {
            carer.care_team_invites().await.unwrap().into_iter().find(|i| i.space_id == t.space_id)
        })
        .await;
        carer.accept_care_team_invite(&t.space_id).await.unwrap();
        eventually("the carer in the team at A", || async {
            let m = t.lead.care_team_members(&t.space_id).await.unwrap();
            m.iter().any(|m| m.user_id == carer_user.mxid && m.joined && m.role == Role::RelatedPerson).then_some(())
        })
        .await;

        let new = |kind| NewConversation {
            space_id: t.space_id.clone(),
            subject: "Zorgplan".into(),
            body: "Hoe gaat het thuis?".into(),
            recipients: vec![t.gp_user.mxid.clone(), carer_user.mxid.clone()],
            kind,
            attachments: vec![],
            sensitive: false,
        };
        let refused = t.lead.start_conversation(&new(ConversationKind::Professional)).await.unwrap_err();
        assert_eq!(refused.code(), ErrorCode::NotInProfessionalConversation);

        let room_id = t.lead.start_conversation(&new(ConversationKind::ClientInclusive)).await.unwrap();
        eventually("the carer joined", || async {
            match carer.join_conversation(&room_id).await {
                Ok(()) => carer.conversation(&room_id).await.ok(),
                Err(_) => None,
            }
        })
        .await;
        let summary = t.lead.conversation(&room_id).await.unwrap();
        assert_eq!(summary.kind, ConversationKind::ClientInclusive);

        // The carer (25) writes in the encrypted room and the lead reads it.
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _sub = t.lead.watch_timeline(&room_id, Box::new(move |b| tx.send(b).is_ok())).await.unwrap();
        carer.send_text(&room_id, "Het gaat goed, ze eet weer.").await.unwrap();
        let mut items = Vec::new();
        let carers = |items: &[kring_core::TimelineItem]| {
            items.iter().find_map(|i| match &i.content {
                TimelineContent::Message { body, sender_role, .. } if body == "Het gaat goed, ze eet weer." => {
                    Some(*sender_role)
                }
                _ => None,
            })
        };
        until_timeline("the carer's message at A", &mut rx, &mut items, 60, |items| carers(items).is_some()).await;
        assert_eq!(carers(&items), Some(Some(Role::RelatedPerson)));
        // And she may not archive (75).
        assert_eq!(
            carer.set_conversation_status(&room_id, ConversationStatus::Archived).await.unwrap_err().code(),
            ErrorCode::NotPermitted
        );

        // Adding someone later follows the same rules: the carer is refused
        // in a professional-only conversation, and joins a client-inclusive
        // one with her care-team level.
        let mut only_gp = new(ConversationKind::Professional);
        only_gp.recipients = vec![t.gp_user.mxid.clone()];
        let professional = t.lead.start_conversation(&only_gp).await.unwrap();
        let err = t.lead.add_to_conversation(&professional, &carer_user.mxid).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotInProfessionalConversation);
        let err = t.lead.add_to_conversation(&professional, "@buitenstaander:localhost").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::RecipientNotInCareTeam);
        only_gp.kind = ConversationKind::ClientInclusive;
        let inclusive = t.lead.start_conversation(&only_gp).await.unwrap();
        t.lead.add_to_conversation(&inclusive, &carer_user.mxid).await.unwrap();
        let joined = eventually("the carer added and joined", || async {
            carer.join_conversation(&inclusive).await.ok()?;
            carer.conversation(&inclusive).await.ok()
        })
        .await;
        let her = joined.participants.iter().find(|p| p.user_id == carer_user.mxid).unwrap();
        assert_eq!(her.role, Role::RelatedPerson);
        let audit = t.lead.audit_trail(5).await.unwrap();
        assert!(audit.iter().any(|e| e.kind == "add_to_conversation"
            && e.detail.as_deref() == Some(format!("{} as related_person", carer_user.mxid).as_str())));
        carer.stop().await;
    })
    .await;
}

/// A small PNG (1x1): an image the timeline must call an image.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d,
    0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

pub(crate) fn files(tag: &str, n: usize) -> Vec<NewAttachment> {
    (0..n)
        .map(|i| match i {
            0 => NewAttachment { filename: format!("wond-{tag}.png"), mime: None, data: PNG.to_vec() },
            _ => NewAttachment {
                filename: format!("verslag-{tag}-{i}.txt"),
                mime: None,
                data: format!("regel {i} van {tag}\n").repeat(100 * i).into_bytes(),
            },
        })
        .collect()
}

/// UC2/UC3: five files travel with the first message as one encrypted
/// event, arrive whole at the other organisation, decrypt byte for byte, and
/// a reply carries its own files back.
#[tokio::test(flavor = "multi_thread")]
async fn attachments_travel_whole_and_replies_carry_their_own() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let t = team(&stack, "files").await;
        eventually("B joined", || async {
            let m = t.lead.care_team_members(&t.space_id).await.unwrap();
            m.iter().any(|m| m.user_id == t.gp_user.mxid && m.joined).then_some(())
        })
        .await;
        let new = |attachments| NewConversation {
            space_id: t.space_id.clone(),
            subject: "Wondcontrole".into(),
            body: "Foto en verslagen van vandaag.".into(),
            recipients: vec![t.gp_user.mxid.clone()],
            kind: ConversationKind::Professional,
            attachments,
            sensitive: false,
        };
        // A sixth file is refused before anything is created.
        let err = t.lead.start_conversation(&new(files("x", 6))).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::TooManyAttachments);
        assert!(t.lead.conversations(&t.space_id).await.unwrap().is_empty());

        let sent = files("a", 5);
        let room_id = t.lead.start_conversation(&new(sent.clone())).await.unwrap();
        eventually("B joins the conversation", || async { t.gp.join_conversation(&room_id).await.ok() }).await;

        let (tx, mut rx) = mpsc::unbounded_channel();
        let _sub = t.gp.watch_timeline(&room_id, Box::new(move |b| tx.send(b).is_ok())).await.unwrap();
        let mut items = Vec::new();
        let first = |items: &[kring_core::TimelineItem]| {
            items.iter().find_map(|i| match &i.content {
                TimelineContent::Message { body, attachments, event_id: Some(e), .. }
                    if body == "Foto en verslagen van vandaag." =>
                {
                    Some((e.clone(), attachments.clone()))
                }
                _ => None,
            })
        };
        until_timeline("the first message with its files at B", &mut rx, &mut items, 60, |i| first(i).is_some()).await;
        let (event_id, attachments) = first(&items).unwrap();
        // Whole: the event that carries the text carries all five files.
        assert_eq!(attachments.len(), 5);
        assert_eq!(attachments[0].kind, AttachmentKind::Image);
        assert_eq!(attachments[0].mime.as_deref(), Some("image/png"));
        assert!(attachments[1..].iter().all(|a| a.kind == AttachmentKind::File));
        // A practitioner (50) may redact others' messages (redact: 50).
        assert!(attachments.iter().all(|a| a.allow_destroy));
        for (shown, original) in attachments.iter().zip(&sent) {
            assert_eq!(shown.filename, original.filename);
            assert_eq!(shown.size, Some(original.data.len() as f64));
            let content = t.gp.attachment_content(&room_id, &event_id, shown.index).await.unwrap();
            assert_eq!(content.data, original.data, "{} must decrypt byte for byte", shown.filename);
        }
        let err = t.gp.attachment_content(&room_id, &event_id, 5).await.err().unwrap();
        assert_eq!(err.code(), ErrorCode::AttachmentUnavailable);
        // On the wire it is one encrypted event, its files encrypted media.
        let gp_room = t.gp.client().get_room(<&matrix_sdk::ruma::RoomId>::try_from(room_id.as_str()).unwrap()).unwrap();
        assert!(gp_room.encryption_state().is_encrypted());

        // B answers with two files of its own; A sees them as a reply.
        let reply_files = files("b", 2);
        t.gp.send_message(&room_id, "Ziet er goed uit.", reply_files.clone(), Some(&event_id), false).await.unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _sub_a = t.lead.watch_timeline(&room_id, Box::new(move |b| tx.send(b).is_ok())).await.unwrap();
        let mut items_a = Vec::new();
        let reply = |items: &[kring_core::TimelineItem]| {
            items.iter().find_map(|i| match &i.content {
                TimelineContent::Message { body, attachments, in_reply_to, event_id: Some(e), .. }
                    if body == "Ziet er goed uit." =>
                {
                    Some((e.clone(), attachments.clone(), in_reply_to.clone()))
                }
                _ => None,
            })
        };
        until_timeline("B's reply with files at A", &mut rx, &mut items_a, 60, |i| reply(i).is_some()).await;
        let (reply_id, reply_attachments, in_reply_to) = reply(&items_a).unwrap();
        assert_eq!(in_reply_to.as_deref(), Some(event_id.as_str()));
        assert_eq!(reply_attachments.len(), 2);
        let content = t.lead.attachment_content(&room_id, &reply_id, 1).await.unwrap();
        assert_eq!(content.data, reply_files[1].data);
        assert_eq!(content.filename, reply_files[1].filename);
    })
    .await;
}

/// Applies a care list's batches until `done` holds; on timeout it fails
/// with how many entries it held.
async fn until_list<T>(
    what: &str,
    rx: &mut mpsc::UnboundedReceiver<Vec<kring_core::ListDiff<T>>>,
    list: &mut Vec<T>,
    done: impl Fn(&[T]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done(list) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(batch)) => batch.into_iter().for_each(|d| d.apply(list)),
            _ => panic!("the stream never showed {what}; it held {} entries", list.len()),
        }
    }
}

fn sink<T: Send + 'static>(tx: mpsc::UnboundedSender<T>) -> Box<dyn FnMut(T) -> bool + Send> {
    Box::new(move |batch| tx.send(batch).is_ok())
}

/// Care teams, invites, conversations and members cross as streams that
/// follow sync (issue 12): each change shows without anyone asking again.
#[tokio::test(flavor = "multi_thread")]
async fn the_care_lists_follow_sync_as_streams() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let (lead_user, gp_user) = (stack.fresh_user("a", "lead").await, stack.fresh_user("b", "gp").await);
        let (pa, pb) = (Profile::new("streams-lead"), Profile::new("streams-gp"));
        let lead = pa.login(&stack, &lead_user).await;
        let gp = std::sync::Arc::new(pb.login(&stack, &gp_user).await);
        let (teams_tx, mut teams_rx) = mpsc::unbounded_channel();
        let (invites_tx, mut invites_rx) = mpsc::unbounded_channel();
        let _teams = kring_core::watch_care_teams(gp.clone(), sink(teams_tx));
        let _invites = kring_core::watch_care_team_invites(gp.clone(), sink(invites_tx));
        let (mut teams, mut invites) = (Vec::new(), Vec::new());
        until_list("no care team yet", &mut teams_rx, &mut teams, |_| true).await;

        let team = lead.create_care_team(&client("streams")).await.unwrap();
        let space = team.space_id.clone();
        lead.invite_to_care_team(&space, &gp_user.mxid, Role::Practitioner).await.unwrap();
        until_list("the invite at B", &mut invites_rx, &mut invites, |i: &[kring_core::CareTeamInvite]| {
            i.iter().any(|i| i.space_id == space)
        })
        .await;
        gp.accept_care_team_invite(&space).await.unwrap();
        until_list("the team at B", &mut teams_rx, &mut teams, |t: &[kring_core::CareTeam]| {
            t.iter().any(|t| t.space_id == space)
        })
        .await;
        until_list("the invite gone", &mut invites_rx, &mut invites, |i: &[kring_core::CareTeamInvite]| {
            !i.iter().any(|i| i.space_id == space)
        })
        .await;

        let (conv_tx, mut conv_rx) = mpsc::unbounded_channel();
        let (members_tx, mut members_rx) = mpsc::unbounded_channel();
        let _conversations = kring_core::watch_conversations(gp.clone(), space.clone(), sink(conv_tx));
        let _members = kring_core::watch_care_team_members(gp.clone(), space.clone(), sink(members_tx));
        let (mut conversations, mut members) = (Vec::new(), Vec::new());
        let room = lead
            .start_conversation(&NewConversation {
                space_id: space.clone(),
                subject: "Stroom".into(),
                body: "Via de stream".into(),
                recipients: vec![gp_user.mxid.clone()],
                kind: ConversationKind::Professional,
                attachments: vec![],
                sensitive: false,
            })
            .await
            .unwrap();
        until_list(
            "the new conversation at B",
            &mut conv_rx,
            &mut conversations,
            |c: &[kring_core::ConversationSummary]| c.iter().any(|c| c.room_id == room),
        )
        .await;
        gp.join_conversation(&room).await.unwrap();
        lead.set_conversation_status(&room, ConversationStatus::Archived).await.unwrap();
        until_list(
            "the conversation archived",
            &mut conv_rx,
            &mut conversations,
            |c: &[kring_core::ConversationSummary]| {
                c.iter().any(|c| c.room_id == room && c.status == ConversationStatus::Archived)
            },
        )
        .await;
        lead.set_care_team_role(&space, &gp_user.mxid, Role::Senior).await.unwrap();
        until_list("the GP as senior", &mut members_rx, &mut members, |m: &[kring_core::Member]| {
            m.iter().any(|m| m.user_id == gp_user.mxid && m.role == Role::Senior)
        })
        .await;
    })
    .await;
}
