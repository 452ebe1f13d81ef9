//! A client for mCSD directories (IHE ITI-90 over FHIR R4).
//!
//! Queries stay inside the ITI-90 SHALL list: token search on `identifier`,
//! reference search (`practitioner=`), and plain reads. No chained
//! parameters and no reliance on `_include`: conformant directories need not
//! support them.

pub mod changes;
pub mod fhir;
pub mod matrix_address;
pub mod network;
pub mod resolver;
pub mod role_codes;

pub use changes::{ChangeFeed, DirectoryChanges};
use fhir::{Bundle, Endpoint, Organization, Practitioner, PractitionerRole, Reference, Resource};
pub use matrix_address::{MatrixAddress, matrix_address};
pub use resolver::{ResolvedDirectory, ResolverConfig, resolve_directory};
pub use role_codes::uzi_role_name;
use serde::de::DeserializeOwned;
use tracing::debug;
use url::Url;

pub const URA_SYSTEM: &str = "http://fhir.nl/fhir/NamingSystem/ura";
/// UZI numbers appear under both systems in published examples; we search both.
pub const UZI_SYSTEMS: [&str; 2] =
    ["http://fhir.nl/fhir/NamingSystem/uzi-nr-pers", "http://fhir.nl/fhir/NamingSystem/uzi"];

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("the directory at {0} cannot be reached")]
    Unreachable(String),
    #[error("the directory answered {status} for {url}")]
    Status { status: u16, url: String },
    #[error("the directory returned data that is not valid FHIR: {0}")]
    Malformed(String),
    #[error("not a valid directory address: {0}")]
    InvalidAddress(String),
}

fn http_client() -> Result<reqwest::Client, DirectoryError> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| DirectoryError::InvalidAddress(e.to_string()))
}

/// One JSON GET; the directory client and the Nuts resolver share it.
pub(crate) async fn get_json<T: DeserializeOwned>(url: &Url, query: &[(&str, &str)]) -> Result<T, DirectoryError> {
    get_json_with(&http_client()?, url, query, None).await
}

async fn get_json_with<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &Url,
    query: &[(&str, &str)],
    server_time: Option<&std::sync::OnceLock<jiff::Timestamp>>,
) -> Result<T, DirectoryError> {
    debug!(%url, "directory query");
    let origin = url.origin().ascii_serialization();
    let response = http
        .get(url.clone())
        .query(query)
        .header("Accept", "application/fhir+json, application/json")
        .send()
        .await
        .map_err(|_| DirectoryError::Unreachable(origin.clone()))?;
    let status = response.status();
    if let Some(slot) = server_time
        && slot.get().is_none()
        && let Some(date) = response.headers().get("date").and_then(|d| d.to_str().ok())
        && let Ok(zoned) = jiff::fmt::rfc2822::parse(date)
    {
        let _ = slot.set(zoned.timestamp());
    }
    if !status.is_success() {
        return Err(DirectoryError::Status { status: status.as_u16(), url: url.to_string() });
    }
    let bytes = response.bytes().await.map_err(|_| DirectoryError::Unreachable(origin))?;
    serde_json::from_slice(&bytes).map_err(|e| DirectoryError::Malformed(e.to_string()))
}

#[derive(Clone, Debug)]
pub struct DirectoryClient {
    base: Url,
    http: reqwest::Client,
    /// Requests made through this client and its clones (benchmarks, tests).
    requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The directory's own clock (HTTP `Date`) at its first answer: the
    /// `_lastUpdated` of the next refresh must be in the server's time.
    first_answer: std::sync::Arc<std::sync::OnceLock<jiff::Timestamp>>,
}

