//! A signed-in Matrix account: its client, its sync and its timelines.
//!
//! Login and restore build the same thing: a `matrix_sdk::Client` on an
//! encrypted sqlite store, a `SyncService` (native sliding sync) in offline
//! mode, and the SDK's persistent send queue respawned for unsent messages.

pub mod diff;
pub mod secrets;
pub mod subscription;
pub mod sync;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use matrix_sdk::{Client, ClientBuildError, ruma::OwnedRoomId};
use matrix_sdk_ui::{sync_service::SyncService, timeline::Timeline};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tracing::{debug, info, warn};
use url::Url;

use crate::{
    CoreError, SecretStore, StoredSession, SyncStatus,
    secrets::new_store_passphrase,
    subscription::{Sink, Subscription},
};

#[derive(Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    pub homeserver: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("homeserver", &self.homeserver)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What the UI and the CLI show about the signed-in account.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub user_id: String,
    pub device_id: String,
    pub homeserver: String,
    pub display_name: Option<String>,
}

pub struct Session {
    pub(crate) client: Client,
    pub(crate) sync_service: Arc<SyncService>,
    homeserver: String,
    pub(crate) profile: String,
    store_dir: PathBuf,
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) store: kring_store::Store,
    timelines: Mutex<HashMap<OwnedRoomId, Arc<Timeline>>>,
    background: std::sync::Mutex<Vec<Subscription>>,
    /// Which directories the care network and the directory search may ask.
    pub(crate) directory_scope: std::sync::RwLock<crate::care_network::DirectoryScope>,
    pub(crate) absence_source: std::sync::RwLock<Arc<dyn crate::care_network::AbsenceSource>>,
    /// Identity services found so far and this account's tokens there.
    pub(crate) identity_services: crate::identity_service::IdentityServices,
    /// Reads recorded in the audit trail lately (one per object and window).
    pub(crate) recent_reads: crate::compliance::audit::RecentReads,
    /// Locked after inactivity; a PIN unlocks.
    pub(crate) app_lock: crate::compliance::app_lock::AppLock,
    /// What the organisation lets others see (receipts); private by default.
    pub(crate) privacy: std::sync::RwLock<crate::PrivacyPolicy>,
    /// The organisation's retention for new care teams (milliseconds).
    pub(crate) default_retention: std::sync::RwLock<Option<u64>>,
    /// Milliseconds ahead of deletion that conversations are flagged.
    pub(crate) reminder_window: std::sync::RwLock<u64>,
    pub(crate) urgent_unsent: crate::timeline::UrgentUnsent,
    pub(crate) send_problems: tokio::sync::broadcast::Sender<crate::SendProblem>,
    /// What the SDK's push-rule evaluation says to notify, for `notifications`.
    pub(crate) notifications: tokio::sync::broadcast::Sender<(matrix_sdk::sync::Notification, matrix_sdk::Room)>,
    /// Set once the homeserver said this device was signed out and its local
    /// data was wiped.
    pub(crate) revoked: tokio::sync::watch::Sender<bool>,
    /// Flow ids of verification requests from the person's other devices.
    pub(crate) verification_requests: tokio::sync::broadcast::Sender<String>,
}

/// Stops a session's sync and waits for what it was saving (see [`Session::stopper`]).
pub struct Stopper {
    client: Client,
    sync_service: Arc<SyncService>,
}

