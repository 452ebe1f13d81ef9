//! What changed in a directory since an instant, for caches of it (the care
//! network, the migration watch): IHE ITI-91 "Request Care Services Updates"
//! (`[type]/_history?_since=`) where the directory offers it, the ITI-90
//! search `_lastUpdated=gt…` otherwise. Only ITI-91 reports deletions: a role
//! removed from the directory (someone left the organisation) shows as
//! changed, where a search can only stop returning it.

use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, Mutex};

use crate::fhir::{Bundle, Practitioner, PractitionerRole, Resource};
use crate::{DirectoryClient, DirectoryError};

/// More pages than a change feed of one refresh interval should need; a
/// directory that keeps linking on past this is answering in a loop.
const MAX_HISTORY_PAGES: usize = 100;

/// How the changes were learnt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeFeed {
    /// ITI-91: the type-level `_history`, deletions included.
    History,
    /// ITI-90: a `_lastUpdated` search; deletions are not seen.
    LastUpdated,
}

/// The ids of the roles and practitioners created, changed or (ITI-91 only)
/// deleted since the instant asked about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryChanges {
    pub roles: HashSet<String>,
    pub practitioners: HashSet<String>,
    pub feed: ChangeFeed,
}

impl DirectoryChanges {
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.practitioners.is_empty()
    }
}

/// Per directory base URL: whether it answered `_history` (true) or refused
/// it (false). Asked once per process, so a directory without ITI-91 costs
/// one refused request, not one per refresh.
static HISTORY_OFFERED: LazyLock<Mutex<HashMap<String, bool>>> = LazyLock::new(Default::default);

/// What a directory without type-level history answers: the path is read as
/// an instance (`_history` as an id) or as an unsupported interaction.
fn is_refusal(e: &DirectoryError) -> bool {
    matches!(e, DirectoryError::Status { status: 400 | 403 | 404 | 405 | 501, .. })
}

impl DirectoryClient {
    /// The roles and practitioners changed after `since` (an instant in the
    /// directory's clock, RFC 3339): ITI-91 where offered, else ITI-90.
    pub async fn changes_since(&self, since: &str) -> Result<DirectoryChanges, DirectoryError> {
        let key = self.base().as_str().to_owned();
        let offered = HISTORY_OFFERED.lock().unwrap_or_else(|e| e.into_inner()).get(&key).copied();
        if offered != Some(false) {
            match self.history_since(since).await {
                Ok(changes) => {
                    HISTORY_OFFERED.lock().unwrap_or_else(|e| e.into_inner()).insert(key, true);
                    return Ok(changes);
                }
                // A directory that answered ITI-91 before and fails now is
                // down or broken, not without ITI-91: say so.
                Err(e) if offered.is_none() && is_refusal(&e) => {
                    HISTORY_OFFERED.lock().unwrap_or_else(|e| e.into_inner()).insert(key, false);
                }
                Err(e) => return Err(e),
            }
        }
        let filter = format!("gt{since}");
        let roles = self.search::<PractitionerRole>(&[("_lastUpdated", &filter), ("_count", "500")]).await?;
        let people = self.search::<Practitioner>(&[("_lastUpdated", &filter), ("_count", "500")]).await?;
        Ok(DirectoryChanges {
            roles: roles.into_iter().filter_map(|r| r.id).collect(),
            practitioners: people.into_iter().filter_map(|p| p.id).collect(),
            feed: ChangeFeed::LastUpdated,
        })
    }

    async fn history_since(&self, since: &str) -> Result<DirectoryChanges, DirectoryError> {
        Ok(DirectoryChanges {
            roles: self.history_ids::<PractitionerRole>(since).await?,
            practitioners: self.history_ids::<Practitioner>(since).await?,
            feed: ChangeFeed::History,
        })
    }

