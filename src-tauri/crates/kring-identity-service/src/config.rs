//! One deployment's configuration (JSON): where to listen, which database,
//! which homeservers may register accounts and which organisation IdPs the
//! service believes.

use std::{net::SocketAddr, path::PathBuf};

use kring_identity::ClaimNames;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct Config {
    /// Loopback in the test stack; behind the organisation's reverse proxy in production.
    pub listen: SocketAddr,
    /// `sqlite://path?mode=rwc` (embedded, the default) or `postgres://…`.
    pub database_url: String,
    /// The name the service signs with (`signatures.<server_name>`).
    pub server_name: String,
    /// Homeservers whose users may register (OpenID `matrix_server_name`).
    pub homeservers: Vec<TrustedHomeserver>,
    /// A CA for the homeservers' federation TLS besides the system roots (the stack's own CA).
    #[serde(default)]
    pub extra_ca: Option<PathBuf>,
    /// The trust list: organisation IdPs whose ID tokens prove UZI, URA and role codes.
    pub idps: Vec<TrustedIdp>,
    #[serde(default)]
    pub terms: Option<Terms>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct TrustedHomeserver {
    pub server_name: String,
    /// Where its federation API answers `openid/userinfo`, e.g. `https://localhost:8481`.
    pub federation_url: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct TrustedIdp {
    pub issuer: String,
    /// Client ids the ID token may be issued to (the `aud` claim).
    pub audiences: Vec<String>,
    #[serde(default)]
    pub claims: ClaimNames,
}

/// The policy a user accepts before lookups and binds (`/terms`).
#[derive(Clone, Debug, Deserialize)]
pub struct Terms {
    pub version: String,
    pub name: String,
    pub url: String,
}

impl Config {
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn homeserver(&self, server_name: &str) -> Option<&TrustedHomeserver> {
        self.homeservers.iter().find(|h| h.server_name == server_name)
    }

    pub fn idp(&self, issuer: &str) -> Option<&TrustedIdp> {
        self.idps.iter().find(|i| i.issuer.trim_end_matches('/') == issuer.trim_end_matches('/'))
    }
}
