//! A client for mCSD directories (IHE ITI-90 over FHIR R4).
//!
//! Queries stay inside the ITI-90 SHALL list: token search on `identifier`,
//! reference search (`practitioner=`), and plain reads. No chained
//! parameters and no reliance on `_include`: conformant directories need not
//! support them.

pub mod fhir;

use fhir::{Bundle, Endpoint, Organization, Practitioner, PractitionerRole, Resource};
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

#[derive(Clone, Debug)]
pub struct DirectoryClient {
    base: Url,
    http: reqwest::Client,
}

impl DirectoryClient {
    pub fn new(base: &str) -> Result<Self, DirectoryError> {
        let mut base = Url::parse(base).map_err(|e| DirectoryError::InvalidAddress(e.to_string()))?;
        // Url::join drops the last segment unless the base ends in '/'.
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| DirectoryError::InvalidAddress(e.to_string()))?;
        Ok(Self { base, http })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T, DirectoryError> {
        let url = self.base.join(path).map_err(|e| DirectoryError::InvalidAddress(e.to_string()))?;
        debug!(%url, "directory query");
        let response = self
            .http
            .get(url.clone())
            .query(query)
            .header("Accept", "application/fhir+json")
            .send()
            .await
            .map_err(|_| DirectoryError::Unreachable(self.base.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(DirectoryError::Status { status: status.as_u16(), url: url.to_string() });
        }
        let bytes = response.bytes().await.map_err(|_| DirectoryError::Unreachable(self.base.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| DirectoryError::Malformed(e.to_string()))
    }

    async fn search<T: Resource>(&self, query: &[(&str, &str)]) -> Result<Vec<T>, DirectoryError> {
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
}
