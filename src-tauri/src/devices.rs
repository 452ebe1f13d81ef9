//! IPC for the person's devices: recovery, verification by another device,
//! the device list and signing a lost one out.

use std::time::Duration;

use kring_core::{DeviceTrust, OwnDevice, Reauth, RecoveryKey, SystemBrowser, VerificationStep};
use tauri::{State, ipc::Channel};

use crate::{error::AppError, state::AppState};

type CmdResult<T> = Result<T, AppError>;

/// How long the homeserver's confirmation page may take in the browser.
const BROWSER_REAUTH_TIMEOUT: Duration = Duration::from_secs(300);

#[tauri::command]
#[specta::specta]
pub async fn device_trust(state: State<'_, AppState>) -> CmdResult<DeviceTrust> {
    Ok(state.session().await?.device_trust().await)
}

/// Sets up recovery; the key crosses the IPC once, to be shown once.
#[tauri::command]
#[specta::specta]
pub async fn enable_recovery(state: State<'_, AppState>) -> CmdResult<RecoveryKey> {
    Ok(state.session().await?.enable_recovery().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn recover(state: State<'_, AppState>, recovery_key: String) -> CmdResult<DeviceTrust> {
    let session = state.session().await?;
    let key = zeroize::Zeroizing::new(recovery_key);
    session.recover(&key).await?;
    Ok(session.device_trust().await)
}

#[tauri::command]
#[specta::specta]
pub async fn own_devices(state: State<'_, AppState>) -> CmdResult<Vec<OwnDevice>> {
    Ok(state.session().await?.own_devices().await?)
}

/// Signs another device out. Without a password, the homeserver's own
/// confirmation (SSO accounts) opens in the browser.
#[tauri::command]
#[specta::specta]
pub async fn sign_out_device(state: State<'_, AppState>, device_id: String, password: Option<String>) -> CmdResult<()> {
    let session = state.session().await?;
    let password = password.map(zeroize::Zeroizing::new);
    let browser = SystemBrowser::from_env();
    let reauth = match &password {
        Some(p) => Reauth::Password(p),
        None => Reauth::Browser(&browser, BROWSER_REAUTH_TIMEOUT),
    };
    Ok(session.sign_out_device(&device_id, reauth).await?)
}

/// A sink that, once this device is verified, opens the key backup and
/// restores the care teams in the background.
fn finishing_sink(
    session: std::sync::Arc<kring_core::Session>,
    channel: Channel<VerificationStep>,
) -> kring_core::subscription::Sink<VerificationStep> {
    Box::new(move |step| {
        if matches!(step, VerificationStep::Done { .. }) {
            let session = session.clone();
            tokio::spawn(async move {
                if let Err(e) = session.finish_verification(Duration::from_secs(60)).await {
                    tracing::warn!("after verification: {e}");
                }
            });
        }
        channel.send(step).is_ok()
    })
}

#[tauri::command]
#[specta::specta]
pub async fn verify_this_device(state: State<'_, AppState>, on_update: Channel<VerificationStep>) -> CmdResult<String> {
    let session = state.session().await?;
    let subscription = session.verify_this_device(finishing_sink(session.clone(), on_update)).await?;
    Ok(state.keep(subscription).await)
}

#[tauri::command]
#[specta::specta]
pub async fn watch_verification_requests(
    state: State<'_, AppState>,
    on_update: Channel<VerificationStep>,
) -> CmdResult<String> {
    let session = state.session().await?;
    let sink = Box::new(move |step| on_update.send(step).is_ok());
    Ok(state.keep(session.watch_verification_requests(sink)).await)
}

#[tauri::command]
#[specta::specta]
pub async fn accept_verification(
    state: State<'_, AppState>,
    flow_id: String,
    on_update: Channel<VerificationStep>,
) -> CmdResult<String> {
    let session = state.session().await?;
    let sink = Box::new(move |step| on_update.send(step).is_ok());
    Ok(state.keep(session.accept_verification(&flow_id, sink).await?).await)
}

#[tauri::command]
#[specta::specta]
pub async fn confirm_verification(state: State<'_, AppState>, flow_id: String, emojis_match: bool) -> CmdResult<()> {
    Ok(state.session().await?.confirm_verification(&flow_id, emojis_match).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn cancel_verification(state: State<'_, AppState>, flow_id: String) -> CmdResult<()> {
    Ok(state.session().await?.cancel_verification(&flow_id).await?)
}
