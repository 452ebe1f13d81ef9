//! Signing in, restoring from the keychain, and the errors a user can act on.

use std::time::Duration;

use kring_core::{CoreError, ErrorCode, LoginRequest, SecretStore, Session};

use crate::stack::{Profile, Stack};

#[tokio::test(flavor = "multi_thread")]
async fn login_then_restore_from_the_keychain_without_a_password() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let user = stack.practitioner("a", 0);
        let profile = Profile::new("restore");
        let session = profile.login(&stack, &user).await;
        let info = session.info().await;
        assert_eq!(info.user_id, user.mxid);
        assert!(!info.device_id.is_empty());
        session.stop().await;
        drop(session);

        let stored = profile.secrets.load(&profile.name).unwrap().expect("session kept in the keychain");
        assert_eq!(stored.session.meta.user_id.as_str(), user.mxid);
        assert_eq!(stored.store_passphrase.len(), 64);

        let restored = Session::restore(profile.dir.path(), profile.secrets.clone(), &profile.name)
            .await
            .unwrap()
            .expect("a stored session");
        let again = restored.info().await;
        assert_eq!(again.user_id, info.user_id);
        assert_eq!(again.device_id, info.device_id, "restore must reuse the device, not make a new one");
        assert!(restored.wait_until_synced(Duration::from_secs(30)).await, "sync did not start");

        restored.logout().await.unwrap();
        assert!(profile.secrets.load(&profile.name).unwrap().is_none(), "logout leaves no secret");
        assert!(Session::restore(profile.dir.path(), profile.secrets.clone(), &profile.name).await.unwrap().is_none());
        // Signing in again on this device works: the new key replaces the old one.
        let again = profile.login(&stack, &user).await;
        assert!(again.care_teams().await.unwrap().is_empty());
        again.logout().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_reported_as_such_and_nothing_is_stored() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let user = stack.practitioner("a", 0);
        let profile = Profile::new("wrongpw");
        let request = LoginRequest {
            homeserver: stack.homeserver("a").base_url.clone(),
            username: user.localpart.clone(),
            password: format!("{}-wrong", user.password),
        };
        let err = Session::login(profile.dir.path(), profile.secrets.clone(), &profile.name, &request)
            .await
            .err()
            .expect("login must fail");
        assert_eq!(err.code(), ErrorCode::WrongCredentials, "{err}");
        assert!(profile.secrets.load(&profile.name).unwrap().is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_or_invalid_homeserver_is_named_clearly() {
    crate::stack::bounded(async {
        let profile = Profile::new("unreachable");
        // Port 9 (discard) is closed on loopback.
        let request =
            LoginRequest { homeserver: "http://127.0.0.1:9".into(), username: "nobody".into(), password: "x".into() };
        let err =
            Session::login(profile.dir.path(), profile.secrets.clone(), &profile.name, &request).await.err().unwrap();
        assert_eq!(err.code(), ErrorCode::HomeserverUnreachable, "{err}");

        let request = LoginRequest { homeserver: "not a url".into(), ..request };
        let err =
            Session::login(profile.dir.path(), profile.secrets.clone(), &profile.name, &request).await.err().unwrap();
        assert!(matches!(err, CoreError::InvalidHomeserver(_)), "{err}");
    })
    .await;
}

/// Quitting right after signing in must return: the SDK's SyncService::stop
/// can wait forever when the first sync is still being set up.
#[tokio::test(flavor = "multi_thread")]
async fn stopping_right_after_sign_in_returns() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let user = stack.practitioner("a", 1);
        for round in 0..3 {
            let profile = Profile::new(&format!("quickstop{round}"));
            let session = profile.login(&stack, &user).await;
            let started = std::time::Instant::now();
            session.stop().await;
            assert!(started.elapsed() < Duration::from_secs(10), "stop took {:?}", started.elapsed());
            session.logout().await.unwrap();
        }
    })
    .await;
}

/// A refreshed access token reaches the keychain at once: a crash right after
/// a refresh must not leave the old, now revoked, token behind.
#[tokio::test(flavor = "multi_thread")]
async fn refreshed_tokens_are_saved_the_moment_they_change() {
    crate::stack::bounded(async {
        let stack = Stack::load();
        let user = stack.fresh_user("a", "refresh").await;
        let profile = Profile::new("refresh");
        let session = profile.login(&stack, &user).await;
        let before = profile.secrets.load(&profile.name).unwrap().expect("stored");
        assert!(before.session.tokens.refresh_token.is_some(), "Synapse issues refresh tokens to Kring");

        session.client().refresh_access_token().await.expect("refresh");
        let current = session.client().access_token().expect("a token");
        assert_ne!(current, before.session.tokens.access_token);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let stored = profile.secrets.load(&profile.name).unwrap().expect("stored");
            if stored.session.tokens.access_token == current {
                assert_ne!(stored.session.tokens.refresh_token, before.session.tokens.refresh_token);
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the keychain still has the old token");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        session.stop().await;
        drop(session);

        // What the keychain holds is what the server accepts now.
        let restored = Session::restore(profile.dir.path(), profile.secrets.clone(), &profile.name)
            .await
            .unwrap()
            .expect("restored");
        let me = restored.client().whoami().await.expect("the refreshed token is accepted");
        assert_eq!(me.user_id.as_str(), user.mxid);
        restored.logout().await.unwrap();
    })
    .await;
}