impl Stopper {
    pub async fn stop(&self) {
        // matrix-sdk-ui 0.18's SyncService::stop can wait forever when called
        // before the room list's sliding sync has started its loop ("internal
        // channel is broken"). Let it leave Init first, and never hang on quit.
        let mut list_state = self.sync_service.room_list_service().state();
        let _ = tokio::time::timeout(Duration::from_secs(3), async {
            use matrix_sdk_ui::room_list_service::State as ListState;
            while matches!(list_state.get(), ListState::Init) {
                if list_state.next().await.is_none() {
                    break;
                }
            }
        })
        .await;
        if tokio::time::timeout(Duration::from_secs(5), self.sync_service.stop()).await.is_err() {
            warn!("sync did not stop within 5 s; abandoning it");
        }
        self.settle_last_sync().await;
        // Room keys of messages sent just now go to the backup before the
        // process ends (a CLI run is short), so the person's other devices
        // can read them.
        let backups = self.client.encryption().backups();
        if backups.are_enabled().await
            && tokio::time::timeout(Duration::from_secs(5), backups.wait_for_steady_state()).await.is_err()
        {
            warn!("room keys not all in the backup yet; the next start uploads them");
        }
        debug!("sync stopped");
    }

    /// Waits for the sync response that arrived just before a stop.
    ///
    /// The SDK handles a response in a task of its own, so that dropping the
    /// sync loop cannot cut it off halfway; stopping the loop does not wait
    /// for it. A process that ends meanwhile keeps what the SDK saved at once
    /// (a new Olm session, its one-time key spent) but loses the room keys
    /// that came in it: redelivered, they no longer decrypt, and the messages
    /// they open stay unreadable on this device. The crypto part holds the
    /// crypto store's cache until it commits; reading the tracked users waits
    /// for that.
    async fn settle_last_sync(&self) {
        // Let a handler spawned just before the stop take its locks first.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if tokio::time::timeout(Duration::from_secs(10), self.client.encryption().tracked_users()).await.is_err() {
            warn!("the last sync response was still being handled after 10 s");
        }
    }
}

/// Where one profile's SDK stores live under the app's data directory.
fn store_dir(data_dir: &Path, profile: &str) -> PathBuf {
    data_dir.join("profiles").join(profile).join("matrix")
}

/// Kring's own database of a profile, next to the SDK's stores.
pub fn database_path(data_dir: &Path, profile: &str) -> PathBuf {
    data_dir.join("profiles").join(profile).join("kring.db")
}

fn parse_homeserver(raw: &str) -> Result<Url, CoreError> {
    let url = Url::parse(raw.trim()).map_err(|e| CoreError::InvalidHomeserver(e.to_string()))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err(CoreError::InvalidHomeserver(format!("{raw}: expected an http(s) URL"))),
    }
}

async fn build_client(homeserver: &Url, store_dir: &Path, passphrase: &str) -> Result<Client, CoreError> {
    Client::builder()
        .homeserver_url(homeserver.as_str())
        .sqlite_store(store_dir, Some(passphrase))
        .handle_refresh_tokens()
        // Keep the server the user chose: the SDK would otherwise switch to
        // a login answer's well-known URL for that run only, while the
        // keychain keeps the chosen one for every later start.
        .respect_login_well_known(false)
        // Every device of a person: cross-signing on the first login, a
        // key backup that later devices download from when they meet a
        // message they cannot read, and MSC4268 history on invite. The
        // backup starts with recovery (`Recovery::enable` uploads every room
        // key kept until then) or, on a later device, with the backup key
        // from recovery or gossip. Not auto-enabled: a device that has no
        // backup key yet then stalled its room-list sync while its to-device
        // sync was held (tests/scenarios/test_notifications_cli.py, 3 of 3).
        .with_encryption_settings(matrix_sdk::encryption::EncryptionSettings {
            auto_enable_cross_signing: true,
            backup_download_strategy: matrix_sdk::encryption::BackupDownloadStrategy::AfterDecryptionFailure,
            auto_enable_backups: false,
        })
        .with_enable_share_history_on_invite(true)
        .build()
        .await
        .map_err(|e| match e {
            ClientBuildError::SqliteStore(e) => {
                // A store we cannot open with the keychain's passphrase must not be
                // silently replaced: that would create a new device and lose keys.
                CoreError::Storage(format!("cannot open the local store: {e}"))
            }
            other => other.into(),
        })
}

