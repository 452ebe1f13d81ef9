//! IPC commands: each maps one UI intent to the core and nothing more.

use std::sync::Arc;

use kring_core::{
    CareTeam, CareTeamInvite, ClientRef, ConversationStatus, ConversationSummary, CoreError, ListDiff, LoginRequest,
    Member, NewConversation, Role, RoomSummary, Session, SessionInfo, SyncStatus, TimelineItem,
};
use tauri::{State, ipc::Channel};

use crate::{error::AppError, state::AppState};

type CmdResult<T> = Result<T, AppError>;

/// A channel-backed sink: stop streaming when the webview side is gone.
fn sink<T: serde::Serialize + Clone + Send + 'static>(channel: Channel<T>) -> Box<dyn FnMut(T) -> bool + Send> {
    Box::new(move |value| channel.send(value).is_ok())
}

#[tauri::command]
#[specta::specta]
pub async fn login(state: State<'_, AppState>, request: LoginRequest) -> CmdResult<SessionInfo> {
    let session = Session::login(state.data_dir()?, state.secrets.clone(), &state.profile, &request).await?;
    let info = session.info().await;
    if let Some(old) = state.set_session(Some(Arc::new(session))).await {
        old.stop().await;
    }
    Ok(info)
}

#[tauri::command]
#[specta::specta]
pub async fn restore_session(state: State<'_, AppState>) -> CmdResult<Option<SessionInfo>> {
    if let Ok(session) = state.session().await {
        return Ok(Some(session.info().await));
    }
    let Some(session) = Session::restore(state.data_dir()?, state.secrets.clone(), &state.profile).await? else {
        return Ok(None);
    };
    let info = session.info().await;
    state.set_session(Some(Arc::new(session))).await;
    Ok(Some(info))
}

