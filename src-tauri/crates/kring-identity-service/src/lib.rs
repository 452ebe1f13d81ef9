//! `kring-identity-service`: one Matrix identity service per homeserver
//! (001 §3, §7, §8). It binds the practitioner's UZI number, the
//! organisation's URA number and the role codes as 3PIDs to their MXID, but
//! only what an ID token of a trusted organisation IdP vouches for, made for
//! that very validation session (nonce) and used once. It answers lookups
//! (3PID → MXID, hashed with a pepper) and the reverse (MXID → UZI, URA,
//! role codes), signed with its ed25519 key.

mod api;
pub mod config;
mod error;
mod keys;
mod limits;
mod mail;
mod ruma_api;
mod store;
mod tls;

use std::sync::Arc;

pub use config::Config;
pub use error::IsError;
pub use keys::lookup_hash;

/// What every request handler shares.
pub struct App {
    config: Config,
    store: store::Store,
    keys: keys::Keys,
    http: reqwest::Client,
    mailer: Option<mail::Mailer>,
    request_token_limit: limits::Limiter,
    lookup_limit: limits::Limiter,
}

/// A started service: its address and the task serving it.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub task: tokio::task::JoinHandle<()>,
}

/// Opens the database (migrating it), loads or makes the signing key, and
/// serves on `config.listen` (port 0 picks a free one).
pub async fn start(config: Config) -> Result<Running, IsError> {
    let store = store::Store::open(&config.database_url).await?;
    let keys = keys::Keys::load(&store, &config.server_name).await?;
    let mut http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10));
    if let Some(ca) = &config.extra_ca {
        let pem = std::fs::read(ca).map_err(|e| IsError::Internal(format!("{}: {e}", ca.display())))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| IsError::Internal(e.to_string()))?;
        http = http.add_root_certificate(cert);
    }
    let http = http.build().map_err(|e| IsError::Internal(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| IsError::Internal(format!("listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr().map_err(|e| IsError::Internal(e.to_string()))?;
    let mailer = config.smtp.as_ref().map(mail::Mailer::new).transpose()?;
    let limits = &config.rate_limits;
    let request_token_limit =
        limits::Limiter::new(limits.request_tokens_per_hour, std::time::Duration::from_secs(3600));
    let lookup_limit = limits::Limiter::new(limits.lookups_per_minute, std::time::Duration::from_secs(60));
    let tls = config.tls.clone();
    let app = Arc::new(App { config, store, keys, http, mailer, request_token_limit, lookup_limit });
    let router = api::router(app.clone());
    api::deliver_pending_invites(app);
    let task = match tls {
        Some(tls) => serve(tls::DualListener::new(listener, &tls)?, router),
        None => serve(listener, router),
    };
    tracing::info!(%addr, "identity service listening");
    Ok(Running { addr, task })
}

fn serve<L>(listener: L, router: axum::Router) -> tokio::task::JoinHandle<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!("identity service stopped: {e}");
        }
    })
}
