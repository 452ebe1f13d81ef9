//! The one error type that crosses the IPC boundary: a stable code the UI
//! translates, and a technical detail shown only under "details".

use kring_core::{CoreError, ErrorCode};
use serde::Serialize;

#[derive(Debug, Serialize, specta::Type)]
pub struct AppError {
    pub code: ErrorCode,
    pub detail: String,
}

impl From<CoreError> for AppError {
    fn from(err: CoreError) -> Self {
        Self { code: err.code(), detail: err.to_string() }
    }
}
