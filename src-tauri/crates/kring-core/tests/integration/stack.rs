//! The running test stack, as described by `tests/stack/stackctl up`.

use std::{path::PathBuf, sync::Arc};

use kring_core::{KeyringSecretStore, LoginRequest, Session};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Homeserver {
    pub base_url: String,
    pub server_name: String,
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

#[derive(Debug, Deserialize)]
pub struct Stack {
    pub homeservers: std::collections::HashMap<String, Homeserver>,
    pub users: Vec<User>,
}

fn stack_json() -> PathBuf {
    std::env::var_os("KRING_STACK_JSON").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../target/stack/stack.json")
    })
}

impl Stack {
    pub fn load() -> Self {
        let path = stack_json();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e}. Start the test stack first: tests/stack/stackctl up", path.display())
        });
        serde_json::from_str(&text).expect("stack.json is malformed")
    }

    pub fn homeserver(&self, org: &str) -> &Homeserver {
        &self.homeservers[org]
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
