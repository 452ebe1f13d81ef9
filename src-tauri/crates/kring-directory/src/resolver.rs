//! URA → the organisation's own mCSD directory (001 §7). Resolvers are tried
//! in the configured order:
//!
//! - **LRZa**: the national address register is itself an mCSD directory; the
//!   Organization with that URA has an Endpoint that marks an mCSD directory;
//! - **Nuts discovery**: the organisation's registration for a discovery
//!   service carries the directory's URL as a registration parameter;
//! - **static**: a table in the deployment's configuration.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tracing::{debug, warn};
use url::Url;

use crate::{
    DirectoryClient, DirectoryError,
    fhir::{Coding, Endpoint},
};

/// The LRZa marks a directory either way; both are in published data (the
/// knooppunt's LRZa responses and the NL Generic Functions IG).
const MCSD_CONNECTION_SYSTEM: &str = "http://fhir.nl/fhir/NamingSystem/endpoint-connection-type";
const GF_CAPABILITIES_SYSTEM: &str =
    "http://nuts-foundation.github.io/nl-generic-functions-ig/CodeSystem/nl-gf-data-exchange-capabilities";

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResolverConfig {
    Lrza {
        base_url: String,
    },
    Nuts {
        base_url: String,
        service: String,
        /// The registration parameter that holds the directory URL.
        #[serde(default = "default_nuts_parameter")]
        parameter: String,
    },
    Static {
        directories: HashMap<String, String>,
    },
}

fn default_nuts_parameter() -> String {
    "fhirBaseURL".into()
}

impl ResolverConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Lrza { .. } => "lrza",
            Self::Nuts { .. } => "nuts",
            Self::Static { .. } => "static",
        }
    }
}

/// Where an organisation's directory is, and who said so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedDirectory {
    pub base_url: Url,
    /// The organisation's name as the resolver knows it, if it does.
    pub organisation_name: Option<String>,
    pub resolver: &'static str,
}

fn is_directory_coding(c: &Coding) -> bool {
    match c.system.as_deref() {
        Some(MCSD_CONNECTION_SYSTEM) => c.code.as_deref() == Some("mcsd-directory"),
        Some(GF_CAPABILITIES_SYSTEM) => c.code.as_deref().is_some_and(|code| code.contains("admin-directory")),
        _ => false,
    }
}

/// An LRZa Endpoint that points at an organisation's mCSD directory.
pub fn is_mcsd_directory_endpoint(e: &Endpoint) -> bool {
    let active = !matches!(e.status.as_deref(), Some("off" | "error" | "entered-in-error"));
    let marked = e.connection_type.as_ref().is_some_and(is_directory_coding)
        || e.payload_type.iter().flat_map(|p| &p.coding).any(is_directory_coding);
    active && marked && e.address.is_some()
}

/// One Nuts discovery search result, read leniently.
#[derive(Debug, Deserialize)]
struct NutsRegistration {
    #[serde(default)]
    fields: HashMap<String, serde_json::Value>,
    #[serde(default, rename = "registrationParameters")]
    registration_parameters: HashMap<String, serde_json::Value>,
}

/// The directory URL in a Nuts discovery search answer for `ura`.
pub fn directory_from_nuts(
    results: &[serde_json::Value],
    ura: &str,
    parameter: &str,
) -> Result<Option<(Url, Option<String>)>, DirectoryError> {
    for raw in results {
        let r: NutsRegistration =
            serde_json::from_value(raw.clone()).map_err(|e| DirectoryError::Malformed(e.to_string()))?;
        let field = |k: &str| {
            r.fields.get(k).and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string())))
        };
        // A service may answer more than was asked; only this URA counts.
        if field("organization_ura").is_some_and(|u| u != ura) {
            continue;
        }
        if let Some(url) =
            r.registration_parameters.get(parameter).and_then(|v| v.as_str()).and_then(|s| Url::parse(s).ok())
        {
            return Ok(Some((url, field("organization_name"))));
        }
    }
    Ok(None)
}

impl ResolverConfig {
    async fn resolve(&self, ura: &str) -> Result<Option<ResolvedDirectory>, DirectoryError> {
        match self {
            Self::Lrza { base_url } => {
                let lrza = DirectoryClient::new(base_url)?;
                let Some(org) = lrza.organization_by_ura(ura).await? else { return Ok(None) };
                let endpoints = lrza.endpoints_of(&org).await?;
                let found = endpoints.iter().find(|e| is_mcsd_directory_endpoint(e)).and_then(|e| e.address.as_deref());
                Ok(found.and_then(|a| Url::parse(a).ok()).map(|base_url| ResolvedDirectory {
                    base_url,
                    organisation_name: org.name.clone(),
                    resolver: "lrza",
                }))
            }
            Self::Nuts { base_url, service, parameter } => {
                let base = Url::parse(base_url).map_err(|e| DirectoryError::InvalidAddress(e.to_string()))?;
                let url = base
                    .join(&format!("internal/discovery/v1/{service}"))
                    .map_err(|e| DirectoryError::InvalidAddress(e.to_string()))?;
                let results: Vec<serde_json::Value> =
                    crate::get_json(&url, &[("credentialSubject.organization.ura", ura)]).await?;
                Ok(directory_from_nuts(&results, ura, parameter)?.map(|(base_url, organisation_name)| {
                    ResolvedDirectory { base_url, organisation_name, resolver: "nuts" }
                }))
            }
            Self::Static { directories } => Ok(directories
                .get(ura)
                .and_then(|u| Url::parse(u).ok())
                .map(|base_url| ResolvedDirectory { base_url, organisation_name: None, resolver: "static" })),
        }
    }
}

