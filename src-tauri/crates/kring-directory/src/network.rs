//! What a directory says about one practitioner for the care network (UC1):
//! name, function, organisation, absences; change detection with
//! `_lastUpdated`; and the search that adding someone to a care team starts
//! from. Only ITI-90 SHALL queries: reads, `practitioner=`, `name:contains`,
//! `_lastUpdated`.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::{
    DirectoryClient, DirectoryError,
    fhir::{Organization, Practitioner, PractitionerRole},
    matrix_address::matrix_address,
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
    /// The role as the directory words it ("Huisarts"), else its code.
    pub function: Option<String>,
    pub organisation: Option<String>,
    pub absences: Vec<AbsencePeriod>,
    pub practitioner_id: Option<String>,
    pub role_id: Option<String>,
    /// The MXID the directory publishes, if any.
    pub user_id: Option<String>,
}

fn function_of(role: &PractitionerRole) -> Option<String> {
    let concept = role.code.first()?;
    concept
        .coding
        .iter()
        .find_map(|c| c.display.clone())
        .or_else(|| concept.text.clone())
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

/// Organisation names by id, so a refresh reads each Organization about
/// once, also when it looks people up concurrently.
#[derive(Default)]
pub struct OrganisationNames(std::sync::Mutex<HashMap<String, Option<String>>>);

impl OrganisationNames {
    fn get(&self, id: &str) -> Option<Option<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    fn put(&self, id: &str, name: Option<String>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_owned(), name);
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

    fn details(
        &self,
        p: &Practitioner,
        role: Option<&PractitionerRole>,
        organisation: Option<String>,
    ) -> PractitionerDetails {
        let roles: Vec<PractitionerRole> = role.cloned().into_iter().collect();
        PractitionerDetails {
            name: p.display_name(),
            function: role.and_then(function_of),
            organisation,
            absences: role.map(absences_of).unwrap_or_default(),
            practitioner_id: p.id.clone(),
            role_id: role.and_then(|r| r.id.clone()),
            user_id: matrix_address(p, &roles, &[], None, &[]).user_id,
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
        Ok(Some(self.details(&practitioner, role.as_ref(), organisation)))
    }

    /// Ids of the roles and practitioners changed after `since` (ITI-90
    /// `_lastUpdated=gt…`): two requests tell whether a cache is current.
    pub async fn changed_since(&self, since: &str) -> Result<(HashSet<String>, HashSet<String>), DirectoryError> {
        let filter = format!("gt{since}");
        let roles = self.search::<PractitionerRole>(&[("_lastUpdated", &filter), ("_count", "500")]).await?;
        let people = self.search::<Practitioner>(&[("_lastUpdated", &filter), ("_count", "500")]).await?;
        Ok((roles.into_iter().filter_map(|r| r.id).collect(), people.into_iter().filter_map(|p| p.id).collect()))
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
            found.push(self.details(p, role.as_ref(), organisation));
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
        assert_eq!(function_of(&code_only).as_deref(), Some("30.000"));
    }
}
