//! Desktop notifications and their settings. The core decides what to show;
//! this maps clicks to the UI ("open that conversation").

use std::sync::Arc;

use kring_core::{DesktopNotifier, NotificationEvent, NotificationMode, NotificationSettings};
use tauri::{State, ipc::Channel};

use crate::{error::AppError, state::AppState};

type CmdResult<T> = Result<T, AppError>;

#[tauri::command]
#[specta::specta]
pub async fn notification_settings(state: State<'_, AppState>) -> CmdResult<NotificationSettings> {
    Ok(state.session().await?.notification_settings().await)
}

#[tauri::command]
#[specta::specta]
pub async fn set_notification_settings(state: State<'_, AppState>, settings: NotificationSettings) -> CmdResult<()> {
    Ok(state.session().await?.set_notification_settings(&settings).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn conversation_notification_mode(
    state: State<'_, AppState>,
    room_id: String,
) -> CmdResult<NotificationMode> {
    Ok(state.session().await?.conversation_notification_mode(&room_id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_conversation_notification_mode(
    state: State<'_, AppState>,
    room_id: String,
    mode: NotificationMode,
) -> CmdResult<()> {
    Ok(state.session().await?.set_conversation_notification_mode(&room_id, mode).await?)
}

/// Starts desktop notifications for the signed-in session; the channel gets
/// the room id of each notification the user clicks. Returns the
/// subscription id (unsubscribing stops notifications).
#[tauri::command]
#[specta::specta]
pub async fn watch_notification_activations(
    state: State<'_, AppState>,
    on_update: Channel<String>,
) -> CmdResult<String> {
    let session = state.session().await?;
    let (clicks, activations) = tokio::sync::mpsc::unbounded_channel();
    let notifier = Arc::new(DesktopNotifier::new(clicks));
    let config = state.onboarding_config().ok();
    if let Some(config) = &config {
        session.use_retention_reminder(config.retention_reminder_days);
    }
    // Reminders of expiring conversations live as long as notifications do,
    // and so does accepting a move from the old vendor (UC4).
    let reminders = kring_core::start_retention_reminders(session.clone(), notifier.clone());
    let migrations = config
        .is_none_or(|c| c.accept_migration_invites)
        .then(|| kring_core::start_migration_acceptance(session.clone()));
    let sub = session.start_notifications(
        notifier,
        activations,
        Box::new(move |event| match event {
            // The UI opens the conversation and brings its window forward.
            NotificationEvent::Activated { room_id, .. } => on_update.send(room_id).is_ok(),
            _ => true,
        }),
    );
    let sub = match migrations {
        Some(m) => sub.and(reminders).and(m),
        None => sub.and(reminders),
    };
    Ok(state.keep(sub).await)
}
