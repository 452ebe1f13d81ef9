//! The sync state as a person needs to see it.

use matrix_sdk_ui::sync_service::State;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum SyncStatus {
    /// Not started yet, or stopped.
    Starting,
    Running,
    /// The homeserver cannot be reached; the SDK retries by itself.
    Offline,
    /// Sync stopped on an error; Kring restarts it.
    Error,
    /// This device was signed out on the homeserver (from another device or
    /// by an administrator) and its local data is gone: show the login.
    SignedOut,
}

impl From<&State> for SyncStatus {
    fn from(state: &State) -> Self {
        match state {
            State::Idle | State::Terminated => Self::Starting,
            State::Running => Self::Running,
            State::Offline => Self::Offline,
            State::Error(_) => Self::Error,
        }
    }
}
