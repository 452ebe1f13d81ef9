//! Recovery: set up once per account, on its first device, and used by every
//! later device to take over the account's keys and history.
//!
//! `Recovery::enable` puts the cross-signing keys and the key-backup key into
//! secret storage, sealed with a recovery key that is shown to the user once.
//! A new device that is given that key (`recover`) imports them, signs itself,
//! downloads room keys from the backup as it meets messages it cannot read,
//! and restores the client links from the vault.

use matrix_sdk::encryption::{
    recovery::{RecoveryError, RecoveryState as SdkState},
    secret_storage::SecretStorageError,
};
use serde::Serialize;
use tracing::{info, warn};

use crate::{CoreError, Session};

/// The recovery key as the SDK formats it (twelve groups of four). Shown
/// once; never logged (the `Debug` is redacted) and wiped from memory on drop.
#[derive(Clone, Serialize, specta::Type)]
pub struct RecoveryKey(#[specta(type = String)] zeroize::Zeroizing<String>);

impl RecoveryKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryKey(..)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryState {
    /// Not known yet (the first sync has not answered).
    Unknown,
    /// Set up, and this device holds every secret.
    Enabled,
    /// This account has no recovery: offer to set it up.
    Disabled,
    /// Set up on another device, but this device lacks the secrets: verify it
    /// or enter the recovery key.
    Incomplete,
}

impl From<SdkState> for RecoveryState {
    fn from(s: SdkState) -> Self {
        match s {
            SdkState::Enabled => Self::Enabled,
            SdkState::Disabled => Self::Disabled,
            SdkState::Incomplete => Self::Incomplete,
            SdkState::Unknown => Self::Unknown,
        }
    }
}

/// What this device can read and prove, for the user and for support.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DeviceTrust {
    pub recovery: RecoveryState,
    /// This device is signed by the account's own cross-signing key, so the
    /// person's other devices and other people's clients trust it.
    pub verified: bool,
    /// Room keys go to, and come from, the server-side backup.
    pub backup_enabled: bool,
}

/// A wrong key fails the MAC check of the secret-storage key; a malformed
/// one fails to decode. Both mean "type it again".
fn recover_err(e: RecoveryError) -> CoreError {
    match e {
        RecoveryError::SecretStorage(SecretStorageError::SecretStorageKey(_)) => CoreError::RecoveryKeyWrong,
        RecoveryError::SecretStorage(SecretStorageError::MissingKeyInfo { .. }) => CoreError::RecoveryNotSetUp,
        RecoveryError::BackupExistsOnServer => CoreError::RecoveryAlreadySetUp,
        RecoveryError::Sdk(matrix_sdk::Error::Http(http)) => match CoreError::from_http(&http) {
            e @ (CoreError::HomeserverUnreachable(_) | CoreError::SessionLost) => e,
            other => CoreError::RecoveryFailed(other.to_string()),
        },
        other => CoreError::RecoveryFailed(other.to_string()),
    }
}

impl Session {
    /// This device's trust and the account's recovery, as the SDK knows them.
    pub async fn device_trust(&self) -> DeviceTrust {
        let encryption = self.client.encryption();
        let _ = encryption.wait_for_e2ee_initialization_tasks().await;
        let verified = match encryption.get_own_device().await {
            Ok(Some(device)) => device.is_cross_signed_by_owner(),
            _ => false,
        };
        DeviceTrust {
            recovery: encryption.recovery().state().into(),
            verified,
            backup_enabled: encryption.backups().are_enabled().await,
        }
    }

    /// Sets up recovery for the account and returns the recovery key, which
    /// the user keeps. Waits until the room keys this device has are in the
    /// backup, so a device that recovers a moment later reads everything.
    pub async fn enable_recovery(&self) -> Result<RecoveryKey, CoreError> {
        let encryption = self.client.encryption();
        let _ = encryption.wait_for_e2ee_initialization_tasks().await;
        if encryption.recovery().state() == SdkState::Incomplete {
            return Err(CoreError::RecoveryAlreadySetUp);
        }
        let key = encryption.recovery().enable().wait_for_backups_to_upload().await.map_err(recover_err)?;
        self.ensure_vault().await?;
        self.audit("enable_recovery", None).await;
        info!("recovery set up for this account");
        Ok(RecoveryKey(key.into()))
    }

    /// Takes over the account's keys with the recovery key: this device is
    /// verified afterwards, reads the history from the key backup, and knows
    /// the account's care teams again. A wrong key changes nothing.
    pub async fn recover(&self, recovery_key: &str) -> Result<(), CoreError> {
        let encryption = self.client.encryption();
        let _ = encryption.wait_for_e2ee_initialization_tasks().await;
        encryption.recovery().recover(recovery_key.trim()).await.map_err(recover_err)?;
        self.audit("recover", None).await;
        match self.restore_client_links().await {
            Ok(n) => info!(links = n, "care-team links restored from the vault"),
            // The device is recovered; the links come at the next start.
            Err(e) => warn!("care-team links not restored yet: {e}"),
        }
        Ok(())
    }
}
