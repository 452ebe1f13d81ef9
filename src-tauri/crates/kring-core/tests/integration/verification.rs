//! A new device verified by the person's other device (emoji), and a lost
//! device signed out from another one, against the real stack.

use std::time::Duration;

use kring_core::{ConversationKind, ErrorCode, NewConversation, Role, Session, VerificationEmoji, VerificationStep};
use tokio::sync::mpsc;

use crate::{
    care_team::{client, eventually, files, until_timeline},
    devices::{accept_when_invited, holds, watch},
    stack::{Profile, Stack},
};

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
        accept_when_invited(&nurse, &team.space_id).await;
        let room_id = first
            .start_conversation(&NewConversation {
                space_id: team.space_id.clone(),
                subject: "Verificatie".into(),
                body: "Voor de verificatie geschreven".into(),
                recipients: vec![nurse_user.mxid.clone()],
                kind: ConversationKind::Professional,
                attachments: vec![],
                sensitive: false,
            })
            .await
            .unwrap();
        // The nurse answers with a file: others' messages and attachments must follow too.
        eventually("the conversation at the nurse", || async {
            nurse.conversations(&team.space_id).await.ok()?.into_iter().find(|c| c.room_id == room_id)
        })
        .await;
        nurse.join_conversation(&room_id).await.unwrap();
        nurse.send_message(&room_id, "Antwoord met foto", files("sas", 1), None, false).await.unwrap();
        let (mut rx, _sub) = watch(&first, &room_id).await;
        let mut items = Vec::new();
        until_timeline("both messages at the first device", &mut rx, &mut items, 60, |i| {
            holds(i, &["Voor de verificatie", "Antwoord met foto"])
        })
        .await;
        let answer = items
            .iter()
            .find_map(|i| match &i.content {
                kring_core::TimelineContent::Message { body, event_id, .. } if body.starts_with("Antwoord") => {
                    event_id.clone()
                }
                _ => None,
            })
            .unwrap();
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
        // The link comes from the vault: read here, or already by the live handler once the keys came.
        second.finish_verification(Duration::from_secs(60)).await.expect("secrets by gossip");
        eventually("the new device cross-signed", || async { second.device_trust().await.verified.then_some(()) })
            .await;
        assert_eq!(second.client_of(&team.space_id).await.unwrap(), client);
        let (mut rx2, _sub2) = watch(&second, &room_id).await;
        while !second.paginate_back(&room_id, 50).await.unwrap() {}
        let mut items = Vec::new();
        until_timeline("the history on the verified device", &mut rx2, &mut items, 60, |i| {
            holds(i, &["Voor de verificatie", "Antwoord met foto"])
        })
        .await;
        let file = second.attachment_content(&room_id, &answer, 0).await.expect("the nurse's file on the new device");
        assert_eq!(file.data, files("sas", 1)[0].data);
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

        // The person stops a verification on the new device ("Stoppen"): a plain stop, no mismatch.
        let (sink, mut asking) = steps();
        let _asking4 = third.verify_this_device(sink).await.expect("request sent again");
        let flow = step("the third device's second request", &mut incoming, |s| match s {
            VerificationStep::Requested { flow_id, device_id, .. } if *device_id == third_id => Some(flow_id.clone()),
            _ => None,
        })
        .await;
        let (sink, mut answering) = steps();
        let _answering4 = first.accept_verification(&flow, sink).await.expect("accepted");
        step("emoji on the third device", &mut asking, emojis).await;
        third.cancel_verification(&flow).await.unwrap();
        for (what, rx, by_this) in
            [("stop at the third", &mut asking, true), ("stop at the first", &mut answering, false)]
        {
            let (by, mismatch) = step(what, rx, |s| match s {
                VerificationStep::Cancelled { by_this_device, mismatch, .. } => Some((*by_this_device, *mismatch)),
                VerificationStep::Done { .. } => panic!("a stopped verification must not verify"),
                _ => None,
            })
            .await;
            assert_eq!((by, mismatch), (by_this, false), "{what}");
        }
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
