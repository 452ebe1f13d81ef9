//! What the shell keeps between commands: the signed-in session and the live
//! subscriptions the UI holds.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use kring_core::{CoreError, OnboardingConfig, SecretStore, Session, Subscription};
use tokio::sync::{Mutex, RwLock};

pub struct AppState {
    /// Set once the platform's app data dir is known (in Tauri's setup).
    data_dir: OnceLock<PathBuf>,
    /// Where saved attachments go (the platform's Downloads folder).
    download_dir: OnceLock<PathBuf>,
    pub profile: String,
    pub secrets: Arc<dyn SecretStore>,
    session: RwLock<Option<Arc<Session>>>,
    subscriptions: Mutex<HashMap<String, Subscription>>,
    next_id: AtomicU64,
    /// The deployment's onboarding configuration file (`KRING_ONBOARDING_CONFIG`,
    /// else `onboarding.json` in the data dir).
    onboarding_config: Option<PathBuf>,
    /// The first login in progress, so the user can cancel it.
    onboarding: std::sync::Mutex<Option<tokio::task::AbortHandle>>,
}

impl AppState {
    pub fn new(profile: String, secrets: Arc<dyn SecretStore>) -> Self {
        Self {
            data_dir: OnceLock::new(),
            download_dir: OnceLock::new(),
            profile,
            secrets,
            session: RwLock::new(None),
            subscriptions: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            onboarding_config: std::env::var_os("KRING_ONBOARDING_CONFIG").map(PathBuf::from),
            onboarding: std::sync::Mutex::new(None),
        }
    }

    pub fn with_onboarding_config(mut self, path: PathBuf) -> Self {
        self.onboarding_config = Some(path);
        self
    }

    pub fn onboarding_config(&self) -> Result<OnboardingConfig, CoreError> {
        let path = match &self.onboarding_config {
            Some(p) => p.clone(),
            None => self.data_dir()?.join("onboarding.json"),
        };
        OnboardingConfig::load(&path)
    }

    pub fn set_onboarding(&self, handle: Option<tokio::task::AbortHandle>) {
        *self.onboarding.lock().unwrap_or_else(|e| e.into_inner()) = handle;
    }

    pub fn take_onboarding(&self) -> Option<tokio::task::AbortHandle> {
        self.onboarding.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Sets the data dir unless one is set already (tests set their own).
    pub fn with_data_dir(self, dir: PathBuf) -> Self {
        let _ = self.data_dir.set(dir);
        self
    }

    pub fn set_data_dir(&self, dir: PathBuf) {
        let _ = self.data_dir.set(dir);
    }

    pub fn data_dir(&self) -> Result<&std::path::Path, CoreError> {
        self.data_dir.get().map(PathBuf::as_path).ok_or_else(|| CoreError::Storage("no data directory".into()))
    }

    pub fn set_download_dir(&self, dir: PathBuf) {
        let _ = self.download_dir.set(dir);
    }

    pub fn download_dir(&self) -> Result<PathBuf, CoreError> {
        self.download_dir.get().cloned().ok_or_else(|| CoreError::Storage("no download folder".into()))
    }

    pub async fn session(&self) -> Result<Arc<Session>, CoreError> {
        self.session.read().await.clone().ok_or(CoreError::NotLoggedIn)
    }

    pub async fn set_session(&self, session: Option<Arc<Session>>) -> Option<Arc<Session>> {
        if let Some(s) = session.clone() {
            // The organisation's app lock from the start: with a PIN set, a
            // restored session opens locked.
            s.use_app_lock(self.onboarding_config().map(|c| c.app_lock).unwrap_or_default());
            // Care teams made on the person's other devices come from the vault.
            tokio::spawn(async move {
                s.wait_until_synced(std::time::Duration::from_secs(60)).await;
                if let Err(e) = s.restore_client_links().await {
                    tracing::warn!("care-team links not restored from the vault: {e}");
                }
            });
        }
        std::mem::replace(&mut *self.session.write().await, session)
    }

    /// Keeps a subscription alive until `unsubscribe` (or sign-out) drops it.
    pub async fn keep(&self, subscription: Subscription) -> String {
        let id = format!("sub-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let mut subs = self.subscriptions.lock().await;
        // Streams whose channel closed (window reloaded) are finished: forget them.
        subs.retain(|_, s| !s.is_finished());
        subs.insert(id.clone(), subscription);
        id
    }

    pub async fn drop_subscription(&self, id: &str) -> bool {
        self.subscriptions.lock().await.remove(id).is_some()
    }

    pub async fn drop_all_subscriptions(&self) {
        self.subscriptions.lock().await.clear();
    }
}
