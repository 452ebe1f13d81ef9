//! What a directory says about one practitioner for the care network (UC1):
//! name, function, organisation, absences; and the search that adding
//! someone to a care team starts from. Only ITI-90 SHALL queries: reads,
//! `practitioner=`, `name:contains`. Change detection is in `changes`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{
    DirectoryClient, DirectoryError,
    fhir::{Endpoint, Organization, Practitioner, PractitionerRole, Reference},
    matrix_address::matrix_address,
    role_codes::role_name_of,
};

/// One absence period; `start`/`end` are as the directory wrote them
/// (FHIR dateTime or date), open-ended when missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbsencePeriod {
    pub start: Option<String>,
    pub end: Option<String>,
    pub description: Option<String>,
}

/// A FHIR date or dateTime as an instant: a plain date means the start of
/// that day (or its end, for the end of a period) in the Netherlands.
fn instant(raw: &str, end_of_day: bool) -> Option<jiff::Timestamp> {
    if let Ok(ts) = raw.parse::<jiff::Timestamp>() {
        return Some(ts);
    }
    let date: jiff::civil::Date = raw.get(..10)?.parse().ok()?;
    let time = if end_of_day { jiff::civil::time(23, 59, 59, 999_999_999) } else { jiff::civil::time(0, 0, 0, 0) };
    let tz = jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap_or(jiff::tz::TimeZone::UTC);
    date.to_datetime(time).to_zoned(tz).ok().map(|z| z.timestamp())
}

impl AbsencePeriod {
    /// Whether `now` falls in the period. A period whose bounds cannot be
    /// read counts as not current: better no badge than a wrong one.
    pub fn is_current(&self, now: jiff::Timestamp) -> bool {
        let after_start = match self.start.as_deref() {
            Some(s) => instant(s, false).is_some_and(|t| t <= now),
            None => true,
        };
        let before_end = match self.end.as_deref() {
            Some(e) => instant(e, true).is_some_and(|t| now <= t),
            None => true,
        };
        after_start && before_end && (self.start.is_some() || self.end.is_some())
    }
}

/// The directory's answer for one practitioner.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PractitionerDetails {
    pub name: Option<String>,
    /// The role as the directory words it ("Huisarts"), else the name of its
    /// UZI role code, else its code.
    pub function: Option<String>,
    pub organisation: Option<String>,
    pub absences: Vec<AbsencePeriod>,
    pub practitioner_id: Option<String>,
    pub role_id: Option<String>,
    /// The role's Organization in the same directory.
    #[serde(default)]
    pub organisation_id: Option<String>,
    /// The MXID the directory publishes, if any.
    pub user_id: Option<String>,
    /// The UZI number the Practitioner carries: what an identity service
    /// can be asked for when the directory publishes no MXID.
    #[serde(default)]
    pub uzi: Option<String>,
    /// The homeserver their Endpoint names (client API base URL), where no
    /// MXID is published: its identity service may know their UZI.
    #[serde(default)]
    pub homeserver: Option<String>,
}

fn function_of(role: &PractitionerRole) -> Option<String> {
    let concept = role.code.first()?;
    concept
        .coding
        .iter()
        .find_map(|c| c.display.clone())
        .or_else(|| concept.text.clone())
        .or_else(|| concept.coding.iter().find_map(role_name_of).map(str::to_owned))
        .or_else(|| concept.coding.iter().find_map(|c| c.code.clone()))
}

fn absences_of(role: &PractitionerRole) -> Vec<AbsencePeriod> {
    role.not_available
        .iter()
        .map(|n| AbsencePeriod {
            start: n.during.as_ref().and_then(|d| d.start.clone()),
            end: n.during.as_ref().and_then(|d| d.end.clone()),
            description: n.description.clone(),
        })
        .collect()
}

/// Organisation names, and the Endpoints roles refer to, by id, so a
/// refresh reads each Organization and Endpoint about once, also when it
/// looks people up concurrently (an organisation's roles share its
/// homeserver's Endpoint).
#[derive(Default)]
pub struct OrganisationNames {
    names: std::sync::Mutex<HashMap<String, Option<String>>>,
    endpoints: std::sync::Mutex<HashMap<String, Endpoint>>,
}

