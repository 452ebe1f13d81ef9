//! Where a practitioner is on Matrix, read from every representation that
//! published specifications use, because directories differ:
//!
//! - `PractitionerRole.endpoint` → an Endpoint for Matrix (001 §7; TIC spec of
//!   June 2025): an http(s) address is the homeserver;
//! - `PractitionerRole.endpoint` → a TI-Messenger Endpoint (gematik
//!   VZD-FHIR-Directory) or an mCSD Endpoint of specific type `matrix`: an
//!   address `matrix:u/user:server` or `@user:server` is the MXID;
//! - `telecom` (role or practitioner) `system=other` with contactpoint-purpose
//!   `matrix-messaging`, or without it when the value is an MXID: the MXID
//!   (current TIC spec);
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
/// gematik's VZD-FHIR-Directory types TI-Messenger Endpoints `tim`, `tim-fa`
/// or `tim-bot`, with payload `tim-chat`; their address is an MXID.
pub const GEMATIK_CONNECTION_TYPES: &str =
    "https://gematik.de/fhir/directory/CodeSystem/EndpointDirectoryConnectionType";
pub const GEMATIK_PAYLOAD_TYPES: &str = "https://gematik.de/fhir/directory/CodeSystem/EndpointDirectoryPayloadType";
/// IHE mCSD's finer Endpoint type, for kinds R4's `connectionType` cannot name.
pub const IHE_ENDPOINT_SPECIFIC_TYPE: &str =
    "https://profiles.ihe.net/ITI/mCSD/StructureDefinition/ihe-endpointspecifictype";

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
    let system = c.system.as_deref();
    code == "matrix"
        || code.starts_with("matrix-")
        || (system == Some(KRING_CONNECTION_TYPES) && !code.is_empty())
        || (system == Some(GEMATIK_CONNECTION_TYPES) && matches!(code.as_str(), "tim" | "tim-fa" | "tim-bot"))
        || (system == Some(GEMATIK_PAYLOAD_TYPES) && code == "tim-chat")
}

/// An Endpoint for Matrix (a homeserver, or an account) and not switched
/// off. 001's own example types it `hl7-fhir-rest` and says so only in its
/// name, which counts too.
pub fn is_matrix_endpoint(e: &Endpoint) -> bool {
    let active = !matches!(e.status.as_deref(), Some("off" | "error" | "entered-in-error"));
    let mut specific_types = e
        .extension
        .iter()
        .filter(|x| x.url.as_deref() == Some(IHE_ENDPOINT_SPECIFIC_TYPE))
        .flat_map(|x| x.value_codeable_concept.iter().flat_map(|c| &c.coding));
    let typed = e.connection_type.as_ref().is_some_and(is_matrix_coding)
        || e.payload_type.iter().flat_map(|p| &p.coding).any(is_matrix_coding)
        || specific_types.any(is_matrix_coding)
        || e.name.as_deref().is_some_and(|n| n.to_ascii_lowercase().contains("matrix"));
    active && typed && e.address.is_some()
}

/// `@user:server` from an MXID, a `matrix.to` link (also the GF IG's
/// `#user:server`), or a Matrix URI `matrix:u/user:server` (spec appendix
/// "Matrix URI scheme"; MSC2312's `matrix:user/` too), percent-encoded or not.
pub fn parse_user_id(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let id = if let Some((_, fragment)) = raw.split_once("matrix.to/#") {
        fragment.trim_start_matches('/')
    } else if let Some(path) = matrix_uri_path(raw) {
        // `r/` (alias) and `roomid/` name rooms, not people.
        path.strip_prefix("u/").or_else(|| path.strip_prefix("user/"))?
    } else {
        raw
    };
    let id = percent_decode(id.split(['?', '#', '/']).next().unwrap_or(id));
    let id = id.strip_prefix('@').unwrap_or(id.as_str());
    let (local, server) = id.split_once(':')?;
    (!local.is_empty() && !server.is_empty() && !local.contains(['#', '!', ' '])).then(|| format!("@{local}:{server}"))
}

/// The path of a Matrix URI: after `matrix:` and the authority, if any.
fn matrix_uri_path(raw: &str) -> Option<&str> {
    let rest = raw.get(..7).filter(|scheme| scheme.eq_ignore_ascii_case("matrix:")).and(raw.get(7..))?;
    match rest.strip_prefix("//") {
        Some(authority_and_path) => authority_and_path.split_once('/').map(|(_, path)| path),
        None => Some(rest),
    }
}

