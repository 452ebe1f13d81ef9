//! The running test stack, as described by `tests/stack/stackctl up`.

use std::{path::PathBuf, sync::Arc};

use kring_core::{KeyringSecretStore, LoginRequest, Session};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Homeserver {
    pub base_url: String,
    pub server_name: String,
    pub registration_shared_secret: String,
}

#[derive(Debug, Deserialize, Clone)]
pub struct User {
    pub key: String,
    pub org: String,
    pub mxid: String,
    pub localpart: String,
    pub password: String,
    pub kind: String,
}

/// A user as stack.json lists it: practitioners who are to get their account
/// at first login have none yet (no MXID, or `matrix_account: false`).
#[derive(Deserialize)]
struct ListedUser {
    key: String,
    org: String,
    mxid: Option<String>,
    localpart: String,
    password: String,
    kind: String,
    #[serde(default = "listed_with_account")]
    matrix_account: bool,
}

fn listed_with_account() -> bool {
    true
}

#[derive(Debug)]
pub struct Stack {
    pub homeservers: std::collections::HashMap<String, Homeserver>,
    /// The users with a Matrix account and a password.
    pub users: Vec<User>,
    /// Where the stack keeps its state: `hs-a/homeserver.db` is Synapse's database.
    pub stack_dir: PathBuf,
}

#[derive(Deserialize)]
struct StackJson {
    stack_dir: PathBuf,
    homeservers: std::collections::HashMap<String, Homeserver>,
    users: Vec<ListedUser>,
}

/// Fails a test that takes longer than two minutes instead of letting it
/// hang CI (a stopped homeserver makes some SDK calls wait a long time).
pub async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    // KRING_LOG=kring_core=debug shows what a slow test waits for.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("KRING_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
    tokio::time::timeout(std::time::Duration::from_secs(120), test).await.expect("test did not finish within 120 s");
}

fn stack_json() -> PathBuf {
    std::env::var_os("KRING_STACK_JSON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../target/stack/stack.json"))
}

impl Stack {
    pub fn load() -> Self {
        let path = stack_json();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}. Start the test stack first: tests/stack/stackctl up", path.display()));
        let json: StackJson = serde_json::from_str(&text).expect("stack.json is malformed");
        let users = json
            .users
            .into_iter()
            .filter(|u| u.matrix_account)
            .filter_map(|u| {
                let mxid = u.mxid?;
                Some(User { key: u.key, org: u.org, mxid, localpart: u.localpart, password: u.password, kind: u.kind })
            })
            .collect();
        Self { homeservers: json.homeservers, users, stack_dir: json.stack_dir }
    }

    pub fn homeserver(&self, org: &str) -> &Homeserver {
        &self.homeservers[org]
    }

    /// A fresh account on an organisation's homeserver, so tests that create
    /// rooms neither clutter the demo accounts nor depend on each other.
    pub async fn fresh_user(&self, org: &str, prefix: &str) -> User {
        use hmac::{KeyInit, Mac};
        let hs = self.homeserver(org);
        let http = matrix_sdk::reqwest::Client::new();
        let url = format!("{}/_synapse/admin/v1/register", hs.base_url);
        let nonce: serde_json::Value = http.get(&url).send().await.unwrap().json().await.unwrap();
        let nonce = nonce["nonce"].as_str().unwrap().to_owned();
        let localpart = format!("{prefix}-{}-{}", std::process::id(), rand_suffix());
        let password = format!("pw-{}", rand_suffix());
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(hs.registration_shared_secret.as_bytes()).unwrap();
        for (i, part) in [nonce.as_str(), &localpart, &password, "notadmin"].iter().enumerate() {
            if i > 0 {
                mac.update(b"\0");
            }
            mac.update(part.as_bytes());
        }
        let body = serde_json::json!({
            "nonce": nonce, "username": localpart, "password": password, "admin": false,
            "mac": hex::encode(mac.finalize().into_bytes()),
        });
        let response = http.post(&url).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "registering {localpart}: {}", response.text().await.unwrap());
        User {
            key: localpart.clone(),
            org: org.to_owned(),
            mxid: format!("@{localpart}:{}", hs.server_name),
            localpart,
            password,
            kind: "practitioner".into(),
        }
    }

    /// The n-th practitioner of an organisation.
    pub fn practitioner(&self, org: &str, n: usize) -> User {
        self.users
            .iter()
            .filter(|u| u.org == org && u.kind == "practitioner")
            .nth(n)
            .unwrap_or_else(|| panic!("stack has no practitioner #{n} at {org}"))
            .clone()
    }
}

fn rand_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{nanos:x}")
}

/// A temporary app data dir plus a keychain profile unique to one test.
pub struct Profile {
    pub dir: tempfile::TempDir,
    pub name: String,
    pub secrets: Arc<KeyringSecretStore>,
}

impl Profile {
    pub fn new(test: &str) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            name: format!("test-{test}-{}", std::process::id()),
            secrets: Arc::new(KeyringSecretStore::new("nl.kring.test")),
        }
    }

    pub async fn login(&self, stack: &Stack, user: &User) -> Session {
        let request = LoginRequest {
            homeserver: stack.homeserver(&user.org).base_url.clone(),
            username: user.localpart.clone(),
            password: user.password.clone(),
        };
        Session::login(self.dir.path(), self.secrets.clone(), &self.name, &request)
            .await
            .unwrap_or_else(|e| panic!("login of {} failed: {e}", user.key))
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        use kring_core::SecretStore;
        let _ = self.secrets.delete(&self.name);
    }
}
