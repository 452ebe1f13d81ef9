//! Signing in with the practitioner's organisation: its OpenID Connect IdP in
//! the system browser, back through a loopback redirect (RFC 8252).
//!
//! The loopback listener and the browser port are shared with the Matrix SSO
//! sign-in in `kring-core`, which ends the same way.

pub mod browser;
pub mod loopback;
pub mod oidc;

pub use browser::{Browser, SystemBrowser};
pub use loopback::{LoopbackError, LoopbackListener};
pub use oidc::{
    CareIdentity, ClaimNames, IdTokenError, IdentityError, IdpConfig, SignedIn, sign_in, sign_in_with_nonce,
    verify_id_token,
};
