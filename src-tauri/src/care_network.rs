//! IPC for the care network (UC1) and the directory search. The network
//! streams: the cached state at once, then each background refresh.

use std::sync::Arc;

use kring_core::{CareNetwork, DirectoryHit, DirectoryScope, DirectorySearch, Role, Session};
use tauri::{State, ipc::Channel};

use crate::{error::AppError, state::AppState};

/// The session, told which directories this installation may ask.
async fn scoped(state: &AppState) -> Result<Arc<Session>, AppError> {
    let session = state.session().await?;
    if let Ok(config) = state.onboarding_config() {
        session.use_directories(DirectoryScope::from(&config));
    }
    Ok(session)
}

#[tauri::command]
#[specta::specta]
pub async fn watch_care_network(
    state: State<'_, AppState>,
    space_id: String,
    on_update: Channel<CareNetwork>,
) -> Result<String, AppError> {
    let session = scoped(&state).await?;
    // An unknown space fails here, not silently in the stream.
    session.care_network(&space_id).await?;
    let sink = Box::new(move |network| on_update.send(network).is_ok());
    Ok(state.keep(kring_core::watch_care_network(session, space_id, sink)).await)
}

#[tauri::command]
#[specta::specta]
pub async fn refresh_care_network(state: State<'_, AppState>, space_id: String) -> Result<CareNetwork, AppError> {
    Ok(scoped(&state).await?.refresh_care_network(&space_id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn search_directory(
    state: State<'_, AppState>,
    query: DirectorySearch,
) -> Result<Vec<DirectoryHit>, AppError> {
    Ok(scoped(&state).await?.search_directory(&query).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_relation(
    state: State<'_, AppState>,
    space_id: String,
    user_id: String,
    relation: String,
) -> Result<(), AppError> {
    Ok(state.session().await?.set_relation(&space_id, &user_id, &relation).await?)
}

/// Invites a related person or the client by e-mail (`role` is
/// `related_person` or `client`); the homeserver hands the invite to its
/// identity service, which mails them.
#[tauri::command]
#[specta::specta]
pub async fn invite_by_email(
    state: State<'_, AppState>,
    space_id: String,
    address: String,
    role: Role,
    relation: Option<String>,
) -> Result<(), AppError> {
    let session = state.session().await?;
    Ok(session.invite_by_email(&space_id, &address, role, relation.as_deref()).await?)
}
