//! Signing in and who someone is: the first login (organisation IdP, mCSD
//! directory, homeserver), single sign-on in the system browser, and the
//! care identity (UZI, URA, role codes) as the identity service vouches for
//! it, with the profile field as a hint.

pub(crate) mod browser_login;
pub mod identity;
pub mod identity_service;
pub mod onboarding;
