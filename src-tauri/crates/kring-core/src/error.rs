//! Errors the user can act on. Every variant maps to a stable [`ErrorCode`]
//! that the IPC boundary and the CLI expose and the UI translates.

use matrix_sdk::ruma::api::error::ErrorKind;
use serde::Serialize;

/// Stable, documented error codes. Never rename a variant: scripts and the UI
/// depend on the serialized string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Username or password rejected: retype them.
    WrongCredentials,
    /// The homeserver could not be reached: check the network or try later.
    HomeserverUnreachable,
    /// The homeserver address is not a valid URL or not a Matrix server.
    InvalidHomeserver,
    /// The room does not exist or this account is not in it.
    UnknownRoom,
    /// There is no signed-in session: sign in first.
    NotLoggedIn,
    /// The stored session is no longer accepted (token revoked, device deleted): sign in again.
    SessionLost,
    /// A message could not be handed to the send queue.
    SendFailed,
    /// The OS keychain could not be used.
    KeychainUnavailable,
    /// Kring's local storage failed (disk full, corrupt database).
    Storage,
    /// A bug or an unexpected server answer; details are in the log.
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("the homeserver rejected the username or password")]
    WrongCredentials,
    #[error("the homeserver could not be reached: {0}")]
    HomeserverUnreachable(String),
    #[error("not a valid homeserver address: {0}")]
    InvalidHomeserver(String),
    #[error("unknown room: {0}")]
    UnknownRoom(String),
    #[error("not signed in")]
    NotLoggedIn,
    #[error("the stored session was rejected by the homeserver")]
    SessionLost,
    #[error("the message could not be queued: {0}")]
    SendFailed(String),
    #[error("the OS keychain failed: {0}")]
    Keychain(String),
    #[error("local storage failed: {0}")]
    Storage(String),
    #[error("{0}")]
    Internal(String),
}

impl CoreError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::WrongCredentials => ErrorCode::WrongCredentials,
            Self::HomeserverUnreachable(_) => ErrorCode::HomeserverUnreachable,
            Self::InvalidHomeserver(_) => ErrorCode::InvalidHomeserver,
            Self::UnknownRoom(_) => ErrorCode::UnknownRoom,
            Self::NotLoggedIn => ErrorCode::NotLoggedIn,
            Self::SessionLost => ErrorCode::SessionLost,
            Self::SendFailed(_) => ErrorCode::SendFailed,
            Self::Keychain(_) => ErrorCode::KeychainUnavailable,
            Self::Storage(_) => ErrorCode::Storage,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Classifies an SDK error from a request to the homeserver.
    pub(crate) fn from_http(err: &matrix_sdk::HttpError) -> Self {
        match err.client_api_error_kind() {
            Some(ErrorKind::Forbidden { .. }) => Self::WrongCredentials,
            Some(ErrorKind::UnknownToken { .. }) => Self::SessionLost,
            Some(ErrorKind::NotFound) => Self::UnknownRoom(String::new()),
            Some(_) => Self::Internal(err.to_string()),
            None => match err {
                matrix_sdk::HttpError::Reqwest(e) if e.is_connect() || e.is_timeout() => {
                    Self::HomeserverUnreachable(e.to_string())
                }
                matrix_sdk::HttpError::Reqwest(e) => Self::HomeserverUnreachable(e.to_string()),
                other => Self::Internal(other.to_string()),
            },
        }
    }
}

impl From<matrix_sdk::Error> for CoreError {
    fn from(err: matrix_sdk::Error) -> Self {
        match err {
            matrix_sdk::Error::Http(http) => Self::from_http(&http),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<matrix_sdk::HttpError> for CoreError {
    fn from(err: matrix_sdk::HttpError) -> Self {
        Self::from_http(&err)
    }
}

impl From<matrix_sdk::ClientBuildError> for CoreError {
    fn from(err: matrix_sdk::ClientBuildError) -> Self {
        match err {
            matrix_sdk::ClientBuildError::Url(e) => Self::InvalidHomeserver(e.to_string()),
            matrix_sdk::ClientBuildError::Http(http) => Self::from_http(&http),
            matrix_sdk::ClientBuildError::SqliteStore(e) => Self::Storage(e.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_to_stable_snake_case_strings() {
        let json = serde_json::to_string(&CoreError::WrongCredentials.code()).unwrap();
        assert_eq!(json, "\"wrong_credentials\"");
        let json = serde_json::to_string(&CoreError::Keychain("x".into()).code()).unwrap();
        assert_eq!(json, "\"keychain_unavailable\"");
        assert_eq!(
            CoreError::HomeserverUnreachable("refused".into()).code(),
            ErrorCode::HomeserverUnreachable
        );
    }
}