#[tauri::command]
#[specta::specta]
pub async fn logout(state: State<'_, AppState>) -> CmdResult<()> {
    state.drop_all_subscriptions().await;
    if let Some(session) = state.set_session(None).await {
        session.logout().await?;
    }
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn watch_rooms(
    state: State<'_, AppState>,
    on_update: Channel<Vec<ListDiff<RoomSummary>>>,
) -> CmdResult<String> {
    let session = state.session().await?;
    Ok(state.keep(session.watch_rooms(sink(on_update))).await)
}

#[tauri::command]
#[specta::specta]
pub async fn watch_timeline(
    state: State<'_, AppState>,
    room_id: String,
    on_update: Channel<Vec<ListDiff<TimelineItem>>>,
) -> CmdResult<String> {
    let session = state.session().await?;
    let subscription = session.watch_timeline(&room_id, sink(on_update)).await?;
    Ok(state.keep(subscription).await)
}

#[tauri::command]
#[specta::specta]
pub async fn watch_sync(state: State<'_, AppState>, on_update: Channel<SyncStatus>) -> CmdResult<String> {
    let session = state.session().await?;
    Ok(state.keep(session.watch_sync(sink(on_update))).await)
}

#[tauri::command]
#[specta::specta]
pub async fn unsubscribe(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    state.drop_subscription(&id).await;
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn send_text(state: State<'_, AppState>, room_id: String, body: String) -> CmdResult<()> {
    Ok(state.session().await?.send_text(&room_id, &body).await?)
}

/// Queues a message with 0 to 5 attachments, optionally as a reply, optionally urgent.
#[tauri::command]
#[specta::specta]
pub async fn send_message(
    state: State<'_, AppState>,
    room_id: String,
    body: String,
    attachments: Vec<kring_core::NewAttachment>,
    in_reply_to: Option<String>,
    urgent: bool,
) -> CmdResult<()> {
    let session = state.session().await?;
    Ok(session.send_message(&room_id, &body, attachments, in_reply_to.as_deref(), urgent).await?)
}

/// Sends a failed message again.
#[tauri::command]
#[specta::specta]
pub async fn retry_send(state: State<'_, AppState>, room_id: String, item_id: String) -> CmdResult<()> {
    Ok(state.session().await?.retry_send(&room_id, &item_id).await?)
}

/// Removes an unsent message for good.
#[tauri::command]
#[specta::specta]
pub async fn discard_unsent(state: State<'_, AppState>, room_id: String, item_id: String) -> CmdResult<()> {
    Ok(state.session().await?.discard_unsent(&room_id, &item_id).await?)
}

/// Replaces an unsent message's text and sends it again.
#[tauri::command]
#[specta::specta]
pub async fn edit_unsent(state: State<'_, AppState>, room_id: String, item_id: String, body: String) -> CmdResult<()> {
    Ok(state.session().await?.edit_unsent(&room_id, &item_id, &body).await?)
}

/// Streams messages the homeserver refused for good (their conversation goes on).
#[tauri::command]
#[specta::specta]
pub async fn watch_send_problems(
    state: State<'_, AppState>,
    on_update: Channel<kring_core::SendProblem>,
) -> CmdResult<String> {
    let sub = state.session().await?.watch_send_problems(sink(on_update));
    Ok(state.keep(sub).await)
}

/// Marks a conversation read up to its latest message.
#[tauri::command]
#[specta::specta]
pub async fn mark_read(state: State<'_, AppState>, room_id: String) -> CmdResult<()> {
    let session = state.session().await?;
    if let Ok(config) = state.onboarding_config() {
        session.use_privacy(config.privacy);
    }
    Ok(session.mark_read(&room_id).await?)
}

/// Saves an attachment in the user's download folder; returns the path.
#[tauri::command]
#[specta::specta]
pub async fn save_attachment(
    state: State<'_, AppState>,
    room_id: String,
    event_id: String,
    index: u32,
) -> CmdResult<String> {
    let content = state.session().await?.attachment_content(&room_id, &event_id, index).await?;
    let path = crate::media::save(&state.download_dir()?, &content).await?;
    Ok(path.display().to_string())
}

#[tauri::command]
#[specta::specta]
pub async fn paginate_back(state: State<'_, AppState>, room_id: String, count: u32) -> CmdResult<bool> {
    let count = u16::try_from(count).unwrap_or(u16::MAX);
    Ok(state.session().await?.paginate_back(&room_id, count).await?)
}

/// The care teams as a stream (Reset, then diffs after each sync that changed a room).
#[tauri::command]
#[specta::specta]
pub async fn watch_care_teams(
    state: State<'_, AppState>,
    on_update: Channel<Vec<ListDiff<CareTeam>>>,
) -> CmdResult<String> {
    let session = state.session().await?;
    Ok(state.keep(kring_core::watch_care_teams(session, sink(on_update))).await)
}

#[tauri::command]
#[specta::specta]
pub async fn watch_care_team_invites(
    state: State<'_, AppState>,
    on_update: Channel<Vec<ListDiff<CareTeamInvite>>>,
) -> CmdResult<String> {
    let session = state.session().await?;
    Ok(state.keep(kring_core::watch_care_team_invites(session, sink(on_update))).await)
}

#[tauri::command]
#[specta::specta]
pub async fn watch_conversations(
    state: State<'_, AppState>,
    space_id: String,
    on_update: Channel<Vec<ListDiff<ConversationSummary>>>,
) -> CmdResult<String> {
    let session = state.session().await?;
    Ok(state.keep(kring_core::watch_conversations(session, space_id, sink(on_update))).await)
}

#[tauri::command]
#[specta::specta]
pub async fn watch_care_team_members(
    state: State<'_, AppState>,
    space_id: String,
    on_update: Channel<Vec<ListDiff<Member>>>,
) -> CmdResult<String> {
    let session = state.session().await?;
    Ok(state.keep(kring_core::watch_care_team_members(session, space_id, sink(on_update))).await)
}

#[tauri::command]
#[specta::specta]
pub async fn care_teams(state: State<'_, AppState>) -> CmdResult<Vec<CareTeam>> {
    Ok(state.session().await?.care_teams().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn create_care_team(state: State<'_, AppState>, client: ClientRef) -> CmdResult<CareTeam> {
    let session = state.session().await?;
    if let Ok(config) = state.onboarding_config() {
        session.use_default_retention(config.default_retention_ms());
    }
    Ok(session.create_care_team(&client).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn care_team_invites(state: State<'_, AppState>) -> CmdResult<Vec<CareTeamInvite>> {
    Ok(state.session().await?.care_team_invites().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn accept_care_team_invite(state: State<'_, AppState>, space_id: String) -> CmdResult<CareTeam> {
    Ok(state.session().await?.accept_care_team_invite(&space_id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn care_team_members(state: State<'_, AppState>, space_id: String) -> CmdResult<Vec<Member>> {
    Ok(state.session().await?.care_team_members(&space_id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn invite_to_care_team(
    state: State<'_, AppState>,
    space_id: String,
    user_id: String,
    role: Role,
) -> CmdResult<()> {
    Ok(state.session().await?.invite_to_care_team(&space_id, &user_id, role).await?)
}

/// Adds a member of the client's care team to a running conversation.
#[tauri::command]
#[specta::specta]
pub async fn add_to_conversation(state: State<'_, AppState>, room_id: String, user_id: String) -> CmdResult<()> {
    Ok(state.session().await?.add_to_conversation(&room_id, &user_id).await?)
}

/// Changes a member's role in the care team and its conversations (recorded).
#[tauri::command]
#[specta::specta]
pub async fn set_care_team_role(
    state: State<'_, AppState>,
    space_id: String,
    user_id: String,
    role: Role,
) -> CmdResult<()> {
    Ok(state.session().await?.set_care_team_role(&space_id, &user_id, role).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn conversations(state: State<'_, AppState>, space_id: String) -> CmdResult<Vec<ConversationSummary>> {
    Ok(state.session().await?.conversations(&space_id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn start_conversation(state: State<'_, AppState>, request: NewConversation) -> CmdResult<String> {
    Ok(state.session().await?.start_conversation(&request).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn join_conversation(state: State<'_, AppState>, room_id: String) -> CmdResult<()> {
    Ok(state.session().await?.join_conversation(&room_id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_conversation_status(
    state: State<'_, AppState>,
    room_id: String,
    status: ConversationStatus,
) -> CmdResult<()> {
    Ok(state.session().await?.set_conversation_status(&room_id, status).await?)
}

/// Marks a conversation sensitive or not, for everyone.
#[tauri::command]
#[specta::specta]
pub async fn set_conversation_sensitive(state: State<'_, AppState>, room_id: String, sensitive: bool) -> CmdResult<()> {
    Ok(state.session().await?.set_conversation_sensitive(&room_id, sensitive).await?)
}

/// The app lock: whether it is on, locked, and the idle time in force.
#[tauri::command]
#[specta::specta]
pub async fn app_lock_state(state: State<'_, AppState>) -> CmdResult<kring_core::AppLockState> {
    Ok(state.session().await?.app_lock_state().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_app_lock_pin(state: State<'_, AppState>, pin: String) -> CmdResult<kring_core::AppLockState> {
    let pin = zeroize::Zeroizing::new(pin);
    Ok(state.session().await?.set_app_lock_pin(&pin).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_app_lock_idle(state: State<'_, AppState>, seconds: u32) -> CmdResult<kring_core::AppLockState> {
    Ok(state.session().await?.set_app_lock_idle(seconds).await?)
}

/// The UI saw no input for the idle time (or the user chose to lock).
#[tauri::command]
#[specta::specta]
pub async fn lock_app(state: State<'_, AppState>) -> CmdResult<kring_core::AppLockState> {
    Ok(state.session().await?.lock_app().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn unlock_app(state: State<'_, AppState>, pin: String) -> CmdResult<kring_core::AppLockState> {
    let pin = zeroize::Zeroizing::new(pin);
    Ok(state.session().await?.unlock_app(&pin).await?)
}

/// Unlocks once the operating system confirms the desktop user; `reason` is
/// the prompt's text where the OS shows one (the UI's language).
#[tauri::command]
#[specta::specta]
pub async fn unlock_app_with_os(state: State<'_, AppState>, reason: String) -> CmdResult<kring_core::AppLockState> {
    Ok(state.session().await?.unlock_app_with_os(&reason).await?)
}

/// The list the app opens on, as the deployment's configuration says.
#[tauri::command]
#[specta::specta]
pub async fn start_view(state: State<'_, AppState>) -> CmdResult<kring_core::StartView> {
    Ok(state.onboarding_config().map(|c| c.start_view).unwrap_or_default())
}

/// The organisation's information system, if this deployment names one:
/// the UI offers archiving there only then.
#[tauri::command]
#[specta::specta]
pub async fn information_system(state: State<'_, AppState>) -> CmdResult<Option<String>> {
    Ok(state.onboarding_config().ok().and_then(|c| c.information_system).map(|u| u.to_string()))
}

/// Archives the conversation at the organisation's information system as
/// FHIR (UC8); archiving again updates the earlier archive.
/// A care team's conversations whose oldest messages are deleted soon
/// (retention), so the UI can offer archiving them first.
#[tauri::command]
#[specta::specta]
pub async fn expiring_conversations(
    state: State<'_, AppState>,
    space_id: String,
) -> CmdResult<Vec<kring_core::ExpiringConversation>> {
    let session = state.session().await?;
    if let Ok(config) = state.onboarding_config() {
        session.use_retention_reminder(config.retention_reminder_days);
    }
    Ok(session.expiring_conversations(Some(&space_id)).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn archive_to_information_system(
    state: State<'_, AppState>,
    room_id: String,
) -> CmdResult<kring_core::ArchiveReceipt> {
    let endpoint = state
        .onboarding_config()?
        .information_system
        .ok_or_else(|| CoreError::ArchiveEndpointUnreachable("this installation names no information system".into()))?;
    Ok(state.session().await?.archive_conversation(&room_id, &endpoint).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn redact(state: State<'_, AppState>, room_id: String, event_id: String) -> CmdResult<()> {
    Ok(state.session().await?.redact(&room_id, &event_id).await?)
}
