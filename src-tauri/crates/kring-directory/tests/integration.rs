//! The directory client against the real FHIR engine of the test stack
//! (Medplum's router with its in-memory repository, which, like many
//! directories, ignores `_include` and chained parameters).

use kring_directory::{DirectoryClient, DirectoryError};
use serde_json::Value;

fn stack() -> Value {
    let path = std::env::var("KRING_STACK_JSON")
        .unwrap_or_else(|_| format!("{}/../../../target/stack/stack.json", env!("CARGO_MANIFEST_DIR")));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}. Start the test stack: tests/stack/stackctl up"));
    serde_json::from_str(&text).unwrap()
}

fn practitioner(stack: &Value, key: &str) -> Value {
    stack["users"].as_array().unwrap().iter().find(|u| u["key"] == key).unwrap().clone()
}

#[tokio::test]
async fn finds_an_organisation_and_a_practitioner_with_role_and_matrix_endpoint() {
    let stack = stack();
    let ura = stack["organisations"][0]["ura"].as_str().unwrap();
    let dir = DirectoryClient::new(stack["directories"]["a"].as_str().unwrap()).unwrap();

    let org = dir.organization_by_ura(ura).await.unwrap().expect("organisation by URA");
    assert_eq!(org.name.as_deref(), stack["organisations"][0]["name"].as_str());

    let lead = practitioner(&stack, "a-lead");
    let p = dir.practitioner_by_uzi(lead["uzi"].as_str().unwrap()).await.unwrap().expect("practitioner by UZI");
    assert_eq!(p.display_name().as_deref(), lead["display_name"].as_str());

    let roles = dir.roles_of(p.id.as_deref().unwrap()).await.unwrap();
    assert_eq!(roles.len(), 1);
    let role = &roles[0];
    assert!(role.code.iter().flat_map(|c| &c.coding).any(|c| c.code.as_deref() == lead["role_code"].as_str()));
    assert_eq!(role.organization.as_ref().unwrap().id_of("Organization"), org.id.as_deref());
    // Read the Endpoint itself: `_include` cannot be relied on.
    let endpoint_id = role.endpoint[0].id_of("Endpoint").unwrap();
    let endpoint = dir.endpoint(endpoint_id).await.unwrap();
    assert_eq!(endpoint.address.as_deref(), stack["homeservers"]["a"]["base_url"].as_str());
}

#[tokio::test]
async fn unknown_identifiers_are_none_not_errors() {
    let stack = stack();
    let dir = DirectoryClient::new(stack["directories"]["b"].as_str().unwrap()).unwrap();
    assert!(dir.practitioner_by_uzi("000000000").await.unwrap().is_none());
    assert!(dir.organization_by_ura("00000000").await.unwrap().is_none());
    // A practitioner of A is not in B's directory.
    let lead = practitioner(&stack, "a-lead");
    assert!(dir.practitioner_by_uzi(lead["uzi"].as_str().unwrap()).await.unwrap().is_none());
}

#[tokio::test]
async fn unreachable_and_non_directory_servers_are_named_errors() {
    let dir = DirectoryClient::new("http://127.0.0.1:9/fhir").unwrap();
    assert!(matches!(dir.practitioner_by_uzi("1").await, Err(DirectoryError::Unreachable(_))));
    // A homeserver is not a FHIR server: its 404 is a status error, not "not found".
    let stack = stack();
    let dir = DirectoryClient::new(stack["homeservers"]["a"]["base_url"].as_str().unwrap()).unwrap();
    assert!(matches!(dir.organization_by_ura("1").await, Err(DirectoryError::Status { status: 404, .. })));
}

/// The stack's engine (Medplum's router) has no type-level `_history`, so
/// change detection falls back to the ITI-90 `_lastUpdated` search, after one
/// refused ITI-91 request. ITI-91 itself is tested against a stand-in with
/// the knooppunt's recorded history pages (src/changes.rs).
#[tokio::test]
async fn change_detection_falls_back_to_last_updated_on_a_directory_without_history() {
    let stack = stack();
    let base = stack["directories"]["b"].as_str().unwrap().trim_end_matches('/').to_owned();
    let dir = DirectoryClient::new(&base).unwrap();
    let http = reqwest::Client::new();
    let before = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(2);
    let id = format!("change-probe-{}", std::process::id());
    let role = serde_json::json!({"resourceType": "PractitionerRole", "id": id, "active": true});
    let put = http.put(format!("{base}/PractitionerRole/{id}")).json(&role).send().await.unwrap();
    assert!(put.status().is_success(), "PUT PractitionerRole: {}", put.status());

    let changes = dir.changes_since(&before.to_string()).await.unwrap();
    assert_eq!(changes.feed, kring_directory::ChangeFeed::LastUpdated);
    assert!(changes.roles.contains(&id), "the new role is a change: {:?}", changes.roles);
    let later = dir.changes_since(&jiff::Timestamp::now().to_string()).await.unwrap();
    assert!(!later.roles.contains(&id), "nothing changed since now");
    // The refusal was remembered: the second ask made only the two searches.
    assert_eq!(dir.requests(), 1 + 2 + 2);

    let delete = http.delete(format!("{base}/PractitionerRole/{id}")).send().await.unwrap();
    assert!(delete.status().is_success(), "DELETE PractitionerRole: {}", delete.status());
}
