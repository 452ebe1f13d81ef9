//! Privacy by default (PRODUCT.md, as the German TI-Messenger rules ask of
//! clinical messengers): what others can see of a practitioner's reading and
//! writing is off unless the organisation turns it on. Read receipts go as
//! `m.read.private` (this person's other devices still learn what was read,
//! so their notifications are withdrawn); Kring sends no typing
//! notifications and sets no presence, and fetches no URL previews.

use serde::{Deserialize, Serialize};

use crate::Session;

/// What an organisation may turn on (its deployment configuration,
/// `privacy` in onboarding.json); everything is off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct PrivacyPolicy {
    /// Read receipts others can see (`m.read`).
    pub public_read_receipts: bool,
}

impl Session {
    /// Applies the organisation's privacy choices to this session.
    pub fn use_privacy(&self, policy: PrivacyPolicy) {
        *self.privacy.write().unwrap_or_else(|e| e.into_inner()) = policy;
    }

    pub(crate) fn privacy(&self) -> PrivacyPolicy {
        *self.privacy.read().unwrap_or_else(|e| e.into_inner())
    }
}