/// A new login is a new device: fresh SDK stores with a fresh passphrase.
async fn new_device(
    data_dir: &Path,
    profile: &str,
    homeserver: &Url,
) -> Result<(Client, zeroize::Zeroizing<String>), CoreError> {
    let dir = store_dir(data_dir, profile);
    // Stores of an older device are useless to a new one.
    if dir.exists() {
        tokio::fs::remove_dir_all(&dir).await.map_err(|e| CoreError::Storage(e.to_string()))?;
    }
    tokio::fs::create_dir_all(&dir).await.map_err(|e| CoreError::Storage(e.to_string()))?;
    // Kring's own database keeps its audit log across sign-ins, but its
    // sealed patient data belongs to the previous key.
    let previous = kring_store::Store::open(&database_path(data_dir, profile))
        .await
        .map_err(|e| CoreError::Storage(e.to_string()))?;
    previous.reset_sealed_data().await.map_err(|e| CoreError::Storage(e.to_string()))?;
    let passphrase = new_store_passphrase();
    let client = build_client(homeserver, &dir, &passphrase).await?;
    Ok((client, passphrase))
}

impl Session {
    /// Signs in with a password and keeps the session in `secrets`.
    pub async fn login(
        data_dir: &Path,
        secrets: Arc<dyn SecretStore>,
        profile: &str,
        request: &LoginRequest,
    ) -> Result<Self, CoreError> {
        let homeserver = parse_homeserver(&request.homeserver)?;
        let (client, passphrase) = new_device(data_dir, profile, &homeserver).await?;
        client
            .matrix_auth()
            .login_username(request.username.trim(), &request.password)
            .initial_device_display_name("Kring")
            .request_refresh_token()
            .send()
            .await
            .map_err(|e| match e.client_api_error_kind() {
                Some(matrix_sdk::ruma::api::error::ErrorKind::Forbidden) => CoreError::WrongCredentials,
                _ => CoreError::from(e),
            })?;
        Self::signed_in(client, homeserver, profile, data_dir, secrets, passphrase).await
    }

    /// Signs in on the homeserver in the system browser: with its OAuth 2.0
    /// API (MSC3861, e.g. Synapse with MAS) when it offers one, else with its
    /// single sign-on. With the organisation's IdP session still valid, the
    /// browser asks for no password again. A homeserver that provisions
    /// accounts on first login creates the account here.
    pub async fn login_in_browser(
        data_dir: &Path,
        secrets: Arc<dyn SecretStore>,
        profile: &str,
        homeserver: &Url,
        idp: Option<&str>,
        browser: &dyn kring_identity::Browser,
        timeout: Duration,
    ) -> Result<Self, CoreError> {
        let (client, passphrase) = new_device(data_dir, profile, homeserver).await?;
        crate::browser_login::login(&client, idp, browser, timeout).await?;
        Self::signed_in(client, homeserver.clone(), profile, data_dir, secrets, passphrase).await
    }

    /// After any login: the session goes into the keychain, sync starts, and
    /// the device's keys are on the server before this returns.
    async fn signed_in(
        client: Client,
        homeserver: Url,
        profile: &str,
        data_dir: &Path,
        secrets: Arc<dyn SecretStore>,
        passphrase: zeroize::Zeroizing<String>,
    ) -> Result<Self, CoreError> {
        let (session, oauth_client_id) =
            client.session().and_then(StoredSession::parts_of).ok_or(CoreError::NotLoggedIn)?;
        let stored = StoredSession {
            homeserver: homeserver.to_string(),
            session,
            oauth_client_id,
            store_passphrase: passphrase,
            app_lock_pin: None,
        };
        secrets.save(profile, &stored)?;
        info!(user_id = %stored.session.meta.user_id, "signed in");
        let session =
            Self::start(client, homeserver.to_string(), profile, data_dir, secrets, &stored.store_passphrase).await?;
        session.wait_until_device_published(Duration::from_secs(15)).await;
        session.audit("login", None).await;
        Ok(session)
    }

