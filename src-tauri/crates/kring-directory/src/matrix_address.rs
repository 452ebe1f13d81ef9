//! Where a practitioner is on Matrix, read from every representation that
//! published specifications use, because directories differ:
//!
//! - `PractitionerRole.endpoint` → an Endpoint for Matrix (001 §7; TIC spec of
//!   June 2025): its address is the homeserver;
//! - `telecom` (role or practitioner) `system=other` with contactpoint-purpose
//!   `matrix-messaging`: the MXID (current TIC spec);
//! - `telecom` `system=url` with a `https://matrix.to/#/…` link: the MXID
//!   (NL Generic Functions IG, also in its lenient `#user:server` form);
//! - the Organization's Endpoint for Matrix, or a contact telecom with purpose
//!   `matrix-homeserver`: the organisation's homeserver.

use url::Url;

use crate::fhir::{Coding, ContactPoint, Endpoint, Organization, Practitioner, PractitionerRole};

/// The code system Kring writes for a Matrix client-server endpoint; 001 leaves
/// the connection type open ("Open points"), so any coding whose code is
/// `matrix` (or names the Matrix client-server API) is accepted too.
pub const KRING_CONNECTION_TYPES: &str = "http://kring.example/fhir/CodeSystem/endpoint-connection-type";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatrixAddress {
    /// `@user:server`, when the directory names the account.
    pub user_id: Option<String>,
    /// The client-server API base URL, when the directory names the server.
    pub homeserver: Option<Url>,
    /// A server name (`matrix.example.org`) to resolve via `.well-known`.
    pub server_name: Option<String>,
}

impl MatrixAddress {
    pub fn is_empty(&self) -> bool {
        self.user_id.is_none() && self.homeserver.is_none() && self.server_name.is_none()
    }
}

fn is_matrix_coding(c: &Coding) -> bool {
    let code = c.code.as_deref().unwrap_or_default().to_ascii_lowercase();
    code == "matrix"
        || code.starts_with("matrix-")
        || (c.system.as_deref() == Some(KRING_CONNECTION_TYPES) && !code.is_empty())
}

/// An Endpoint that is a Matrix homeserver and not switched off. 001's own
/// example types it `hl7-fhir-rest` and says so only in its name, which
/// counts too.
pub fn is_matrix_endpoint(e: &Endpoint) -> bool {
    let active = !matches!(e.status.as_deref(), Some("off" | "error" | "entered-in-error"));
    let typed = e.connection_type.as_ref().is_some_and(is_matrix_coding)
        || e.payload_type.iter().flat_map(|p| &p.coding).any(is_matrix_coding)
        || e.name.as_deref().is_some_and(|n| n.to_ascii_lowercase().contains("matrix"));
    active && typed && e.address.is_some()
}

/// `@user:server` from an MXID, a `matrix.to` link, or the GF IG's `#user:server`.
pub fn parse_user_id(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let id = match raw.split_once("matrix.to/#") {
        Some((_, fragment)) => fragment.trim_start_matches('/'),
        None => raw,
    };
    let id = id.split(['?', '/']).next().unwrap_or(id);
    let id = id.strip_prefix('@').unwrap_or(id);
    let (local, server) = id.split_once(':')?;
    (!local.is_empty() && !server.is_empty() && !local.contains(['#', '!', ' '])).then(|| format!("@{local}:{server}"))
}

fn user_id_from(telecom: &[ContactPoint]) -> Option<String> {
    telecom.iter().find_map(|t| {
        let value = t.value.as_deref()?;
        match (t.system.as_deref(), t.purpose()) {
            (_, Some("matrix-messaging")) => parse_user_id(value),
            (Some("url"), _) if value.contains("matrix.to/#") => parse_user_id(value),
            _ => None,
        }
    })
}

fn homeserver_from(endpoints: &[&Endpoint]) -> Option<Url> {
    endpoints
        .iter()
        .filter(|e| is_matrix_endpoint(e))
        .find_map(|e| Url::parse(e.address.as_deref()?).ok().filter(|u| matches!(u.scheme(), "http" | "https")))
}