/// `%40a%3Ab` → `@a:b`; a `%` not followed by two hex digits stays as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn user_id_from(telecom: &[ContactPoint]) -> Option<String> {
    telecom.iter().find_map(|t| {
        let value = t.value.as_deref()?;
        match t.system.as_deref() {
            _ if t.has_purpose("matrix-messaging") => parse_user_id(value),
            Some("url") if value.contains("matrix.to/#") => parse_user_id(value),
            // TIC's comparison with the TI-Messenger: a bare MXID, no purpose.
            Some("other") if value.trim_start().starts_with('@') => parse_user_id(value),
            _ => None,
        }
    })
}

/// The MXID an Endpoint names as its address (gematik VZD; mCSD type
/// `matrix`). An http(s) address is a homeserver and gives none.
fn user_id_from_endpoints(endpoints: &[&Endpoint]) -> Option<String> {
    endpoints.iter().filter(|e| is_matrix_endpoint(e)).find_map(|e| {
        let address = e.address.as_deref()?.trim();
        // Not a bare `host:port`: an account has its sigil, a scheme or a matrix.to link.
        let account = address.starts_with('@') || matrix_uri_path(address).is_some() || address.contains("matrix.to/#");
        account.then(|| parse_user_id(address)).flatten()
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
    let user_id = roles
        .iter()
        .find_map(|r| user_id_from(&r.telecom))
        .or_else(|| user_id_from(&practitioner.telecom))
        .or_else(|| user_id_from_endpoints(role_endpoints));
    let homeserver = homeserver_from(role_endpoints).or_else(|| homeserver_from(org_endpoints));
    let server_name = organization.and_then(|o| {
        o.contact
            .iter()
            .flat_map(|c| &c.telecom)
            .chain(&o.telecom)
            .find_map(|t| t.has_purpose("matrix-homeserver").then(|| t.value.clone()).flatten())
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
        // Matrix URIs (spec appendix "Matrix URI scheme", MSC2312), with query and authority.
        assert_eq!(parse_user_id("matrix:u/a:b.nl").as_deref(), Some("@a:b.nl"));
        assert_eq!(parse_user_id("matrix:u/a:b.nl?action=chat&via=c.nl").as_deref(), Some("@a:b.nl"));
        assert_eq!(parse_user_id("MATRIX:user/a:b.nl").as_deref(), Some("@a:b.nl"));
        assert_eq!(parse_user_id("matrix://b.nl/u/a:b.nl").as_deref(), Some("@a:b.nl"));
        assert_eq!(parse_user_id("matrix:r/team:b.nl"), None);
        assert_eq!(parse_user_id("matrix:roomid/x:b.nl?via=b.nl"), None);
        // Percent-encoded, as the spec's own example `matrix:u/cute%3Asome.url` and matrix.to links write it.
        assert_eq!(parse_user_id("matrix:u/cute%3Asome.url").as_deref(), Some("@cute:some.url"));
        assert_eq!(parse_user_id("https://matrix.to/#/%40a%3Ab.nl").as_deref(), Some("@a:b.nl"));
        assert_eq!(parse_user_id("https://matrix.to/#/%40a%3ab.nl?via=b.nl").as_deref(), Some("@a:b.nl"));
        assert_eq!(parse_user_id("@a%zz:b.nl").as_deref(), Some("@a%zz:b.nl"), "not an escape");
        // Servers are not people.
        assert_eq!(parse_user_id("https://matrix.hospital-a.nl"), None);
        assert_eq!(parse_user_id("https://hs.example:8448/"), None);
    }

    fn json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    fn user_of(roles: &[PractitionerRole], practitioner: &Practitioner, endpoints: &[&Endpoint]) -> Option<String> {
        matrix_address(practitioner, roles, endpoints, None, &[]).user_id
    }

    /// Every published place of a practitioner's MXID that is not in the
    /// fixtures (those are in `fixture_tests`), each as its source writes it.
    #[test]
    fn every_published_directory_form_gives_the_mxid() {
        let nobody = Practitioner::default();
        // gematik VZD-FHIR-Directory, current form: a TI-Messenger Endpoint whose address is a Matrix URI
        // (gematik/api-vzd @ 9c39b5f, src/fhir/input/fsh/examples/OrganizationExample001.fsh, Endpoint
        // OrganizationExample001-Endpoint-TIM, profile src/fhir/input/fsh/profiles/EndpointDirectory.fsh).
        let tim: Endpoint = json(serde_json::json!({"resourceType": "Endpoint", "status": "active",
            "connectionType": {"system": GEMATIK_CONNECTION_TYPES, "code": "tim"},
            "name": "@SystemsEngineering:tim.gematik.de",
            "payloadType": [{"coding": [{"system": GEMATIK_PAYLOAD_TYPES, "code": "tim-chat"}]}],
            "address": "matrix:u/SystemsEngineering:tim.gematik.de"}));
        let role: PractitionerRole = json(serde_json::json!({"endpoint": [{"reference": "Endpoint/tim"}]}));
        let a = matrix_address(&nobody, std::slice::from_ref(&role), &[&tim], None, &[]);
        assert_eq!(a.user_id.as_deref(), Some("@SystemsEngineering:tim.gematik.de"));
        assert_eq!(a.homeserver, None, "a user ID is not a homeserver");
        // gematik's functional-account and bot types, in any case.
        let fa: Endpoint = json(serde_json::json!({"status": "active", "address": "@praxis:tim.example.de",
            "connectionType": {"system": GEMATIK_CONNECTION_TYPES, "code": "TIM-FA"}}));
        assert_eq!(user_of(&[], &nobody, &[&fa]).as_deref(), Some("@praxis:tim.example.de"));

        // FHIR's own value type for contactpoint-purpose is CodeableConcept (Extensions Pack,
        // https://hl7.org/fhir/extensions/StructureDefinition-contactpoint-purpose.html).
        let conformant: Practitioner = json(serde_json::json!({"telecom": [{"system": "other",
            "value": "matrix:u/dr.janssen:matrix.hospital-a.nl",
            "extension": [{"url": CONTACTPOINT,
                "valueCodeableConcept": {"coding": [{"code": "matrix-messaging"}]}}]}]}));
        assert_eq!(user_of(&[], &conformant, &[]).as_deref(), Some("@dr.janssen:matrix.hospital-a.nl"));
        let by_text: Practitioner = json(serde_json::json!({"telecom": [{"system": "other", "value": "dr.b:hs.nl",
            "extension": [{"url": CONTACTPOINT, "valueCodeableConcept": {"text": "matrix-messaging"}}]}]}));
        assert_eq!(user_of(&[], &by_text, &[]).as_deref(), Some("@dr.b:hs.nl"));

        // TIC, its comparison with the TI-Messenger: a bare MXID as telecom `other`, no extension
        // (nuts-foundation/toepassing-instante-communicatie @ ffcc13f, docs/comparison-nl-ti-messenger.md).
        let bare: Practitioner =
            json(serde_json::json!({"telecom": [{"system": "other", "value": "@dr.jansen:hospital-a.nl"}]}));
        assert_eq!(user_of(&[], &bare, &[]).as_deref(), Some("@dr.jansen:hospital-a.nl"));
        let not_an_mxid: Practitioner = json(serde_json::json!({"telecom": [{"system": "other", "value": "a:b"}]}));
        assert_eq!(user_of(&[], &not_an_mxid, &[]), None);

        // IHE mCSD has no Matrix element: an IHE.mCSD.Endpoint (IHE/ITI.mCSD @ 658f0b2, input/fsh/endpoint.fsh)
        // says `matrix` in its extension ihe-endpointspecifictype, as mCSD does for kinds connectionType lacks.
        let mcsd = |address: &str| -> Endpoint {
            json(serde_json::json!({"resourceType": "Endpoint", "status": "active",
                "connectionType": {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                    "code": "hl7-fhir-rest"},
                "extension": [{"url": IHE_ENDPOINT_SPECIFIC_TYPE,
                    "valueCodeableConcept": {"coding": [{"code": "matrix"}]}}],
                "address": address}))
        };
        let account = mcsd("@dr.de.vries:matrix.example.org");
        let server = mcsd("https://matrix.example.org");
        assert!(is_matrix_endpoint(&account));
        assert_eq!(user_of(&[], &nobody, &[&server, &account]).as_deref(), Some("@dr.de.vries:matrix.example.org"));
        let a = matrix_address(&nobody, &[], &[&server, &account], None, &[]);
        assert_eq!(a.homeserver.map(|u| u.to_string()).as_deref(), Some("https://matrix.example.org/"));

        // NL Generic Functions (nuts-foundation/nl-generic-functions-ig @ 4cffafe,
        // input/fsh/examples/admin-directory-org3.fsh:174) with the link percent-encoded, as clients copy it.
        let encoded: PractitionerRole = json(serde_json::json!({"telecom": [{"system": "url",
            "value": "https://matrix.to/#/%40doctorno%3Acp3.example.org"}]}));
        assert_eq!(user_of(&[encoded], &nobody, &[]).as_deref(), Some("@doctorno:cp3.example.org"));

        // An Endpoint for a homeserver names no account, also when written without a scheme.
        let bare_host: Endpoint = json(serde_json::json!({"status": "active", "address": "hs.nl:8448",
            "connectionType": {"code": "matrix"}}));
        assert_eq!(user_of(&[], &nobody, &[&bare_host]), None);
    }

    #[test]
    fn the_role_wins_over_the_practitioner_and_the_role_endpoint_over_the_organisation() {
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
