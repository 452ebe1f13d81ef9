//! Secrets live in the OS keychain, never in plain files: the Matrix access
//! token, the device and the passphrase of the SDK's encrypted sqlite stores.

use std::fmt;

use matrix_sdk::authentication::matrix::MatrixSession;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::CoreError;

/// Everything needed to restore a session without asking the user anything.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredSession {
    pub homeserver: String,
    /// User, device and tokens; the same fields for both login APIs.
    pub session: MatrixSession,
    /// Set when the session came from the homeserver's OAuth 2.0 API
    /// (MSC3861): the client id it registered, needed to refresh tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_client_id: Option<String>,
    /// Random passphrase encrypting the SDK's sqlite stores on disk.
    pub store_passphrase: Zeroizing<String>,
    /// The app lock's PIN, as a salted PBKDF2 hash (`compliance::app_lock`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_lock_pin: Option<Zeroizing<String>>,
}

impl StoredSession {
    /// What the SDK's client is restored with.
    pub fn auth_session(&self) -> matrix_sdk::AuthSession {
        use matrix_sdk::authentication::oauth::{ClientId, OAuthSession, UserSession};
        match &self.oauth_client_id {
            None => matrix_sdk::AuthSession::Matrix(self.session.clone()),
            Some(id) => matrix_sdk::AuthSession::OAuth(Box::new(OAuthSession {
                client_id: ClientId::new(id.clone()),
                user: UserSession { meta: self.session.meta.clone(), tokens: self.session.tokens.clone() },
            })),
        }
    }

    /// The parts to keep of a live SDK session.
    pub fn parts_of(auth: matrix_sdk::AuthSession) -> Option<(MatrixSession, Option<String>)> {
        match auth {
            matrix_sdk::AuthSession::Matrix(s) => Some((s, None)),
            matrix_sdk::AuthSession::OAuth(s) => {
                let s = *s;
                Some((MatrixSession { meta: s.user.meta, tokens: s.user.tokens }, Some(s.client_id.to_string())))
            }
            _ => None,
        }
    }
}

impl fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The access token and passphrase are never printed.
        f.debug_struct("StoredSession")
            .field("homeserver", &self.homeserver)
            .field("user_id", &self.session.meta.user_id)
            .field("device_id", &self.session.meta.device_id)
            .finish_non_exhaustive()
    }
}

/// Where a session is kept between runs. The keychain is the only production
/// implementation; the trait keeps the core free of platform details.
pub trait SecretStore: Send + Sync {
    fn load(&self, profile: &str) -> Result<Option<StoredSession>, CoreError>;
    fn save(&self, profile: &str, session: &StoredSession) -> Result<(), CoreError>;
    fn delete(&self, profile: &str) -> Result<(), CoreError>;
}

/// The OS keychain through the `keyring` crate: macOS Keychain, Windows
/// Credential Manager; on Linux the desktop's Secret Service (GNOME Keyring,
/// KWallet), or the kernel keyutils store where no session bus offers one.
#[derive(Clone, Debug)]
pub struct KeyringSecretStore {
    service: String,
}

/// Which Linux keychain holds the secrets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinuxKeychain {
    /// Persistent, unlocked with the desktop login.
    SecretService,
    /// The kernel's session keyring: gone after a reboot (CI, headless servers).
    Keyutils,
}

/// `KRING_KEYCHAIN=secret-service|keyutils` forces a store (and its errors);
/// otherwise the Secret Service when a session bus answers, else keyutils.
pub fn choose_linux_keychain(
    forced: Option<&str>,
    bus: bool,
    secret_service_answers: impl FnOnce() -> bool,
) -> LinuxKeychain {
    match forced {
        Some("secret-service") => LinuxKeychain::SecretService,
        Some("keyutils") => LinuxKeychain::Keyutils,
        _ if bus && secret_service_answers() => LinuxKeychain::SecretService,
        _ => LinuxKeychain::Keyutils,
    }
}

#[cfg(target_os = "linux")]
fn linux_keychain() -> LinuxKeychain {
    static CHOICE: std::sync::OnceLock<LinuxKeychain> = std::sync::OnceLock::new();
    *CHOICE.get_or_init(|| {
        let forced = std::env::var("KRING_KEYCHAIN").ok();
        let bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
        let choice = choose_linux_keychain(forced.as_deref(), bus, || {
            // A lookup that finds nothing proves the service is there and unlocked enough to ask.
            keyring::secret_service::SsCredential::new_with_target(None, "nl.kring.app.probe", "probe")
                .map(|c| keyring::Entry::new_with_credential(Box::new(c)))
                .is_ok_and(|e| matches!(e.get_password(), Ok(_) | Err(keyring::Error::NoEntry)))
        });
        tracing::info!(keychain = ?choice, "Linux keychain chosen");
        choice
    })
}

impl KeyringSecretStore {
    pub fn new(service: impl Into<String>) -> Self {
        Self { service: service.into() }
    }

    #[cfg(target_os = "linux")]
    pub fn linux_keychain(&self) -> LinuxKeychain {
        linux_keychain()
    }

