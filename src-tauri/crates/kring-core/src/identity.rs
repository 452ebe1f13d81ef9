//! The identity binding of 001 §3: from a Matrix ID to the practitioner's
//! care identity (UZI, URA, role codes) and their directory resources, so a
//! CareTeam can refer to the right Practitioner / PractitionerRole.
//!
//! 001 proposes 3PIDs on an identity server; Synapse accepts only `email`
//! and `msisdn` 3PIDs, and no identity server for custom media runs here.
//! Kring therefore publishes the binding as a custom profile field (Matrix
//! 1.16, `GET /profile/{userId}/{field}`), which any user can read across
//! federation, and keeps what it learns in its own database.

use matrix_sdk::ruma::{OwnedUserId, api::error::ErrorKind, profile::ProfileFieldValue};
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::{CoreError, Session};

/// The profile field Kring writes and reads (namespaced, Common Namespaced
/// Identifier Grammar).
pub const PROFILE_FIELD: &str = "nl.kring.practitioner";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub struct CareIdentityBinding {
    /// Not part of the field's value: the field belongs to this user.
    #[serde(skip)]
    pub user_id: String,
    pub uzi: String,
    pub ura: String,
    pub role_codes: Vec<String>,
    /// `<directory>/Practitioner/<id>`
    pub practitioner: Option<String>,
    /// `<directory>/PractitionerRole/<id>` at the organisation of `ura`.
    pub practitioner_role: Option<String>,
    /// The organisation's name.
    pub organization: Option<String>,
}

impl CareIdentityBinding {
    fn to_store(&self) -> kring_store::IdentityBinding {
        kring_store::IdentityBinding {
            user_id: self.user_id.clone(),
            uzi: self.uzi.clone(),
            ura: self.ura.clone(),
            role_codes: self.role_codes.clone(),
            practitioner_url: self.practitioner.clone(),
            practitioner_role_url: self.practitioner_role.clone(),
            organisation: self.organization.clone(),
        }
    }

    pub(crate) fn from_store(b: kring_store::IdentityBinding) -> Self {
        Self {
            user_id: b.user_id,
            uzi: b.uzi,
            ura: b.ura,
            role_codes: b.role_codes,
            practitioner: b.practitioner_url,
            practitioner_role: b.practitioner_role_url,
            organization: b.organisation,
        }
    }
}

impl Session {
    /// Publishes this account's binding on its profile and keeps it locally.
    /// A homeserver that refuses custom profile fields does not stop the
    /// login: the binding is then only local, and the log says so.
    pub async fn publish_care_identity(&self, binding: &CareIdentityBinding) {
        if let Err(e) = self.store.save_identity_binding(&binding.to_store()).await {
            warn!("could not keep the identity binding: {e}");
        }
        let value = serde_json::to_value(binding).unwrap_or_default();
        match ProfileFieldValue::new(PROFILE_FIELD, value) {
            Ok(field) => {
                if let Err(e) = self.client.account().set_profile_field(field).await {
                    warn!("the homeserver did not take the identity binding: {e}");
                }
            }
            Err(e) => warn!("identity binding not serialisable: {e}"),
        }
    }

    /// The care identity behind `user_id`, from their profile (also on
    /// another homeserver), remembered locally; the local copy answers
    /// when their server cannot be asked. `None` for non-practitioners.
    pub async fn care_identity_of(&self, user_id: &str) -> Result<Option<CareIdentityBinding>, CoreError> {
        let user = OwnedUserId::try_from(user_id).map_err(|_| CoreError::UnknownUser(user_id.to_owned()))?;
        let fetched = self.client.account().fetch_profile_field_of(user.clone(), PROFILE_FIELD.into()).await;
        let cached = || async {
            self.store.identity_binding(user.as_str()).await.map(|b| b.map(CareIdentityBinding::from_store))
        };
        match fetched {
            Ok(Some(value)) => {
                let mut binding: CareIdentityBinding = serde_json::from_value(value.value().into_owned())
                    .map_err(|e| CoreError::Internal(format!("{user}'s identity binding is not readable: {e}")))?;
                binding.user_id = user.to_string();
                if let Err(e) = self.store.save_identity_binding(&binding.to_store()).await {
                    warn!("could not cache an identity binding: {e}");
                }
                Ok(Some(binding))
            }
            Ok(None) => Ok(None),
            // Synapse answers 404 for an unset custom field.
            Err(e) if matches!(e.client_api_error_kind(), Some(ErrorKind::NotFound)) => Ok(None),
            Err(e) => {
                warn!("profile of {user} not available, using the local copy: {e}");
                cached().await.map_err(|e| CoreError::Storage(e.to_string()))
            }
        }
    }
}