    /// Restores the session kept in `secrets`, without any network round trip
    /// before the UI can show cached rooms. `Ok(None)` when there is none.
    pub async fn restore(
        data_dir: &Path,
        secrets: Arc<dyn SecretStore>,
        profile: &str,
    ) -> Result<Option<Self>, CoreError> {
        let Some(stored) = secrets.load(profile)? else { return Ok(None) };
        let homeserver = parse_homeserver(&stored.homeserver)?;
        let dir = store_dir(data_dir, profile);
        let client = build_client(&homeserver, &dir, &stored.store_passphrase).await?;
        client.restore_session(stored.auth_session()).await?;
        info!(user_id = %stored.session.meta.user_id, "session restored");
        Self::start(client, stored.homeserver.clone(), profile, data_dir, secrets, &stored.store_passphrase)
            .await
            .map(Some)
    }

    async fn start(
        client: Client,
        homeserver: String,
        profile: &str,
        data_dir: &Path,
        secrets: Arc<dyn SecretStore>,
        passphrase: &str,
    ) -> Result<Self, CoreError> {
        let store = kring_store::Store::open_unlocked(&database_path(data_dir, profile), passphrase)
            .await
            .map_err(|e| CoreError::Storage(e.to_string()))?;
        let sync_service = Arc::new(
            SyncService::builder(client.clone())
                .with_offline_mode()
                .build()
                .await
                .map_err(|e| CoreError::Internal(e.to_string()))?,
        );
        // Messages queued before a crash or kill go out now, in order.
        client.send_queue().respawn_tasks_for_rooms_with_unsent_requests().await;
        client.send_queue().enable_upload_progress(true);
        let (notifications, _) = tokio::sync::broadcast::channel(64);
        crate::notifications::forward(&client, notifications.clone()).await;
        let (send_problems, _) = tokio::sync::broadcast::channel(16);
        let (revoked, _) = tokio::sync::watch::channel(false);
        let (verification_requests, _) = tokio::sync::broadcast::channel(8);
        crate::devices::forward_verification_requests(&client, verification_requests.clone());
        crate::devices::follow_vault(&client, store.clone());
        let local = crate::devices::LocalData {
            secrets: secrets.clone(),
            profile: profile.to_owned(),
            store: store.clone(),
            store_dir: store_dir(data_dir, profile),
        };
        sync_service.start().await;

        let background = vec![
            Subscription::new(tokio::spawn(crate::send_queue::supervise(
                client.clone(),
                sync_service.clone(),
                send_problems.clone(),
            ))),
            Subscription::new(tokio::spawn(install_urgent_rule(client.clone(), sync_service.clone()))),
            Subscription::new(tokio::spawn(supervise_sync(sync_service.clone()))),
            Subscription::new(tokio::spawn(crate::compliance::retention::follow_retention(
                client.clone(),
                store.clone(),
            ))),
            Subscription::new(tokio::spawn(crate::devices::follow_session_changes(
                client.clone(),
                sync_service.clone(),
                local,
                revoked.clone(),
            ))),
        ];
        Ok(Self {
            client,
            sync_service,
            homeserver,
            profile: profile.to_owned(),
            store_dir: store_dir(data_dir, profile),
            secrets,
            store,
            timelines: Mutex::new(HashMap::new()),
            background: std::sync::Mutex::new(background),
            directory_scope: Default::default(),
            identity_services: Default::default(),
            recent_reads: Default::default(),
            app_lock: Default::default(),
            privacy: Default::default(),
            default_retention: Default::default(),
            reminder_window: std::sync::RwLock::new(
                u64::from(crate::compliance::retention::DEFAULT_REMINDER_DAYS) * 24 * 3600 * 1000,
            ),
            absence_source: std::sync::RwLock::new(Arc::new(crate::care_network::DirectoryNotAvailable)),
            urgent_unsent: Default::default(),
            send_problems,
            notifications,
            revoked,
            verification_requests,
        })
    }

