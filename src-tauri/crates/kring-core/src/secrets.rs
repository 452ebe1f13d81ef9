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
    pub session: MatrixSession,
    /// Random passphrase encrypting the SDK's sqlite stores on disk.
    pub store_passphrase: Zeroizing<String>,
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
/// Credential Manager, and on Linux the kernel keyutils store.
#[derive(Clone, Debug)]
pub struct KeyringSecretStore {
    service: String,
}

impl KeyringSecretStore {
    pub fn new(service: impl Into<String>) -> Self {
        Self { service: service.into() }
    }

    fn entry(&self, profile: &str) -> Result<keyring::Entry, CoreError> {
        keyring::Entry::new(&self.service, profile).map_err(|e| CoreError::Keychain(e.to_string()))
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
        let json = Zeroizing::new(
            serde_json::to_string(session).map_err(|e| CoreError::Internal(e.to_string()))?,
        );
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
    fn passphrases_are_long_and_unique() {
        let a = new_store_passphrase();
        let b = new_store_passphrase();
        assert_eq!(a.len(), 64);
        assert_ne!(*a, *b);
    }
}