impl DirectoryClient {
    pub fn new(base: &str) -> Result<Self, DirectoryError> {
        let mut base = Url::parse(base).map_err(|e| DirectoryError::InvalidAddress(e.to_string()))?;
        // Url::join drops the last segment unless the base ends in '/'.
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Self { base, http: http_client()?, requests: Default::default(), first_answer: Default::default() })
    }

    /// The same directory with a shorter timeout, for background refreshes
    /// that must not wait long on a directory that is down.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Result<Self, DirectoryError> {
        self.http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| DirectoryError::InvalidAddress(e.to_string()))?;
        Ok(self)
    }

    /// The directory's time at its first answer to this client, if it said.
    pub fn first_answer_time(&self) -> Option<jiff::Timestamp> {
        self.first_answer.get().copied()
    }

    /// How many requests this client (and its clones) made.
    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, DirectoryError> {
        let url = self.base.join(path).map_err(|e| DirectoryError::InvalidAddress(e.to_string()))?;
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        get_json_with(&self.http, &url, query, Some(&self.first_answer)).await
    }

    /// The full URL of a resource in this directory (what a CareTeam refers to).
    pub fn resource_url(&self, resource_type: &str, id: &str) -> String {
        format!("{}{resource_type}/{id}", self.base)
    }

    pub(crate) async fn search<T: Resource>(&self, query: &[(&str, &str)]) -> Result<Vec<T>, DirectoryError> {
        let bundle: Bundle = self.get(T::TYPE, query).await?;
        bundle.resources_of::<T>()
    }

    /// The organisation registered under a URA number.
    pub async fn organization_by_ura(&self, ura: &str) -> Result<Option<Organization>, DirectoryError> {
        let token = format!("{URA_SYSTEM}|{ura}");
        Ok(self.search::<Organization>(&[("identifier", &token)]).await?.into_iter().next())
    }

    /// The practitioner with a UZI number, under either UZI naming system.
    pub async fn practitioner_by_uzi(&self, uzi: &str) -> Result<Option<Practitioner>, DirectoryError> {
        for system in UZI_SYSTEMS {
            let token = format!("{system}|{uzi}");
            if let Some(p) = self.search::<Practitioner>(&[("identifier", &token)]).await?.into_iter().next() {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    pub async fn roles_of(&self, practitioner_id: &str) -> Result<Vec<PractitionerRole>, DirectoryError> {
        let reference = format!("Practitioner/{practitioner_id}");
        self.search::<PractitionerRole>(&[("practitioner", &reference)]).await
    }

    pub async fn endpoint(&self, id: &str) -> Result<Endpoint, DirectoryError> {
        self.get(&format!("Endpoint/{id}"), &[]).await
    }

    /// The organisation with a URA and its Endpoints. Asks for them with
    /// `_include` and reads whichever the directory did not include (ITI-90
    /// does not oblige a directory to support the include).
    pub async fn organization_with_endpoints(
        &self,
        ura: &str,
    ) -> Result<Option<(Organization, Vec<Endpoint>)>, DirectoryError> {
        let token = format!("{URA_SYSTEM}|{ura}");
        let bundle: Bundle =
            self.get(Organization::TYPE, &[("identifier", &token), ("_include", "Organization:endpoint")]).await?;
        let Some(org) = bundle.resources_of::<Organization>()?.into_iter().next() else { return Ok(None) };
        let included = bundle.resources_of::<Endpoint>()?;
        let endpoints = self.read_endpoints(&org.endpoint, included).await?;
        Ok(Some((org, endpoints)))
    }

    /// The organisation's Endpoints (LRZa: where its directory is).
    pub async fn endpoints_of(&self, org: &Organization) -> Result<Vec<Endpoint>, DirectoryError> {
        self.read_endpoints(&org.endpoint, Vec::new()).await
    }

    /// Reads the referenced Endpoints that are not in `known` yet, once each.
    /// A dangling reference is skipped: one stale link must not hide the rest.
    pub async fn read_endpoints(
        &self,
        references: &[Reference],
        mut known: Vec<Endpoint>,
    ) -> Result<Vec<Endpoint>, DirectoryError> {
        let mut wanted: Vec<&str> = references.iter().filter_map(|r| r.id_of("Endpoint")).collect();
        wanted.dedup();
        for id in wanted {
            if known.iter().any(|e| e.id.as_deref() == Some(id)) {
                continue;
            }
            match self.endpoint(id).await {
                Ok(e) => known.push(e),
                Err(DirectoryError::Status { status: 404 | 410, .. }) => {
                    tracing::warn!(id, "referenced Endpoint is gone")
                }
                Err(e) => return Err(e),
            }
        }
        let ids: Vec<&str> = references.iter().filter_map(|r| r.id_of("Endpoint")).collect();
        known.retain(|e| e.id.as_deref().is_some_and(|id| ids.contains(&id)));
        Ok(known)
    }
}

/// Parsing tests over the public example resources in `../shared/fixtures`
/// (see its SOURCES.md). They run when that folder is present; the project's
/// own test data is in the test stack.
#[cfg(test)]
mod fixture_tests {
    use std::path::PathBuf;

    use super::{fhir::*, matrix_address::*, resolver::*};

    fn fixtures() -> Option<PathBuf> {
        let dir = std::env::var_os("KRING_FIXTURES")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/fixtures"));
        dir.is_dir().then_some(dir)
    }

    fn read<T: serde::de::DeserializeOwned>(dir: &std::path::Path, name: &str) -> T {
        let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// The forms with a fixture; those without (gematik's `matrix:u/`, FHIR's
    /// valueCodeableConcept purpose, TIC's bare `other`, IHE mCSD's specific
    /// type, a percent-encoded matrix.to link) are built inline, each naming
    /// its source, in `matrix_address::tests`.
    #[test]
    fn every_published_matrix_address_form_is_read() {
        let Some(dir) = fixtures() else { return eprintln!("no fixtures folder: skipped") };
        // TIC (current): the MXID as telecom with purpose matrix-messaging as valueString
        // (nuts-foundation/toepassing-instante-communicatie @ ffcc13f, specificatie.md).
        let p: Practitioner = read(&dir, "spec-snippets/tic-spec-07-Practitioner.json");
        assert_eq!(
            matrix_address(&p, &[], &[], None, &[]).user_id.as_deref(),
            Some("@dr.janssen:matrix.hospital-a.nl")
        );
        // TIC (current): the organisation's homeserver as a contact telecom.
        let org: Organization = read(&dir, "spec-snippets/tic-spec-06-Organization.json");
        let a = matrix_address(&Practitioner::default(), &[], &[], Some(&org), &[]);
        assert_eq!(a.server_name.as_deref(), Some("matrix.hospital-a.nl"));
        // TIC (June 2025) and 001 §7: PractitionerRole.endpoint → an Endpoint named for Matrix.
        let role: PractitionerRole = read(&dir, "spec-snippets/tic-spec-7975484-07-PractitionerRole.json");
        let ep: Endpoint = read(&dir, "spec-snippets/tic-spec-7975484-08-Endpoint.json");
        assert_eq!(role.endpoint[0].id_of("Endpoint"), ep.id.as_deref());
        let a = matrix_address(&Practitioner::default(), &[role], &[&ep], None, &[]);
        assert_eq!(a.homeserver.map(|u| u.to_string()).as_deref(), Some("https://matrix.hospital-a.nl/"));
        // NL Generic Functions IG: a matrix.to URL on the role, in its lenient form
        // (nuts-foundation/nl-generic-functions-ig @ 4cffafe, input/fsh/examples/admin-directory-org3.fsh:174).
        let role: PractitionerRole = read(&dir, "derived/gf-org3-PractitionerRole-d60525bd.json");
        let a = matrix_address(&Practitioner::default(), &[role], &[], None, &[]);
        assert_eq!(a.user_id.as_deref(), Some("@doctorno:cp3.example.org"));
        // gematik VZD-FHIR-Directory, older form: the MXID bare in the address of a TI-Messenger
        // Endpoint, which a PractitionerRole refers to (gematik/api-ti-messenger @ f8654d7,
        // samples/postman/VZD-FHIR-Directory/FHIRDirectoryOwnerAPI.json; profile gematik/api-vzd @ 9c39b5f,
        // src/fhir/input/fsh/profiles/EndpointDirectory.fsh).
        let ep: Endpoint = read(&dir, "spec-snippets/gematik-timessenger-vzd-Endpoint-tim.json");
        let role: PractitionerRole =
            serde_json::from_value(serde_json::json!({"endpoint": [{"reference": "Endpoint/tim"}]})).unwrap();
        assert!(is_matrix_endpoint(&ep));
        let a = matrix_address(&Practitioner::default(), &[role], &[&ep], None, &[]);
        assert_eq!(a.user_id.as_deref(), Some("@gemtest:gematik.de"));
        assert_eq!(a.homeserver, None, "a user ID is not a homeserver");
        // A plain FHIR endpoint of an organisation is not a homeserver.
        let ep: Endpoint = read(&dir, "derived/gf-org3-Endpoint-8f224548.json");
        assert!(!is_matrix_endpoint(&ep));
    }

    #[test]
    fn lrza_directory_endpoints_are_recognised_in_both_codings() {
        let Some(dir) = fixtures() else { return eprintln!("no fixtures folder: skipped") };
        // The knooppunt's LRZa regression data: connectionType mcsd-directory, in a history Bundle.
        let history: Bundle = read(&dir, "knooppunt-mcsd/regression_lrza_endpoint_history_response.json");
        assert_eq!(history.bundle_type.as_deref(), Some("history"));
        let endpoints = history.resources_of::<Endpoint>().unwrap();
        assert!(!endpoints.is_empty());
        assert!(endpoints.iter().any(is_mcsd_directory_endpoint), "no directory endpoint among {}", endpoints.len());
        // The GF IG's LRZa example: payloadType admin-directory.
        let gf: Endpoint = read(&dir, "derived/gf-lrza-Endpoint-ffa3e969.json");
        assert!(is_mcsd_directory_endpoint(&gf));
        let orgs: Bundle = read(&dir, "knooppunt-mcsd/regression_lrza_organization_history_response.json");
        let orgs = orgs.resources_of::<Organization>().unwrap();
        assert!(orgs.iter().any(|o| o.identifier.iter().any(|i| i.system.as_deref() == Some(crate::URA_SYSTEM))));
    }

    #[test]
    fn every_knooppunt_bundle_parses_including_deletes_and_empty_ones() {
        let Some(dir) = fixtures() else { return eprintln!("no fixtures folder: skipped") };
        let mut parsed = 0;
        for entry in std::fs::read_dir(dir.join("knooppunt-mcsd")).unwrap() {
            let path = entry.unwrap().path();
            let value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            if value["resourceType"] != "Bundle" {
                continue; // the no-bundle regression case is a bare resource
            }
            let bundle: Bundle = serde_json::from_value(value).unwrap();
            bundle.resources_of::<Organization>().unwrap();
            bundle.resources_of::<Endpoint>().unwrap();
            parsed += 1;
        }
        assert!(parsed >= 10, "only {parsed} bundles");
    }

    #[test]
    fn nuts_discovery_results_give_the_directory_url() {
        let Some(dir) = fixtures() else { return eprintln!("no fixtures folder: skipped") };
        let results: Vec<serde_json::Value> = read(&dir, "derived/nuts-discovery-searchresult-example.json");
        let (url, name) = directory_from_nuts(&results, "1234", "fhirBaseURL").unwrap().unwrap();
        assert_eq!(url.as_str(), "https://example.com/fhir");
        assert_eq!(name.as_deref(), Some("Hospital XYZ"));
        assert_eq!(directory_from_nuts(&results, "9999", "fhirBaseURL").unwrap(), None);
    }

    #[test]
    fn ozo_and_tic_practitioners_and_organisations_parse() {
        let Some(dir) = fixtures() else { return eprintln!("no fixtures folder: skipped") };
        let mut count = 0;
        for sub in ["ozo", "spec-snippets", "derived"] {
            for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                let Ok(value) = serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&path).unwrap())
                else {
                    continue;
                };
                let parsed = match value["resourceType"].as_str() {
                    Some("Practitioner") => serde_json::from_value::<Practitioner>(value).map(drop),
                    Some("Organization") => serde_json::from_value::<Organization>(value).map(drop),
                    Some("PractitionerRole") => serde_json::from_value::<PractitionerRole>(value).map(drop),
                    Some("Endpoint") => serde_json::from_value::<Endpoint>(value).map(drop),
                    _ => continue,
                };
                parsed.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                count += 1;
            }
        }
        assert!(count >= 15, "only {count} resources");
    }
}