impl OrganisationNames {
    fn get(&self, id: &str) -> Option<Option<String>> {
        self.names.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    fn put(&self, id: &str, name: Option<String>) {
        self.names.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_owned(), name);
    }

    /// The Endpoints among `references` read before.
    fn endpoints(&self, references: &[Reference]) -> Vec<Endpoint> {
        let known = self.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        references.iter().filter_map(|r| known.get(r.id_of("Endpoint")?).cloned()).collect()
    }

    fn put_endpoints(&self, endpoints: &[Endpoint]) {
        let mut known = self.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        for e in endpoints {
            if let Some(id) = &e.id {
                known.insert(id.clone(), e.clone());
            }
        }
    }
}

impl DirectoryClient {
    async fn organisation_name(
        &self,
        role: &PractitionerRole,
        names: &OrganisationNames,
    ) -> Result<Option<String>, DirectoryError> {
        let Some(reference) = &role.organization else { return Ok(None) };
        if let Some(display) = &reference.display {
            return Ok(Some(display.clone()));
        }
        let Some(id) = reference.id_of("Organization") else { return Ok(None) };
        if let Some(name) = names.get(id) {
            return Ok(name);
        }
        let name = match self.get::<Organization>(&format!("Organization/{id}"), &[]).await {
            Ok(org) => org.name,
            Err(DirectoryError::Status { status: 404 | 410, .. }) => None,
            Err(e) => return Err(e),
        };
        names.put(id, name.clone());
        Ok(name)
    }