impl DirectoryClient {
    /// Every organisation directory an address register (LRZa) lists: one
    /// Endpoint search, filtered to the Endpoints that mark a directory.
    pub async fn listed_directories(&self) -> Result<Vec<String>, DirectoryError> {
        let endpoints = self.search::<Endpoint>(&[("_count", "1000")]).await?;
        Ok(endpoints.into_iter().filter(is_mcsd_directory_endpoint).filter_map(|e| e.address).collect())
    }
}

/// Tries each resolver in order. A URA no resolver knows is `Ok(None)`; but
/// when a resolver could not be asked and none of the others knew it, the
/// honest answer is that it could not be looked up, not that it is unknown.
pub async fn resolve_directory(
    resolvers: &[ResolverConfig],
    ura: &str,
) -> Result<Option<ResolvedDirectory>, DirectoryError> {
    let mut first_error = None;
    for resolver in resolvers {
        match resolver.resolve(ura).await {
            Ok(Some(found)) => {
                debug!(resolver = resolver.kind(), directory = %found.base_url, "directory found");
                return Ok(Some(found));
            }
            Ok(None) => debug!(resolver = resolver.kind(), "URA not known here"),
            Err(e) => {
                warn!(resolver = resolver.kind(), "resolver failed: {e}");
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(None), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_published_directory_codings_are_recognised() {
        let by_connection: Endpoint = serde_json::from_value(json!({"status": "active", "address": "https://a/fhir",
            "connectionType": {"system": MCSD_CONNECTION_SYSTEM, "code": "mcsd-directory"}}))
        .unwrap();
        let by_payload: Endpoint = serde_json::from_value(json!({"status": "active", "address": "https://b/fhir",
            "connectionType": {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type", "code": "hl7-fhir-rest"},
            "payloadType": [{"coding": [{"system": GF_CAPABILITIES_SYSTEM,
                "code": "http://nuts-foundation.github.io/nl-generic-functions-ig/CapabilityStatement/nl-gf-admin-directory-update-client"}]}]})).unwrap();
        let plain_fhir: Endpoint = serde_json::from_value(json!({"status": "active", "address": "https://c/fhir",
            "connectionType": {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type", "code": "hl7-fhir-rest"}})).unwrap();
        assert!(is_mcsd_directory_endpoint(&by_connection));
        assert!(is_mcsd_directory_endpoint(&by_payload));
        assert!(!is_mcsd_directory_endpoint(&plain_fhir));
    }

    #[test]
    fn a_nuts_answer_yields_the_directory_of_that_ura_only() {
        let results = vec![
            json!({"fields": {"organization_ura": "111", "organization_name": "Ander"}, "registrationParameters": {"fhirBaseURL": "https://other/fhir"}}),
            json!({"fields": {"organization_ura": "90300003", "organization_name": "Apotheek"}, "registrationParameters": {"fhirBaseURL": "https://b/fhir"}}),
        ];
        let (url, name) = directory_from_nuts(&results, "90300003", "fhirBaseURL").unwrap().unwrap();
        assert_eq!(url.as_str(), "https://b/fhir");
        assert_eq!(name.as_deref(), Some("Apotheek"));
        assert_eq!(directory_from_nuts(&results, "90300003", "mcsdURL").unwrap(), None);
        assert_eq!(directory_from_nuts(&[], "1", "fhirBaseURL").unwrap(), None);
    }

    #[tokio::test]
    async fn a_static_table_is_the_last_word_and_unknown_is_none() {
        let resolvers =
            vec![ResolverConfig::Static { directories: HashMap::from([("1".into(), "https://d/fhir".into())]) }];
        let found = resolve_directory(&resolvers, "1").await.unwrap().unwrap();
        assert_eq!((found.base_url.as_str(), found.resolver), ("https://d/fhir", "static"));
        assert_eq!(resolve_directory(&resolvers, "2").await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_unreachable_resolver_is_reported_when_no_other_knows_the_ura() {
        let resolvers = vec![
            ResolverConfig::Lrza { base_url: "http://127.0.0.1:9/fhir".into() },
            ResolverConfig::Static { directories: HashMap::from([("1".into(), "https://d/fhir".into())]) },
        ];
        assert!(matches!(resolve_directory(&resolvers, "2").await, Err(DirectoryError::Unreachable(_))));
        assert_eq!(resolve_directory(&resolvers, "1").await.unwrap().unwrap().resolver, "static");
    }
}