    fn entry(&self, profile: &str) -> Result<keyring::Entry, CoreError> {
        let err = |e: keyring::Error| CoreError::Keychain(e.to_string());
        #[cfg(target_os = "linux")]
        return Ok(match linux_keychain() {
            LinuxKeychain::SecretService => keyring::Entry::new_with_credential(Box::new(
                keyring::secret_service::SsCredential::new_with_target(None, &self.service, profile).map_err(err)?,
            )),
            LinuxKeychain::Keyutils => keyring::Entry::new_with_credential(Box::new(
                keyring::keyutils::KeyutilsCredential::new_with_target(None, &self.service, profile).map_err(err)?,
            )),
        });
        #[cfg(not(target_os = "linux"))]
        keyring::Entry::new(&self.service, profile).map_err(err)
    }
}

impl Default for KeyringSecretStore {
    fn default() -> Self {
        Self::new("nl.kring.app")
    }
}

impl SecretStore for KeyringSecretStore {
    fn load(&self, profile: &str) -> Result<Option<StoredSession>, CoreError> {
        match self.entry(profile)?.get_password() {
            Ok(json) => {
                let json = Zeroizing::new(json);
                serde_json::from_str(&json)
                    .map(Some)
                    .map_err(|e| CoreError::Keychain(format!("stored session unreadable: {e}")))
            }
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(CoreError::Keychain(e.to_string())),
        }
    }

    fn save(&self, profile: &str, session: &StoredSession) -> Result<(), CoreError> {
        let json = Zeroizing::new(serde_json::to_string(session).map_err(|e| CoreError::Internal(e.to_string()))?);
        self.entry(profile)?.set_password(&json).map_err(|e| CoreError::Keychain(e.to_string()))
    }

    fn delete(&self, profile: &str) -> Result<(), CoreError> {
        match self.entry(profile)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(CoreError::Keychain(e.to_string())),
        }
    }
}

/// A fresh random passphrase for the SDK stores (32 bytes of OS randomness, hex).
pub(crate) fn new_store_passphrase() -> Zeroizing<String> {
    use rand::RngCore;
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(bytes.as_mut());
    Zeroizing::new(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_uses_the_secret_service_when_it_answers_and_keyutils_otherwise() {
        assert_eq!(choose_linux_keychain(None, true, || true), LinuxKeychain::SecretService);
        assert_eq!(choose_linux_keychain(None, true, || false), LinuxKeychain::Keyutils);
        assert_eq!(choose_linux_keychain(None, false, || panic!("no bus, no probe")), LinuxKeychain::Keyutils);
        assert_eq!(choose_linux_keychain(Some("keyutils"), true, || true), LinuxKeychain::Keyutils);
        assert_eq!(choose_linux_keychain(Some("secret-service"), false, || false), LinuxKeychain::SecretService);
    }

    /// The real Secret Service: scripts/test runs this under `dbus-run-session`
    /// with an unlocked gnome-keyring and `KRING_TEST_SECRET_SERVICE=1`.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_session_survives_in_the_secret_service() {
        if std::env::var_os("KRING_TEST_SECRET_SERVICE").is_none() {
            return eprintln!("KRING_TEST_SECRET_SERVICE not set: skipped (scripts/test sets it)");
        }
        let store = KeyringSecretStore::new("nl.kring.test.secret-service");
        assert_eq!(store.linux_keychain(), LinuxKeychain::SecretService, "the session bus offers a Secret Service");
        let profile = format!("p{}", std::process::id());
        let session: StoredSession = serde_json::from_value(serde_json::json!({
            "homeserver": "http://127.0.0.1:1/",
            "session": {"user_id": "@a:b", "device_id": "DEV", "access_token": "tok"},
            "store_passphrase": "p".repeat(64),
        }))
        .unwrap();
        assert!(store.load(&profile).unwrap().is_none());
        store.save(&profile, &session).unwrap();
        // A second store object (as after a restart) reads it from the service.
        let again = KeyringSecretStore::new("nl.kring.test.secret-service").load(&profile).unwrap().expect("kept");
        assert_eq!(again.session.tokens.access_token, "tok");
        assert_eq!(*again.store_passphrase, "p".repeat(64));
        store.delete(&profile).unwrap();
        assert!(store.load(&profile).unwrap().is_none());
    }

    #[test]
    fn an_oauth_session_is_kept_and_restored_as_one() {
        let stored: StoredSession = serde_json::from_value(serde_json::json!({
            "homeserver": "https://hs/",
            "session": {"user_id": "@a:b", "device_id": "DEV", "access_token": "at", "refresh_token": "rt"},
            "oauth_client_id": "client-1",
            "store_passphrase": "p",
        }))
        .unwrap();
        let matrix_sdk::AuthSession::OAuth(oauth) = stored.auth_session() else { panic!("not OAuth") };
        assert_eq!(oauth.client_id.as_str(), "client-1");
        assert_eq!(oauth.user.tokens.refresh_token.as_deref(), Some("rt"));
        let (session, id) = StoredSession::parts_of(matrix_sdk::AuthSession::OAuth(oauth)).unwrap();
        assert_eq!((session.meta.device_id.as_str(), id.as_deref()), ("DEV", Some("client-1")));
        // Sessions kept before OAuth support have no client id: Matrix login.
        let old: StoredSession = serde_json::from_value(serde_json::json!({
            "homeserver": "https://hs/", "session": {"user_id": "@a:b", "device_id": "D", "access_token": "t"},
            "store_passphrase": "p"}))
        .unwrap();
        assert!(matches!(old.auth_session(), matrix_sdk::AuthSession::Matrix(_)));
    }

    #[test]
    fn passphrases_are_long_and_unique() {
        let a = new_store_passphrase();
        let b = new_store_passphrase();
        assert_eq!(a.len(), 64);
        assert_ne!(*a, *b);
    }
}
