//! Every device of a person: recovery (cross-signing, secret storage and
//! server-side key backup, all matrix-sdk's own machinery) and the
//! care-team links that follow the person to each of their devices.

mod recovery;
mod vault;

pub use recovery::{DeviceTrust, RecoveryKey, RecoveryState};
pub(crate) use vault::is_vault;
