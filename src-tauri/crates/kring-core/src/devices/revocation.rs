//! What a device does when its session changes under it: refreshed tokens
//! go to the keychain at once, and a device the homeserver signed out (from
//! another device, or by an administrator) wipes what it keeps locally.

use std::{path::PathBuf, sync::Arc, time::Duration};

use matrix_sdk::{Client, ruma::api::error::ErrorKind};
use matrix_sdk_ui::sync_service::SyncService;
use tracing::{debug, warn};

use crate::{CoreError, SecretStore, StoredSession};

/// What one profile keeps on this device: the keychain entry, the SDK's
/// stores and the client links in Kring's database.
#[derive(Clone)]
pub(crate) struct LocalData {
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) profile: String,
    pub(crate) store: kring_store::Store,
    pub(crate) store_dir: PathBuf,
}

impl LocalData {
    /// Removes every local trace of the session (the audit log stays).
    pub(crate) async fn wipe(&self) -> Result<(), CoreError> {
        self.secrets.delete(&self.profile)?;
        // Which client each care team is about is patient data: it leaves with the user.
        self.store.forget_client_links().await.map_err(|e| CoreError::Storage(e.to_string()))?;
        if self.store_dir.exists() {
            tokio::fs::remove_dir_all(&self.store_dir).await.map_err(|e| CoreError::Storage(e.to_string()))?;
        }
        Ok(())
    }
}

/// Saves refreshed tokens the moment they change, so a crash right after a
/// refresh does not leave a stale token in the keychain; and wipes the
/// device when the homeserver says it was signed out (not merely expired).
pub(crate) async fn follow_session_changes(
    client: Client,
    sync_service: Arc<SyncService>,
    local: LocalData,
    revoked: tokio::sync::watch::Sender<bool>,
) {
    use matrix_sdk::SessionChange;
    use tokio::sync::broadcast::error::RecvError;
    let save_tokens = || {
        let Some((session, _)) = client.session().and_then(StoredSession::parts_of) else { return };
        match local.secrets.load(&local.profile) {
            Ok(Some(mut stored)) => {
                stored.session = session;
                if let Err(e) = local.secrets.save(&local.profile, &stored) {
                    warn!("could not save refreshed tokens: {e}");
                }
            }
            Ok(None) => {}
            Err(e) => warn!("could not read the keychain: {e}"),
        }
    };
    let mut changes = client.subscribe_to_session_changes();
    loop {
        let check = match changes.recv().await {
            Ok(SessionChange::TokensRefreshed) => {
                save_tokens();
                false
            }
            // An expired token (soft logout) keeps the device: sign in again.
            Ok(SessionChange::UnknownToken(data)) if data.soft_logout => {
                warn!("the homeserver asks to sign in again (soft logout)");
                false
            }
            Ok(SessionChange::UnknownToken(_)) => true,
            // A burst of changes (every request of a signed-out device is
            // refused) overflowed the channel: what was missed may have been
            // either kind, so save the tokens and ask the server.
            Err(RecvError::Lagged(_)) => {
                save_tokens();
                true
            }
            Err(RecvError::Closed) => return,
        };
        if !check || !signed_out_on_server(&client).await {
            continue;
        }
        warn!("this device was signed out on the homeserver; removing its local data");
        if tokio::time::timeout(Duration::from_secs(5), sync_service.stop()).await.is_err() {
            warn!("sync did not stop within 5 s");
        }
        if let Err(e) = local.wipe().await {
            warn!("local data not fully removed: {e}");
        }
        let _ = revoked.send(true);
        return;
    }
}

fn refused_token(e: &matrix_sdk::HttpError) -> bool {
    use matrix_sdk::{HttpError, RefreshTokenError};
    let unknown = |e: &HttpError| matches!(e.client_api_error_kind(), Some(ErrorKind::UnknownToken { .. }));
    match e {
        HttpError::RefreshToken(RefreshTokenError::MatrixAuth(inner)) => unknown(inner),
        // An OAuth refresh error does not tell a refused grant from a network
        // failure here: such a device is not wiped automatically.
        HttpError::RefreshToken(_) => false,
        other => unknown(other),
    }
}

/// The SDK also reports an unknown token when a refresh failed for another
/// reason: wipe only when a fresh request is refused the same way.
async fn signed_out_on_server(client: &Client) -> bool {
    loop {
        match client.whoami().await {
            Ok(_) => return false,
            Err(e) if refused_token(&e) => return true,
            Err(e) => {
                debug!("cannot confirm the sign-out yet: {e}");
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
    }
}