    /// The Endpoints of the role, when no telecom names the MXID: the gematik
    /// VZD (and an mCSD Endpoint typed `matrix`) publishes it as an Endpoint's
    /// address. Other people need no extra request.
    async fn role_endpoints(
        &self,
        p: &Practitioner,
        role: Option<&PractitionerRole>,
        known: &OrganisationNames,
    ) -> Result<Vec<Endpoint>, DirectoryError> {
        let Some(role) = role.filter(|r| !r.endpoint.is_empty()) else { return Ok(Vec::new()) };
        if matrix_address(p, std::slice::from_ref(role), &[], None, &[]).user_id.is_some() {
            return Ok(Vec::new());
        }
        let endpoints = match self.read_endpoints(&role.endpoint, known.endpoints(&role.endpoint)).await {
            Ok(endpoints) => endpoints,
            // An Endpoint the directory does not show must not hide the name and role.
            Err(DirectoryError::Status { status, .. }) => {
                tracing::warn!(status, "the role's Endpoints cannot be read");
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        known.put_endpoints(&endpoints);
        Ok(endpoints)
    }

    fn details(
        &self,
        p: &Practitioner,
        role: Option<&PractitionerRole>,
        endpoints: &[Endpoint],
        organisation: Option<String>,
    ) -> PractitionerDetails {
        let roles: Vec<PractitionerRole> = role.cloned().into_iter().collect();
        let endpoints: Vec<&Endpoint> = endpoints.iter().collect();
        let address = matrix_address(p, &roles, &endpoints, None, &[]);
        PractitionerDetails {
            name: p.display_name(),
            function: role.and_then(function_of),
            organisation,
            absences: role.map(absences_of).unwrap_or_default(),
            practitioner_id: p.id.clone(),
            role_id: role.and_then(|r| r.id.clone()),
            organisation_id: role
                .and_then(|r| r.organization.as_ref())
                .and_then(|o| o.id_of("Organization"))
                .map(str::to_owned),
            user_id: address.user_id,
            homeserver: address
                .homeserver
                .map(|u| u.to_string())
                .or_else(|| address.server_name.map(|s| format!("https://{s}/"))),
            uzi: p
                .identifier
                .iter()
                .find(|i| i.system.as_deref().is_some_and(|s| crate::UZI_SYSTEMS.contains(&s)))
                .and_then(|i| i.value.clone()),
        }
    }

    /// The practitioner behind a role id (from an identity binding), or
    /// else found by UZI. `None` when the directory does not know them.
    pub async fn practitioner_details(
        &self,
        role_id: Option<&str>,
        uzi: &str,
        names: &OrganisationNames,
    ) -> Result<Option<PractitionerDetails>, DirectoryError> {
        let by_role = match role_id {
            Some(id) => match self.get::<PractitionerRole>(&format!("PractitionerRole/{id}"), &[]).await {
                Ok(role) => Some(role),
                Err(DirectoryError::Status { status: 404 | 410, .. }) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        let (practitioner, role) = match by_role {
            Some(role) => {
                let Some(pid) = role.practitioner.as_ref().and_then(|r| r.id_of("Practitioner")) else {
                    return Ok(None);
                };
                (self.get::<Practitioner>(&format!("Practitioner/{pid}"), &[]).await?, Some(role))
            }
            None => {
                let Some(p) = self.practitioner_by_uzi(uzi).await? else { return Ok(None) };
                let role = self.roles_of(p.id.as_deref().unwrap_or_default()).await?.into_iter().next();
                (p, role)
            }
        };
        let organisation = match &role {
            Some(r) => self.organisation_name(r, names).await?,
            None => None,
        };
        let endpoints = self.role_endpoints(&practitioner, role.as_ref(), names).await?;
        Ok(Some(self.details(&practitioner, role.as_ref(), &endpoints, organisation)))
    }

    /// Practitioners by name (`name:contains`), or everyone when no name is
    /// given, each with their first role; the caller filters by role and
    /// organisation text.
    pub async fn search_practitioners(
        &self,
        name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<PractitionerDetails>, DirectoryError> {
        let count = limit.to_string();
        let people = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => self.search::<Practitioner>(&[("name:contains", n), ("_count", &count)]).await?,
            None => self.search::<Practitioner>(&[("_count", &count)]).await?,
        };
        let names = OrganisationNames::default();
        let mut found = Vec::new();
        for p in people.iter().take(limit) {
            let role = self.roles_of(p.id.as_deref().unwrap_or_default()).await?.into_iter().next();
            let organisation = match &role {
                Some(r) => self.organisation_name(r, &names).await?,
                None => None,
            };
            let endpoints = self.role_endpoints(p, role.as_ref(), &names).await?;
            found.push(self.details(p, role.as_ref(), &endpoints, organisation));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn absences_are_current_between_their_bounds_in_dutch_time() {
        let now = at("2026-12-01T12:00:00Z");
        let p = |s: Option<&str>, e: Option<&str>| AbsencePeriod {
            start: s.map(Into::into),
            end: e.map(Into::into),
            description: None,
        };
        assert!(p(Some("2026-11-29T00:00:00+01:00"), Some("2026-12-06T23:59:59+01:00")).is_current(now));
        assert!(!p(Some("2026-12-10"), Some("2026-12-12")).is_current(now), "a future absence");
        assert!(!p(Some("2026-11-01"), Some("2026-11-30")).is_current(now), "a past absence");
        assert!(p(Some("2026-12-01"), None).is_current(now), "open-ended");
        // A date-only end lasts the whole day in the Netherlands (23:30 UTC is 00:30 CET next day).
        assert!(p(None, Some("2026-12-01")).is_current(at("2026-12-01T22:30:00Z")));
        assert!(!p(None, Some("2026-12-01")).is_current(at("2026-12-01T23:30:00Z")));
        assert!(!p(Some("garbage"), None).is_current(now));
        assert!(!p(None, None).is_current(now), "a period without bounds says nothing");
    }

    #[test]
    fn the_role_gives_function_and_absences() {
        let role: PractitionerRole = serde_json::from_value(serde_json::json!({
            "code": [{"coding": [{"system": "http://fhir.nl/fhir/NamingSystem/uzi-rolcode", "code": "01.015", "display": "Huisarts"}]}],
            "notAvailable": [{"description": "Vakantie", "during": {"start": "2026-11-29", "end": "2026-12-06"}}]
        }))
        .unwrap();
        assert_eq!(function_of(&role).as_deref(), Some("Huisarts"));
        let a = absences_of(&role);
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].description.as_deref(), a[0].end.as_deref()), (Some("Vakantie"), Some("2026-12-06")));
        let code_only: PractitionerRole =
            serde_json::from_value(serde_json::json!({"code": [{"coding": [{"code": "30.000"}]}]})).unwrap();
        assert_eq!(function_of(&code_only).as_deref(), Some("Verpleegkundige"));
    }

    #[test]
    fn a_role_code_without_display_shows_its_uzi_name() {
        let role = |coding: serde_json::Value| -> PractitionerRole {
            serde_json::from_value(serde_json::json!({"code": [{"coding": [coding]}]})).unwrap()
        };
        let uzi = "http://fhir.nl/fhir/NamingSystem/uzi-rolcode";
        let gp = serde_json::json!({"system": uzi, "code": "01.015"});
        assert_eq!(function_of(&role(gp)).as_deref(), Some("Huisarts"));
        let oid = serde_json::json!({"system": "urn:oid:2.16.840.1.113883.2.4.15.111", "code": "17.000"});
        assert_eq!(function_of(&role(oid)).as_deref(), Some("Apotheker"));
        // The directory's own wording wins over the table.
        let worded = serde_json::json!({"system": uzi, "code": "01.015", "display": "Huisarts (waarnemer)"});
        assert_eq!(function_of(&role(worded)).as_deref(), Some("Huisarts (waarnemer)"));
        // A code the table does not know, or of another system, shows as written.
        let unknown = serde_json::json!({"system": uzi, "code": "01.999"});
        assert_eq!(function_of(&role(unknown)).as_deref(), Some("01.999"));
        let snomed = serde_json::json!({"system": "http://snomed.info/sct", "code": "01.015"});
        assert_eq!(function_of(&role(snomed)).as_deref(), Some("01.015"));
    }

    /// gematik VZD-FHIR-Directory: the MXID is the address of the role's
    /// Endpoint (gematik/api-vzd @ 9c39b5f, src/fhir/input/fsh/profiles/EndpointDirectory.fsh).
    #[tokio::test]
    async fn the_role_endpoint_is_read_only_when_no_telecom_names_the_account() {
        // Nothing listens here: a request shows as an Unreachable error.
        let client = DirectoryClient::new("http://127.0.0.1:9/fhir").unwrap();
        let role = serde_json::json!({"id": "r1", "endpoint": [{"reference": "Endpoint/tim1"}]});
        let role: PractitionerRole = serde_json::from_value(role).unwrap();
        let endpoint = serde_json::json!({"resourceType": "Endpoint", "id": "tim1", "status": "active",
            "address": "matrix:u/dr.weber:tim.example.de",
            "connectionType": {"system": crate::matrix_address::GEMATIK_CONNECTION_TYPES, "code": "tim"}});
        let endpoint: Endpoint = serde_json::from_value(endpoint).unwrap();
        let nobody = Practitioner::default();
        let known = OrganisationNames::default();
        let unread = client.role_endpoints(&nobody, Some(&role), &known).await;
        assert!(matches!(unread, Err(DirectoryError::Unreachable(_))), "the Endpoint is asked for");
        assert_eq!(client.requests(), 1);

        known.put_endpoints(std::slice::from_ref(&endpoint));
        let endpoints = client.role_endpoints(&nobody, Some(&role), &known).await.unwrap();
        assert_eq!(client.requests(), 1, "an Endpoint read before is not asked for again");
        let details = client.details(&nobody, Some(&role), &endpoints, None);
        assert_eq!(details.user_id.as_deref(), Some("@dr.weber:tim.example.de"));

        let telecom = serde_json::json!([{"system": "url", "value": "https://matrix.to/#/@dr.weber:tim.example.de"}]);
        let with_telecom: Practitioner = serde_json::from_value(serde_json::json!({"telecom": telecom})).unwrap();
        let fresh = OrganisationNames::default();
        assert!(client.role_endpoints(&with_telecom, Some(&role), &fresh).await.unwrap().is_empty());
        assert_eq!(client.requests(), 1, "a telecom MXID needs no Endpoint");
    }
}