    pub async fn info(&self) -> SessionInfo {
        let meta = self.client.session_meta();
        // Best effort: the profile is a network call, and info must not hang offline.
        let display_name = tokio::time::timeout(Duration::from_secs(2), self.client.account().get_display_name())
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        SessionInfo {
            user_id: meta.map(|m| m.user_id.to_string()).unwrap_or_default(),
            device_id: meta.map(|m| m.device_id.to_string()).unwrap_or_default(),
            homeserver: self.homeserver.clone(),
            display_name,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn store(&self) -> &kring_store::Store {
        &self.store
    }

    /// Records what this user did on this device in the audit trail (UC8,
    /// `compliance::audit`). Never a message body or a patient identifier:
    /// `subject` is a room id.
    pub async fn audit(&self, action: &str, subject: Option<&str>) {
        self.audit_detail(action, subject, None).await;
    }

    /// An audit entry with what changed (user ids and roles, never patient data).
    pub async fn audit_detail(&self, action: &str, subject: Option<&str>, detail: Option<&str>) {
        self.record_audit(action, subject, detail, 0).await;
    }

    /// Streams the sync status, current value first; `SignedOut` last when
    /// the homeserver signed this device out.
    pub fn watch_sync(&self, mut sink: Sink<SyncStatus>) -> Subscription {
        let mut state = self.sync_service.state();
        let mut revoked = self.revoked.subscribe();
        Subscription::new(tokio::spawn(async move {
            let current =
                if *revoked.borrow_and_update() { SyncStatus::SignedOut } else { SyncStatus::from(&state.get()) };
            if !sink(current) || current == SyncStatus::SignedOut {
                return;
            }
            loop {
                tokio::select! {
                    next = state.next() => match next {
                        Some(next) if !*revoked.borrow() => {
                            if !sink(SyncStatus::from(&next)) {
                                break;
                            }
                        }
                        Some(_) => {}
                        None => break,
                    },
                    changed = revoked.changed() => {
                        if changed.is_err() || *revoked.borrow() {
                            let _ = sink(SyncStatus::SignedOut);
                            break;
                        }
                    }
                }
            }
        }))
    }

    /// The one timeline of a room, shared by every view and every send, so a
    /// local echo appears wherever the room is shown.
    pub async fn timeline(&self, room_id: &str) -> Result<Arc<Timeline>, CoreError> {
        let room_id = OwnedRoomId::try_from(room_id).map_err(|_| CoreError::UnknownRoom(room_id.to_owned()))?;
        let mut timelines = self.timelines.lock().await;
        if let Some(t) = timelines.get(&room_id) {
            return Ok(t.clone());
        }
        let room = self.client.get_room(&room_id).ok_or_else(|| CoreError::UnknownRoom(room_id.to_string()))?;
        // The room list syncs one event per room; an open room is subscribed
        // so the sliding sync brings its recent history and live events.
        self.sync_service.room_list_service().subscribe_to_rooms(&[&room_id]).await;
        let timeline = Arc::new(crate::timeline::build(&room).await?);
        timelines.insert(room_id, timeline.clone());
        Ok(timeline)
    }

    /// Waits until the homeserver lists this device's encryption keys. The
    /// sync loop uploads them; a process that signed in and quit before that
    /// would leave a device nobody can share room keys with.
    pub async fn wait_until_device_published(&self, timeout: Duration) -> bool {
        use matrix_sdk::ruma::api::client::keys::get_keys::v3::Request;
        let Some(meta) = self.client.session_meta().cloned() else { return false };
        let published = async {
            loop {
                let mut request = Request::new();
                request.device_keys.insert(meta.user_id.clone(), vec![meta.device_id.clone()]);
                if let Ok(response) = self.client.send(request).await
                    && response.device_keys.get(&meta.user_id).is_some_and(|d| d.contains_key(&meta.device_id))
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let ok = tokio::time::timeout(timeout, published).await.is_ok();
        if !ok {
            warn!("this device's keys are not on the homeserver yet");
        }
        ok
    }

    /// Waits until the first sync response is in, or `timeout` passes.
    pub async fn wait_until_synced(&self, timeout: Duration) -> bool {
        use matrix_sdk_ui::room_list_service::State as ListState;
        let mut state = self.sync_service.room_list_service().state();
        tokio::time::timeout(timeout, async {
            loop {
                if matches!(state.get(), ListState::Running | ListState::SettingUp) {
                    return;
                }
                if state.next().await.is_none() {
                    return;
                }
            }
        })
        .await
        .is_ok()
    }

    /// Waits (at most `timeout`) until sync has brought every room the
    /// homeserver counts for this account, not only the first 20 of the
    /// first response: the room list grows in batches of 100 after it.
    /// What a command about all care teams or all invites needs.
    pub async fn wait_until_all_rooms_known(&self, timeout: Duration) -> bool {
        use matrix_sdk_ui::room_list_service::RoomListLoadingState;
        let Ok(list) = self.sync_service.room_list_service().all_rooms().await else { return false };
        let loading = list.loading_state();
        tokio::time::timeout(timeout, async {
            loop {
                if let RoomListLoadingState::Loaded { maximum_number_of_rooms: Some(max) } = loading.get() {
                    let known = self
                        .client
                        .rooms()
                        .iter()
                        .filter(|r| matches!(r.state(), matrix_sdk::RoomState::Joined | matrix_sdk::RoomState::Invited))
                        .count();
                    if known >= usize::try_from(max).unwrap_or(usize::MAX) {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .is_ok()
    }

    /// Stops syncing, without forgetting the session (app shutdown).
    pub async fn stop(&self) {
        self.stopper().stop().await;
    }

    /// What stopping needs, apart from the session: a caller that may lose
    /// the session on an error path (the CLI's `?`) keeps this to stop it
    /// there too, so the last sync's room keys are not lost.
    pub fn stopper(&self) -> Stopper {
        Stopper { client: self.client.clone(), sync_service: self.sync_service.clone() }
    }

    /// Signs out on the homeserver (best effort) and removes every local trace:
    /// keychain entry and stores.
    pub async fn logout(&self) -> Result<(), CoreError> {
        self.audit("logout", None).await;
        self.stop().await;
        if let Err(e) = self.client.logout().await {
            // Offline logout still clears this device locally.
            warn!("server-side logout failed: {e}");
        }
        self.background.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.timelines.lock().await.clear();
        self.local_data().wipe().await
    }

    fn local_data(&self) -> crate::devices::LocalData {
        crate::devices::LocalData {
            secrets: self.secrets.clone(),
            profile: self.profile.clone(),
            store: self.store.clone(),
            store_dir: self.store_dir.clone(),
        }
    }
}

/// Restarts sync after errors (the SDK leaves it stopped), with a back-off.
async fn supervise_sync(sync_service: Arc<SyncService>) {
    use matrix_sdk_ui::sync_service::State;
    let mut state = sync_service.state();
    let mut delay = Duration::from_millis(500);
    while let Some(next) = state.next().await {
        match next {
            State::Error(e) => {
                warn!("sync stopped on an error, restarting in {delay:?}: {e}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
                sync_service.start().await;
            }
            State::Running => delay = Duration::from_millis(500),
            _ => {}
        }
    }
}

/// Puts the urgent push rule on the account once sync runs (push rules
/// arrive with the first sync; offline there is nothing to do yet).
async fn install_urgent_rule(client: Client, sync_service: Arc<SyncService>) {
    use matrix_sdk_ui::sync_service::State;
    let mut state = sync_service.state();
    let mut current = state.get();
    loop {
        if matches!(current, State::Running) {
            match crate::urgent::ensure_push_rule(&client).await {
                Ok(()) => return,
                Err(e) => warn!("urgent push rule not installed yet: {e}"),
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        match state.next().await {
            Some(next) => current = next,
            None => return,
        }
    }
}