/// Reads the Matrix address of a practitioner. `role_endpoints` are the
/// Endpoints the roles reference, `org_endpoints` the organisation's.
pub fn matrix_address(
    practitioner: &Practitioner,
    roles: &[PractitionerRole],
    role_endpoints: &[&Endpoint],
    organization: Option<&Organization>,
    org_endpoints: &[&Endpoint],
) -> MatrixAddress {
    let user_id = roles.iter().find_map(|r| user_id_from(&r.telecom)).or_else(|| user_id_from(&practitioner.telecom));
    let homeserver = homeserver_from(role_endpoints).or_else(|| homeserver_from(org_endpoints));
    let server_name = organization.and_then(|o| {
        o.contact
            .iter()
            .flat_map(|c| &c.telecom)
            .chain(&o.telecom)
            .find_map(|t| (t.purpose() == Some("matrix-homeserver")).then(|| t.value.clone()).flatten())
    });
    MatrixAddress { user_id, homeserver, server_name }
}

/// The server name of an MXID (`@a:b.example:8448` → `b.example:8448`).
pub fn server_name_of(user_id: &str) -> Option<&str> {
    user_id.split_once(':').map(|(_, s)| s).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_published_mxid_form_parses() {
        assert_eq!(
            parse_user_id("@dr.janssen:matrix.hospital-a.nl").as_deref(),
            Some("@dr.janssen:matrix.hospital-a.nl")
        );
        assert_eq!(parse_user_id("https://matrix.to/#/@a:b.nl").as_deref(), Some("@a:b.nl"));
        assert_eq!(
            parse_user_id("https://matrix.to/#doctorno:cp3.example.org").as_deref(),
            Some("@doctorno:cp3.example.org")
        );
        assert_eq!(parse_user_id("https://matrix.to/#/@a:localhost:8482?via=x").as_deref(), Some("@a:localhost:8482"));
        assert_eq!(parse_user_id("https://matrix.to/#/!room:b.nl"), None);
        assert_eq!(parse_user_id("not an id"), None);
    }

    #[test]
    fn the_role_wins_over_the_practitioner_and_the_role_endpoint_over_the_organisation() {
        fn json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
            serde_json::from_value(v).unwrap()
        }
        let practitioner: Practitioner = json(serde_json::json!({"telecom": [{"system": "other", "value": "@old:p.nl",
            "extension": [{"url": CONTACTPOINT, "valueString": "matrix-messaging"}]}]}));
        let role: PractitionerRole =
            json(serde_json::json!({"telecom": [{"system": "url", "value": "https://matrix.to/#/@new:r.nl"}]}));
        let role_ep: Endpoint = json(serde_json::json!({"status": "active", "address": "https://hs.role.nl",
            "connectionType": {"system": KRING_CONNECTION_TYPES, "code": "matrix"}}));
        let org_ep: Endpoint = json(serde_json::json!({"status": "active", "address": "https://hs.org.nl",
            "connectionType": {"code": "matrix"}}));
        let switched_off: Endpoint = json(serde_json::json!({"status": "off", "address": "https://old.nl",
            "connectionType": {"code": "matrix"}}));
        let a = matrix_address(&practitioner, &[role], &[&switched_off, &role_ep], None, &[&org_ep]);
        assert_eq!(a.user_id.as_deref(), Some("@new:r.nl"));
        assert_eq!(a.homeserver.unwrap().as_str(), "https://hs.role.nl/");
        let only_org = matrix_address(&practitioner, &[], &[], None, &[&org_ep]);
        assert_eq!(only_org.user_id.as_deref(), Some("@old:p.nl"));
        assert_eq!(only_org.homeserver.unwrap().host_str(), Some("hs.org.nl"));
        assert!(matrix_address(&Practitioner::default(), &[], &[&switched_off], None, &[]).is_empty());
    }

    const CONTACTPOINT: &str = crate::fhir::CONTACTPOINT_PURPOSE;
}