    /// Every id in `T`'s history since `since`, following `next` links.
    async fn history_ids<T: Resource>(&self, since: &str) -> Result<HashSet<String>, DirectoryError> {
        let mut ids = HashSet::new();
        let mut page: Bundle = self.get(&format!("{}/_history", T::TYPE), &[("_since", since)]).await?;
        for _ in 0..MAX_HISTORY_PAGES {
            if page.bundle_type.as_deref() != Some("history") {
                return Err(DirectoryError::Malformed(format!(
                    "expected a history Bundle, got {}",
                    page.bundle_type.as_deref().unwrap_or("a Bundle without a type")
                )));
            }
            ids.extend(page.history_ids(T::TYPE));
            let Some(next) = page.next_link() else { return Ok(ids) };
            let next = self.base().join(next).map_err(|e| DirectoryError::Malformed(e.to_string()))?;
            // Paging must stay on the directory asked: a link elsewhere would
            // send this client's requests to a server nobody chose.
            if next.origin() != self.base().origin() {
                return Err(DirectoryError::Malformed(format!("a history page links to another server: {next}")));
            }
            page = self.get(next.as_str(), &[]).await?;
        }
        Err(DirectoryError::Malformed(format!("{}/_history has more than {MAX_HISTORY_PAGES} pages", T::TYPE)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> Option<std::path::PathBuf> {
        std::env::var_os("KRING_FIXTURES").map(std::path::PathBuf::from).filter(|d| d.join("knooppunt-mcsd").is_dir())
    }

    #[test]
    fn history_entries_give_their_ids_including_deletes_and_entries_without_a_request() {
        let Some(dir) = fixtures() else { return eprintln!("no fixtures folder: skipped") };
        let read = |name: &str| -> Bundle {
            serde_json::from_str(&std::fs::read_to_string(dir.join("knooppunt-mcsd").join(name)).unwrap()).unwrap()
        };
        // A DELETE (no resource), a PUT and a POST to the type's URL, all of one Organization.
        let dupes = read("history_with_duplicates.json");
        assert_eq!(
            dupes.history_ids("Organization"),
            HashSet::from(["fd3524f9-705e-453c-8130-71cdf51cfcb9".to_owned()])
        );
        // knooppunt bug 233: an entry without `request`, a relative fullUrl.
        let bare = read("bugs_233-no-bundle-request_organization_response.json");
        assert_eq!(bare.history_ids("Endpoint"), HashSet::from(["ep-1".to_owned()]));
        assert!(bare.history_ids("Organization").is_empty(), "only the asked type counts");
        let page1 = read("org1_dir_endpoint_history_response-page1.json");
        assert!(page1.next_link().is_some_and(|l| l.ends_with("/Endpoint/_history_page2")));
        assert!(read("regression_lrza_empty_history_response.json").history_ids("Endpoint").is_empty());
    }

    /// A stand-in ITI-91 directory (wiremock; no engine with type-level
    /// history runs here): two pages of role history, the second with a
    /// deletion, and an empty practitioner history.
    #[tokio::test]
    async fn a_directory_with_history_reports_changes_and_deletions_across_pages() {
        use wiremock::matchers::{method, path, query_param};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        let base = format!("{}/fhir", server.uri());
        let page2 = format!("{base}/PractitionerRole/_history?_since=x&_page=2");
        let history = |entries: serde_json::Value, next: Option<&str>| {
            let link: Vec<_> = next.map(|u| serde_json::json!({"relation": "next", "url": u})).into_iter().collect();
            ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"resourceType": "Bundle", "type": "history", "link": link, "entry": entries}),
            )
        };
        Mock::given(method("GET"))
            .and(path("/fhir/PractitionerRole/_history"))
            .and(query_param("_page", "2"))
            .respond_with(history(
                serde_json::json!([{"fullUrl": format!("{base}/PractitionerRole/gone"),
                    "request": {"method": "DELETE", "url": "PractitionerRole/gone"}}]),
                None,
            ))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/fhir/PractitionerRole/_history"))
            .and(query_param("_since", "2026-12-07T10:00:00Z"))
            .respond_with(history(
                serde_json::json!([{"resource": {"resourceType": "PractitionerRole", "id": "moved"},
                    "request": {"method": "PUT", "url": "PractitionerRole/moved"}}]),
                Some(&page2),
            ))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/fhir/Practitioner/_history"))
            .respond_with(history(serde_json::json!([]), None))
            .mount(&server)
            .await;

        let dir = DirectoryClient::new(&base).unwrap();
        let changes = dir.changes_since("2026-12-07T10:00:00Z").await.unwrap();
        assert_eq!(changes.feed, ChangeFeed::History);
        assert_eq!(changes.roles, HashSet::from(["moved".to_owned(), "gone".to_owned()]));
        assert!(changes.practitioners.is_empty());
        assert_eq!(dir.requests(), 3, "two role pages and one practitioner page, no search");
    }

    #[tokio::test]
    async fn a_history_page_that_links_to_another_server_is_refused() {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/PractitionerRole/_history"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "resourceType": "Bundle", "type": "history", "entry": [],
                "link": [{"relation": "next", "url": "https://elsewhere.example/PractitionerRole/_history?p=2"}]})))
            .mount(&server)
            .await;
        let err = DirectoryClient::new(&server.uri()).unwrap().changes_since("2026-12-07T10:00:00Z").await.unwrap_err();
        assert!(matches!(err, DirectoryError::Malformed(ref m) if m.contains("another server")), "{err:?}");
    }

    #[tokio::test]
    async fn a_directory_that_offered_history_and_then_fails_is_an_error_not_a_fallback() {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        let empty = serde_json::json!({"resourceType": "Bundle", "type": "history", "entry": []});
        Mock::given(method("GET"))
            .and(path("/Practitioner/_history"))
            .respond_with(ResponseTemplate::new(200).set_body_json(empty.clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/PractitionerRole/_history"))
            .respond_with(ResponseTemplate::new(200).set_body_json(empty))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        let dir = DirectoryClient::new(&server.uri()).unwrap();
        assert_eq!(dir.changes_since("2026-12-07T10:00:00Z").await.unwrap().feed, ChangeFeed::History);
        // Now the role history answers 404 (wiremock's default): broken, not "no ITI-91".
        let err = dir.changes_since("2026-12-07T10:00:00Z").await.unwrap_err();
        assert!(matches!(err, DirectoryError::Status { status: 404, .. }), "{err:?}");
    }
}
