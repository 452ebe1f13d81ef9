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
    /// Serve TLS on `listen` (Synapse reaches identity servers over https
    /// only). Plain HTTP is then still answered, to loopback peers alone.
    #[serde(default)]
    pub tls: Option<Tls>,
    /// Where mail links point: this service as the outside world reaches it.
    #[serde(default)]
    pub public_base_url: Option<String>,
    /// The mail relay for e-mail validation and invitations.
    #[serde(default)]
    pub smtp: Option<Smtp>,
    /// How an invited related person or client joins (named in the invitation mail).
    #[serde(default)]
    pub invitation: Invitation,
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// How old an ID token may be when it is submitted (`iat` to now), in
    /// seconds: a token is used right after the organisation login that
    /// made it, so one found later (a copied or logged one) is refused as
    /// expired even while its `exp`, which IdPs often set to an hour, has
    /// not passed. Default 600.
    #[serde(default = "default_id_token_max_age")]
    pub id_token_max_age_seconds: u64,
}

fn default_id_token_max_age() -> u64 {
    600
}

#[derive(Clone, Debug, Deserialize)]
pub struct Tls {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    /// The sender address, e.g. `Kring <noreply@zorg-a.example>`.
    pub from: String,
    /// STARTTLS to the relay: on unless turned off (a loopback sink).
    #[serde(default = "yes")]
    pub starttls: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Invitation {
    /// The organisation as the mail names it.
    #[serde(default = "default_organisation")]
    pub organisation: String,
    /// Where the invitee makes an account (e-mail, password, second factor).
    #[serde(default)]
    pub join_url: Option<String>,
}

fn default_organisation() -> String {
    "uw zorgorganisatie".into()
}

impl Default for Invitation {
    fn default() -> Self {
        Self { organisation: default_organisation(), join_url: None }
    }
}

/// Requests per account (validation mails) and per account (lookups) in a
/// sliding window, so neither mailboxes nor the address book can be swept.
#[derive(Clone, Debug, Deserialize)]
pub struct RateLimits {
    #[serde(default = "default_request_tokens")]
    pub request_tokens_per_hour: u32,
    #[serde(default = "default_lookups")]
    pub lookups_per_minute: u32,
}

fn default_request_tokens() -> u32 {
    10
}

fn default_lookups() -> u32 {
    60
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { request_tokens_per_hour: default_request_tokens(), lookups_per_minute: default_lookups() }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct TrustedHomeserver {
    pub server_name: String,
    /// Where its federation API answers `openid/userinfo`, e.g. `https://localhost:8481`.
    pub federation_url: String,
    /// A partner organisation's homeserver: its users may look up who is
    /// who here (`/lookup`, the reverse lookup), never validate, bind or
    /// store invites. This service vouches only for its own organisation.
    #[serde(default)]
    pub lookup_only: bool,
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

fn yes() -> bool {
    true
}
