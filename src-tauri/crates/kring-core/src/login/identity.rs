//! The identity binding of 001 §3: from a Matrix ID to the practitioner's
//! care identity (UZI, URA, role codes) and their directory resources, so a
//! CareTeam can refer to the right Practitioner / PractitionerRole.
//!
//! Two sources. The identity service of the practitioner's homeserver holds
//! what their organisation IdP vouched for (`identity_service.rs`): that is
//! what Kring trusts. Their profile field (`nl.kring.practitioner`, written
//! at first login, readable across federation) is a hint: it adds the
//! directory resources where it agrees with the service, and stands alone,
//! unverified, where no service knows them. What Kring learns is kept in its
//! own database.

use matrix_sdk::ruma::{OwnedUserId, api::error::ErrorKind, profile::ProfileFieldValue};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

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
    /// The identity service that vouched for the UZI, URA and role codes;
    /// `None`: only the profile says so. Never read from the profile itself.
    #[serde(skip)]
    pub verified_by: Option<String>,
}

impl CareIdentityBinding {
    pub(crate) fn to_store(&self) -> kring_store::IdentityBinding {
        kring_store::IdentityBinding {
            user_id: self.user_id.clone(),
            uzi: self.uzi.clone(),
            ura: self.ura.clone(),
            role_codes: self.role_codes.clone(),
            practitioner_url: self.practitioner.clone(),
            practitioner_role_url: self.practitioner_role.clone(),
            organisation: self.organization.clone(),
            verified_by: self.verified_by.clone(),
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
            verified_by: b.verified_by,
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
                // A verified binding is never replaced by the profile's word.
                let kept_verified = cached().await.ok().flatten().is_some_and(|b| b.verified_by.is_some());
                if !kept_verified && let Err(e) = self.store.save_identity_binding(&binding.to_store()).await {
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

impl Session {
    /// The care identity behind `user_id` as Kring trusts it: what the
    /// identity service of their homeserver holds (the organisation IdP
    /// vouched for it), with the directory resources their profile names
    /// where the profile names the same UZI and a vouched URA; else the
    /// profile's word alone, unverified. A verified answer is kept.
    pub async fn resolve_care_identity(&self, user_id: &str) -> Result<Option<CareIdentityBinding>, CoreError> {
        let kept = self.store.identity_binding(user_id).await.ok().flatten().map(CareIdentityBinding::from_store);
        if let Some(b) = kept.as_ref().filter(|b| b.verified_by.is_some()) {
            return Ok(Some(b.clone()));
        }
        let hint = match kept {
            Some(b) => Some(b),
            None => self.care_identity_of(user_id).await.unwrap_or_else(|e| {
                debug!(user = %user_id, "no profile binding: {e}");
                None
            }),
        };
        let verified = match self.verified_identity_of(user_id).await {
            Ok(v) => v,
            Err(e) => {
                // Not reachable now: the hint stands, unverified, and is asked again next time.
                debug!(user = %user_id, "identity service not asked: {e}");
                None
            }
        };
        let Some(verified) = verified else { return Ok(hint) };
        let binding = verified_binding(user_id, verified, hint);
        if let Err(e) = self.store.save_identity_binding(&binding.to_store()).await {
            warn!("could not keep a verified identity binding: {e}");
        }
        Ok(Some(binding))
    }
}

/// The service's UZI, URA and role codes; the profile's directory resources
/// only where the profile speaks of the same person at a vouched URA.
pub(crate) fn verified_binding(
    user_id: &str,
    verified: crate::VerifiedIdentity,
    hint: Option<CareIdentityBinding>,
) -> CareIdentityBinding {
    let uzi = verified.uzi.unwrap_or_default();
    let agrees = hint.filter(|h| h.uzi == uzi && verified.ura.contains(&h.ura));
    let ura = agrees.as_ref().map(|h| h.ura.clone()).or_else(|| verified.ura.first().cloned()).unwrap_or_default();
    CareIdentityBinding {
        user_id: user_id.to_owned(),
        uzi,
        ura,
        role_codes: verified.role_codes,
        practitioner: agrees.as_ref().and_then(|h| h.practitioner.clone()),
        practitioner_role: agrees.as_ref().and_then(|h| h.practitioner_role.clone()),
        organization: agrees.and_then(|h| h.organization),
        verified_by: Some(verified.identity_service),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(uzi: &str, ura: &str) -> CareIdentityBinding {
        CareIdentityBinding {
            user_id: "@eva:a".into(),
            uzi: uzi.into(),
            ura: ura.into(),
            role_codes: vec!["01.015".into()],
            practitioner: Some("http://dir/fhir/Practitioner/1".into()),
            practitioner_role: Some("http://dir/fhir/PractitionerRole/1".into()),
            organization: Some("Ziekenhuis Aurora".into()),
            verified_by: None,
        }
    }

    fn vouched() -> crate::VerifiedIdentity {
        crate::VerifiedIdentity {
            uzi: Some("900100104".into()),
            ura: vec!["90100001".into()],
            role_codes: vec!["30.000".into()],
            identity_service: "https://is-a/".into(),
        }
    }

    #[test]
    fn the_service_decides_and_the_profile_only_adds_resources_where_it_agrees() {
        let agreeing = verified_binding("@eva:a", vouched(), Some(hint("900100104", "90100001")));
        assert_eq!((agreeing.uzi.as_str(), agreeing.ura.as_str()), ("900100104", "90100001"));
        assert_eq!(agreeing.role_codes, vec!["30.000".to_owned()], "the role codes the IdP vouched for");
        assert!(agreeing.practitioner_role.is_some() && agreeing.verified_by.as_deref() == Some("https://is-a/"));

        // A profile that claims someone else's UZI or another organisation adds nothing.
        for claim in [hint("111222333", "90100001"), hint("900100104", "99999999")] {
            let b = verified_binding("@eva:a", vouched(), Some(claim));
            assert_eq!((b.uzi.as_str(), b.ura.as_str()), ("900100104", "90100001"));
            assert_eq!((b.practitioner, b.practitioner_role, b.organization), (None, None, None));
        }
        assert_eq!(verified_binding("@eva:a", vouched(), None).ura, "90100001");
    }
}
