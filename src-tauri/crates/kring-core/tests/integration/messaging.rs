//! A message sent through the SDK's send queue arrives at a second user on
//! the other, federated homeserver.

use std::time::Duration;

use kring_core::{ErrorCode, ListDiff, SendState, TimelineContent, TimelineItem};
use matrix_sdk::ruma::{OwnedUserId, api::client::room::create_room::v3::Request as CreateRoomRequest};
use tokio::sync::mpsc;

use crate::stack::{Profile, Stack};

/// Collects a timeline stream into a list, like the UI does.
struct Watched {
    items: Vec<TimelineItem>,
    rx: mpsc::UnboundedReceiver<Vec<ListDiff<TimelineItem>>>,
}

impl Watched {
    async fn until(&mut self, what: &str, pred: impl Fn(&[TimelineItem]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
        while !pred(&self.items) {
            let batch = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}; have {:#?}", self.items))
                .expect("stream ended");
            batch.into_iter().for_each(|d| d.apply(&mut self.items));
        }
    }
}

fn has_message(items: &[TimelineItem], text: &str, state: Option<&SendState>) -> bool {
    items.iter().any(|i| match &i.content {
        TimelineContent::Message { body, send_state, .. } => body == text && state.is_none_or(|s| s == send_state),
        _ => false,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_reaches_a_colleague_on_the_federated_homeserver() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let alice_user = stack.fresh_user("a", "alice").await;
        let bob_user = stack.fresh_user("b", "bob").await;
        let (pa, pb) = (Profile::new("fed-a"), Profile::new("fed-b"));
        let alice = pa.login(&stack, &alice_user).await;
        let bob = pb.login(&stack, &bob_user).await;

        let mut request = CreateRoomRequest::new();
        request.name = Some("Foundation test".into());
        request.invite = vec![OwnedUserId::try_from(bob_user.mxid.as_str()).unwrap()];
        let room = alice.client().create_room(request).await.expect("create room");
        let room_id = room.room_id().to_owned();

        // Bob joins over federation (his server learns the room from the invite).
        let server = stack.homeserver("a").server_name.clone();
        let server = matrix_sdk::ruma::OwnedServerName::try_from(server).unwrap();
        let mut joined = None;
        for _ in 0..40 {
            let target: &matrix_sdk::ruma::RoomOrAliasId = (&*room_id).into();
            match bob.client().join_room_by_id_or_alias(target, std::slice::from_ref(&server)).await {
                Ok(room) => {
                    joined = Some(room);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
        joined.expect("bob could not join over federation");

        let (tx, rx) = mpsc::unbounded_channel();
        let _bob_sub =
            bob.watch_timeline(room_id.as_str(), Box::new(move |b| tx.send(b).is_ok())).await.expect("bob's timeline");
        let mut bob_view = Watched { items: Vec::new(), rx };

        let (tx, rx) = mpsc::unbounded_channel();
        let _alice_sub = alice
            .watch_timeline(room_id.as_str(), Box::new(move |b| tx.send(b).is_ok()))
            .await
            .expect("alice's timeline");
        let mut alice_view = Watched { items: Vec::new(), rx };
        alice_view.until("alice's initial timeline", |_| true).await;

        let text = format!("Overdracht mevrouw K., kamer 12 ({})", std::process::id());
        alice.send_text(room_id.as_str(), &text).await.expect("queued");
        // The local echo comes from the SDK's send queue, then turns into Sent.
        alice_view.until("alice's local echo", |items| has_message(items, &text, None)).await;
        alice_view.until("alice's message confirmed", |items| has_message(items, &text, Some(&SendState::Sent))).await;
        bob_view.until("the message at bob", |items| has_message(items, &text, Some(&SendState::Sent))).await;

        let received = bob_view
            .items
            .iter()
            .find_map(|i| match &i.content {
                TimelineContent::Message { body, sender, is_own, .. } if body == &text => {
                    Some((sender.clone(), *is_own))
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(received, (alice_user.mxid.clone(), false));
        alice.stop().await;
        bob.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sending_to_an_unknown_room_says_so() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let profile = Profile::new("unknown-room");
        let session = profile.login(&stack, &stack.practitioner("a", 1)).await;
        let err = session.send_text("!doesnotexist:localhost", "hallo").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnknownRoom);
        let err = session.send_text("not-a-room-id", "hallo").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnknownRoom);
        session.stop().await;
    })
    .await;
}
