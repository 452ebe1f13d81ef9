//! The slice of FHIR R4 that mCSD directories serve, read leniently: unknown
//! fields are ignored, missing optional fields default.

use serde::{Deserialize, de::DeserializeOwned};

use crate::DirectoryError;

pub trait Resource: DeserializeOwned {
    const TYPE: &'static str;
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Identifier {
    pub system: Option<String>,
    pub value: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Coding {
    pub system: Option<String>,
    pub code: Option<String>,
    pub display: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct CodeableConcept {
    #[serde(default)]
    pub coding: Vec<Coding>,
    pub text: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Reference {
    pub reference: Option<String>,
    pub display: Option<String>,
}

impl Reference {
    /// The id of a relative reference `Type/id` of the given type.
    pub fn id_of(&self, resource_type: &str) -> Option<&str> {
        let r = self.reference.as_deref()?;
        let tail = r.rsplit_once(&format!("{resource_type}/"))?.1;
        Some(tail.split('/').next().unwrap_or(tail))
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct HumanName {
    pub text: Option<String>,
    pub family: Option<String>,
    #[serde(default)]
    pub given: Vec<String>,
    #[serde(default)]
    pub prefix: Vec<String>,
}

impl HumanName {
    pub fn display(&self) -> String {
        if let Some(text) = &self.text {
            return text.clone();
        }
        self.prefix.iter().chain(self.given.iter()).chain(self.family.iter()).cloned().collect::<Vec<_>>().join(" ")
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Extension {
    pub url: Option<String>,
    #[serde(rename = "valueString")]
    pub value_string: Option<String>,
    #[serde(rename = "valueCoding")]
    pub value_coding: Option<Coding>,
    #[serde(rename = "valueCode")]
    pub value_code: Option<String>,
    /// The value type FHIR defines for contactpoint-purpose and IHE for
    /// mCSD's endpoint-specific type.
    #[serde(rename = "valueCodeableConcept")]
    pub value_codeable_concept: Option<CodeableConcept>,
}

pub const CONTACTPOINT_PURPOSE: &str = "http://hl7.org/fhir/StructureDefinition/contactpoint-purpose";

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct ContactPoint {
    pub system: Option<String>,
    pub value: Option<String>,
    #[serde(default)]
    pub extension: Vec<Extension>,
}

impl ContactPoint {
    /// Whether the contactpoint-purpose extension says `wanted`
    /// (`matrix-messaging`, `matrix-homeserver`). FHIR types it
    /// CodeableConcept (Extensions Pack); TIC writes a string; code and
    /// Coding occur too.
    pub fn has_purpose(&self, wanted: &str) -> bool {
        self.extension.iter().filter(|e| e.url.as_deref() == Some(CONTACTPOINT_PURPOSE)).any(|e| {
            let concept = e
                .value_codeable_concept
                .iter()
                .flat_map(|c| c.coding.iter().filter_map(|c| c.code.as_deref()).chain(c.text.as_deref()));
            e.value_string
                .as_deref()
                .into_iter()
                .chain(e.value_code.as_deref())
                .chain(e.value_coding.as_ref().and_then(|c| c.code.as_deref()))
                .chain(concept)
                .any(|v| v == wanted)
        })
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct OrganizationContact {
    #[serde(default)]
    pub telecom: Vec<ContactPoint>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Organization {
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub identifier: Vec<Identifier>,
    #[serde(default)]
    pub endpoint: Vec<Reference>,
    #[serde(default)]
    pub telecom: Vec<ContactPoint>,
    #[serde(default)]
    pub contact: Vec<OrganizationContact>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Practitioner {
    pub id: Option<String>,
    #[serde(default)]
    pub identifier: Vec<Identifier>,
    #[serde(default)]
    pub name: Vec<HumanName>,
    #[serde(default)]
    pub telecom: Vec<ContactPoint>,
}

impl Practitioner {
    pub fn display_name(&self) -> Option<String> {
        self.name.first().map(HumanName::display)
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Meta {
    #[serde(rename = "lastUpdated")]
    pub last_updated: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Period {
    pub start: Option<String>,
    pub end: Option<String>,
}

/// `PractitionerRole.notAvailable`: when the practitioner is away.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct NotAvailable {
    pub description: Option<String>,
    pub during: Option<Period>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct PractitionerRole {
    pub id: Option<String>,
    pub meta: Option<Meta>,
    #[serde(default, rename = "notAvailable")]
    pub not_available: Vec<NotAvailable>,
    pub practitioner: Option<Reference>,
    pub organization: Option<Reference>,
    #[serde(default)]
    pub code: Vec<CodeableConcept>,
    #[serde(default)]
    pub endpoint: Vec<Reference>,
    #[serde(default)]
    pub telecom: Vec<ContactPoint>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Endpoint {
    pub id: Option<String>,
    pub status: Option<String>,
    #[serde(rename = "connectionType")]
    pub connection_type: Option<Coding>,
    pub name: Option<String>,
    pub address: Option<String>,
    #[serde(default, rename = "payloadType")]
    pub payload_type: Vec<CodeableConcept>,
    /// mCSD's endpoint-specific type, among others.
    #[serde(default)]
    pub extension: Vec<Extension>,
}

impl Resource for Organization {
    const TYPE: &'static str = "Organization";
}
impl Resource for Practitioner {
    const TYPE: &'static str = "Practitioner";
}
impl Resource for PractitionerRole {
    const TYPE: &'static str = "PractitionerRole";
}
impl Resource for Endpoint {
    const TYPE: &'static str = "Endpoint";
}

#[derive(Clone, Debug, Deserialize)]
pub struct Bundle {
    #[serde(rename = "resourceType")]
    pub resource_type: String,
    /// searchset, history, …
    #[serde(rename = "type")]
    pub bundle_type: Option<String>,
    #[serde(default)]
    pub entry: Vec<BundleEntry>,
    #[serde(default)]
    pub link: Vec<BundleLink>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct BundleEntry {
    #[serde(rename = "fullUrl")]
    pub full_url: Option<String>,
    pub resource: Option<serde_json::Value>,
    /// In a history Bundle: what was done (POST, PUT, DELETE) to which URL.
    pub request: Option<BundleRequest>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct BundleRequest {
    pub method: Option<String>,
    pub url: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct BundleLink {
    pub relation: Option<String>,
    pub url: Option<String>,
}

impl Bundle {
    /// The `next` page's URL, if there is one.
    pub fn next_link(&self) -> Option<&str> {
        self.link.iter().find(|l| l.relation.as_deref() == Some("next")).and_then(|l| l.url.as_deref())
    }

    /// In a history Bundle, the ids of `resource_type` that were created,
    /// changed or deleted. A deletion carries no resource: its id is in the
    /// request URL (`Type/id`) or the entry's fullUrl. Some servers leave out
    /// `request` (knooppunt bug 233), so each source is tried in turn.
    pub fn history_ids(&self, resource_type: &str) -> std::collections::HashSet<String> {
        let id_in = |url: &str| -> Option<String> {
            let tail = url.rsplit_once(&format!("{resource_type}/")).map(|(_, t)| t)?;
            let id = tail.split(['/', '?']).next().filter(|id| !id.is_empty() && *id != "_history")?;
            Some(id.to_owned())
        };
        self.entry
            .iter()
            .filter_map(|e| match &e.resource {
                Some(r) if r.get("resourceType").and_then(|t| t.as_str()) == Some(resource_type) => {
                    r.get("id").and_then(|i| i.as_str()).map(str::to_owned)
                }
                Some(_) => None,
                None => e
                    .request
                    .as_ref()
                    .and_then(|q| q.url.as_deref())
                    .and_then(id_in)
                    .or_else(|| e.full_url.as_deref().and_then(id_in)),
            })
            .collect()
    }

    /// The entries of type `T`, skipping others (e.g. included resources).
    pub fn resources_of<T: Resource>(&self) -> Result<Vec<T>, DirectoryError> {
        if self.resource_type != "Bundle" {
            return Err(DirectoryError::Malformed(format!("expected a Bundle, got {}", self.resource_type)));
        }
        self.entry
            .iter()
            .filter_map(|e| e.resource.as_ref())
            .filter(|r| r.get("resourceType").and_then(|t| t.as_str()) == Some(T::TYPE))
            .map(|r| serde_json::from_value(r.clone()).map_err(|e| DirectoryError::Malformed(e.to_string())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_bundle_yields_only_the_asked_type() {
        let bundle: Bundle = serde_json::from_value(serde_json::json!({
            "resourceType": "Bundle", "type": "searchset",
            "entry": [
                {"resource": {"resourceType": "PractitionerRole", "id": "r1",
                    "practitioner": {"reference": "Practitioner/p1"},
                    "code": [{"coding": [{"system": "http://snomed.info/sct", "code": "158965000"}]}],
                    "endpoint": [{"reference": "Endpoint/e1"}]}},
                {"resource": {"resourceType": "Endpoint", "id": "e1", "address": "https://hs.example"}}
            ]
        }))
        .unwrap();
        let roles = bundle.resources_of::<PractitionerRole>().unwrap();
        assert_eq!(roles.len(), 1);
        assert_eq!(roles[0].practitioner.as_ref().unwrap().id_of("Practitioner"), Some("p1"));
        assert_eq!(roles[0].endpoint[0].id_of("Endpoint"), Some("e1"));
        assert_eq!(bundle.resources_of::<Endpoint>().unwrap()[0].address.as_deref(), Some("https://hs.example"));
    }

    #[test]
    fn an_operation_outcome_is_not_a_bundle() {
        let bundle: Bundle = serde_json::from_value(serde_json::json!({"resourceType": "OperationOutcome"})).unwrap();
        assert!(matches!(bundle.resources_of::<Practitioner>(), Err(DirectoryError::Malformed(_))));
    }

    #[test]
    fn names_read_as_people_write_them() {
        let name = HumanName {
            family: Some("Jansen".into()),
            given: vec!["Eva".into()],
            prefix: vec!["dr.".into()],
            text: None,
        };
        assert_eq!(name.display(), "dr. Eva Jansen");
    }
}
