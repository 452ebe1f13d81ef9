//! Every device of a person: recovery (cross-signing, secret storage and
//! server-side key backup, all matrix-sdk's own machinery), verification by
//! another device (emoji), the device list with sign-out, and the care-team
//! links that follow the person to each of their devices.

mod own;
mod recovery;
mod revocation;
mod vault;
mod verification;

pub use own::{OwnDevice, Reauth};
pub use recovery::{DeviceTrust, RecoveryKey, RecoveryState};
pub(crate) use revocation::{LocalData, follow_session_changes};
pub(crate) use vault::{follow_vault, is_vault};
pub(crate) use verification::forward_requests as forward_verification_requests;
pub use verification::{VerificationEmoji, VerificationStep};
