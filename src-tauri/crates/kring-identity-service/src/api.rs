//! The Identity Service API v2 routes this service answers, and Kring's
//! custom medium validation through the organisation IdP
//! (`validate/nl.kring.idp/…`).

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{FromRequestParts, Path, Query, State},
    http::request::Parts,
    routing::{get, post},
};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::info;

use crate::{App, error::IsError, store::now_ms};

const V2: &str = "/_matrix/identity/v2";
/// The media the organisation IdP proves; `email` comes by mail (not here yet).
pub const IDP_MEDIA: [&str; 3] = ["uzi_nr", "ura_nr", "role_code"];

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/_matrix/identity/versions", get(versions))
        .route(V2, get(status))
        .route(&format!("{V2}/account/register"), post(register))
        .route(&format!("{V2}/account"), get(account))
        .route(&format!("{V2}/account/logout"), post(logout))
        .route(&format!("{V2}/terms"), get(terms).post(accept_terms))
        .route(&format!("{V2}/hash_details"), get(hash_details))
        .route(&format!("{V2}/lookup"), post(lookup))
        .route(&format!("{V2}/pubkey/isvalid"), get(pubkey_isvalid))
        .route(&format!("{V2}/pubkey/{{key_id}}"), get(pubkey))
        .route(&format!("{V2}/validate/nl.kring.idp/requestToken"), post(idp_request_token))
        .route(&format!("{V2}/validate/nl.kring.idp/submitToken"), post(idp_submit_token))
        .route(&format!("{V2}/3pid/getValidated3pid"), get(validated_3pid))
        .route(&format!("{V2}/3pid/bind"), post(bind))
        .route(&format!("{V2}/3pid/unbind"), post(unbind))
        .route(&format!("{V2}/nl.kring/bindings/{{mxid}}"), get(bindings_of))
        .with_state(app)
}

/// The user behind an identity-service token (`Authorization: Bearer`).
struct Account {
    user_id: String,
    token: String,
}

impl FromRequestParts<Arc<App>> for Account {
    type Rejection = IsError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, IsError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::to_owned)
            .ok_or(IsError::Unauthorized)?;
        let user_id = app.store.account(&token).await?.ok_or(IsError::Unauthorized)?;
        Ok(Self { user_id, token })
    }
}

impl Account {
    /// Lookups and binds need the current terms accepted (spec: M_TERMS_NOT_SIGNED).
    async fn with_terms(self, app: &App) -> Result<Self, IsError> {
        match &app.config.terms {
            Some(terms) if !app.store.accepted_terms(&self.user_id, &terms.url).await? => Err(IsError::TermsNotSigned),
            _ => Ok(self),
        }
    }
}

async fn versions() -> Json<Value> {
    Json(
        json!({"versions": ["v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11"]}),
    )
}

async fn status() -> Json<Value> {
    Json(json!({}))
}

#[derive(Deserialize)]
struct OpenIdToken {
    access_token: String,
    matrix_server_name: String,
}

/// Exchanges a homeserver's OpenID token for an identity-service token. The
/// homeserver vouches for the user through its federation API.
async fn register(State(app): State<Arc<App>>, Json(body): Json<OpenIdToken>) -> Result<Json<Value>, IsError> {
    let hs = app
        .config
        .homeserver(&body.matrix_server_name)
        .ok_or_else(|| IsError::HomeserverNotTrusted(body.matrix_server_name.clone()))?;
    let url = format!("{}/_matrix/federation/v1/openid/userinfo", hs.federation_url.trim_end_matches('/'));
    let answer = app
        .http
        .get(url)
        .query(&[("access_token", body.access_token.as_str())])
        .send()
        .await
        .map_err(|e| IsError::OpenIdRejected(format!("homeserver unreachable: {e}")))?;
    if !answer.status().is_success() {
        return Err(IsError::OpenIdRejected(format!("homeserver answered {}", answer.status())));
    }
    let info: Value = answer.json().await.map_err(|e| IsError::OpenIdRejected(e.to_string()))?;
    let user_id = info["sub"].as_str().ok_or_else(|| IsError::OpenIdRejected("no sub".into()))?;
    let user = ruma::UserId::parse(user_id).map_err(|e| IsError::OpenIdRejected(e.to_string()))?;
    // A homeserver may vouch only for its own users.
    if user.server_name().as_str() != body.matrix_server_name {
        return Err(IsError::OpenIdRejected(format!("{user_id} is not a user of {}", body.matrix_server_name)));
    }
    let token = random_token(32);
    app.store.create_account(&token, user.as_str()).await?;
    info!(user = %user, "identity-service account registered");
    Ok(Json(json!({"token": token})))
}

async fn account(account: Account) -> Json<Value> {
    Json(json!({"user_id": account.user_id}))
}

async fn logout(State(app): State<Arc<App>>, account: Account) -> Result<Json<Value>, IsError> {
    app.store.delete_account(&account.token).await?;
    Ok(Json(json!({})))
}

async fn terms(State(app): State<Arc<App>>) -> Json<Value> {
    let policies = match &app.config.terms {
        Some(t) => json!({"privacy_policy": {"version": t.version, "nl": {"name": t.name, "url": t.url}}}),
        None => json!({}),
    };
    Json(json!({"policies": policies}))
}

#[derive(Deserialize)]
struct AcceptTerms {
    user_accepts: Vec<String>,
}

async fn accept_terms(
    State(app): State<Arc<App>>,
    account: Account,
    Json(body): Json<AcceptTerms>,
) -> Result<Json<Value>, IsError> {
    for url in &body.user_accepts {
        app.store.accept_terms(&account.user_id, url).await?;
    }
    Ok(Json(json!({})))
}

async fn hash_details(State(app): State<Arc<App>>, account: Account) -> Result<Json<Value>, IsError> {
    account.with_terms(&app).await?;
    // "none" (plain addresses) is not offered: addresses never cross in clear.
    Ok(Json(json!({"algorithms": ["sha256"], "lookup_pepper": app.keys.pepper})))
}

#[derive(Deserialize)]
struct Lookup {
    addresses: Vec<String>,
    algorithm: String,
    pepper: String,
}

async fn lookup(
    State(app): State<Arc<App>>,
    account: Account,
    Json(body): Json<Lookup>,
) -> Result<Json<Value>, IsError> {
    account.with_terms(&app).await?;
    if body.algorithm != "sha256" {
        return Err(IsError::InvalidParam(format!("unsupported algorithm {}: use sha256", body.algorithm)));
    }
    if body.pepper != app.keys.pepper {
        return Err(IsError::InvalidPepper);
    }
    let found = app.store.lookup(&body.addresses).await?;
    let mappings: serde_json::Map<String, Value> = found.into_iter().map(|(h, m)| (h, Value::String(m))).collect();
    Ok(Json(json!({"mappings": mappings})))
}

async fn pubkey(State(app): State<Arc<App>>, Path(key_id): Path<String>) -> Result<Json<Value>, IsError> {
    if key_id != crate::keys::KEY_ID {
        return Err(IsError::NotFound);
    }
    Ok(Json(json!({"public_key": app.keys.public_key})))
}

#[derive(Deserialize)]
struct PublicKeyQuery {
    public_key: String,
}

async fn pubkey_isvalid(State(app): State<Arc<App>>, Query(q): Query<PublicKeyQuery>) -> Json<Value> {
    Json(json!({"valid": q.public_key == app.keys.public_key}))
}

#[derive(Deserialize)]
struct RequestToken {
    client_secret: String,
}

/// Starts an IdP validation: the nonce that the organisation IdP must put
/// into the ID token, so a token made for anyone else's session is refused.
async fn idp_request_token(
    State(app): State<Arc<App>>,
    account: Account,
    Json(body): Json<RequestToken>,
) -> Result<Json<Value>, IsError> {
    let account = account.with_terms(&app).await?;
    check_client_secret(&body.client_secret)?;
    let (sid, nonce) = (random_token(16), random_token(24));
    app.store.create_session(&sid, &body.client_secret, &account.user_id, &nonce).await?;
    Ok(Json(json!({"sid": sid, "nonce": nonce})))
}

#[derive(Deserialize)]
struct SubmitToken {
    sid: String,
    client_secret: String,
    id_token: String,
}

/// The issuer an ID token claims, read before any check, to pick the IdP
/// whose keys will check it.
fn claimed_issuer(id_token: &str) -> Result<String, IsError> {
    let payload = id_token.split('.').nth(1).ok_or_else(|| IsError::TokenInvalid("not a JWT".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| IsError::TokenInvalid(e.to_string()))?;
    let claims: Value = serde_json::from_slice(&bytes).map_err(|e| IsError::TokenInvalid(e.to_string()))?;
    claims["iss"].as_str().map(str::to_owned).ok_or_else(|| IsError::TokenInvalid("no iss".into()))
}

/// Checks an ID token from the organisation IdP against the session and the
/// trust list; the session then holds exactly the UZI, URA and role codes
/// the token vouches for.
async fn idp_submit_token(
    State(app): State<Arc<App>>,
    account: Account,
    Json(body): Json<SubmitToken>,
) -> Result<Json<Value>, IsError> {
    let session = own_session(&app, &account, &body.sid, &body.client_secret).await?;
    let issuer = claimed_issuer(&body.id_token)?;
    let idp = app.config.idp(&issuer).ok_or_else(|| IsError::IdpNotTrusted(issuer.clone()))?;
    let identity =
        kring_identity::verify_id_token(&idp.issuer, &idp.audiences, &idp.claims, &body.id_token, &session.nonce)
            .await
            .map_err(|e| match e {
                kring_identity::IdTokenError::Unreachable(r) => IsError::IdpUnreachable(r),
                kring_identity::IdTokenError::Expired => IsError::TokenExpired,
                kring_identity::IdTokenError::NonceMismatch => IsError::NonceMismatch,
                kring_identity::IdTokenError::MissingClaim(c) => IsError::ClaimMissing(c),
                kring_identity::IdTokenError::Invalid(r) => IsError::TokenInvalid(r),
            })?;
    // Only now, for a genuine token: each is accepted once.
    if !app.store.first_use_of_token(&body.id_token).await? {
        return Err(IsError::TokenReplayed);
    }
    let mut threepids = vec![("uzi_nr".to_owned(), identity.uzi.clone()), ("ura_nr".to_owned(), identity.ura.clone())];
    threepids.extend(identity.role_codes.iter().map(|r| ("role_code".to_owned(), r.clone())));
    app.store.mark_validated(&body.sid, &threepids).await?;
    info!(user = %account.user_id, media = threepids.len(), "identity validated by the organisation IdP");
    Ok(Json(json!({"success": true})))
}

#[derive(Deserialize)]
struct SessionQuery {
    sid: String,
    client_secret: String,
}

async fn validated_3pid(
    State(app): State<Arc<App>>,
    account: Account,
    Query(q): Query<SessionQuery>,
) -> Result<Json<Value>, IsError> {
    let session = own_session(&app, &account, &q.sid, &q.client_secret).await?;
    let (threepids, at) = session.validated.ok_or(IsError::SessionNotValidated)?;
    let (medium, address) = threepids.first().cloned().ok_or(IsError::SessionNotValidated)?;
    let all: Vec<Value> = threepids.iter().map(|(m, a)| json!({"medium": m, "address": a})).collect();
    Ok(Json(json!({"medium": medium, "address": address, "validated_at": at, "nl.kring.threepids": all})))
}

/// The session of `sid`, if it is this account's and the secret fits.
async fn own_session(
    app: &App,
    account: &Account,
    sid: &str,
    client_secret: &str,
) -> Result<crate::store::ValidationSession, IsError> {
    let session = app.store.session(sid).await?.ok_or(IsError::NoValidSession)?;
    if session.client_secret_hash != crate::store::sha256_hex(client_secret) {
        return Err(IsError::NoValidSession);
    }
    if session.user_id != account.user_id {
        return Err(IsError::Forbidden("this validation session belongs to another account".into()));
    }
    Ok(session)
}

#[derive(Deserialize)]
struct Bind {
    sid: String,
    client_secret: String,
    mxid: String,
}

/// Binds every 3PID the session validated to the account's own MXID, and
/// answers the signed association of each (the first as the spec's answer).
async fn bind(State(app): State<Arc<App>>, account: Account, Json(body): Json<Bind>) -> Result<Json<Value>, IsError> {
    let account = account.with_terms(&app).await?;
    if body.mxid != account.user_id {
        return Err(IsError::Forbidden("a 3PID is bound only to the account that validated it".into()));
    }
    let session = own_session(&app, &account, &body.sid, &body.client_secret).await?;
    let (threepids, _) = session.validated.ok_or(IsError::SessionNotValidated)?;
    // One person per UZI number: an UZI already bound to another MXID is refused whole.
    for (medium, address) in &threepids {
        if medium == "uzi_nr" && app.store.holders(medium, address).await?.iter().any(|m| *m != body.mxid) {
            return Err(IsError::ThreepidInUse);
        }
    }
    let mut signed = Vec::new();
    for (medium, address) in &threepids {
        let ts = app.store.bind(medium, address, &body.mxid, &app.keys.lookup_hash(medium, address)).await?;
        signed.push(app.keys.sign(json!({
            "medium": medium, "address": address, "mxid": body.mxid,
            "not_before": ts, "not_after": ts + 100 * 365 * 24 * 3600 * 1000_i64, "ts": ts,
        }))?);
    }
    info!(user = %body.mxid, bound = signed.len(), "3PIDs bound");
    let mut answer = signed.first().cloned().ok_or(IsError::SessionNotValidated)?;
    answer["nl.kring.associations"] = Value::Array(signed);
    Ok(Json(answer))
}

#[derive(Deserialize)]
struct ThreepidRef {
    medium: String,
    address: String,
}

#[derive(Deserialize)]
struct Unbind {
    mxid: String,
    threepid: ThreepidRef,
}

async fn unbind(
    State(app): State<Arc<App>>,
    account: Account,
    Json(body): Json<Unbind>,
) -> Result<Json<Value>, IsError> {
    if body.mxid != account.user_id {
        return Err(IsError::Forbidden("only the account itself unbinds its 3PIDs".into()));
    }
    if !app.store.unbind(&body.threepid.medium, &body.threepid.address, &body.mxid).await? {
        return Err(IsError::NotFound);
    }
    Ok(Json(json!({})))
}

/// The reverse lookup (001 §3): what the organisation IdP vouched for about
/// an MXID, signed by this service, for a receiving organisation that fills
/// a FHIR CareTeam. Any registered account that accepted the terms may ask.
async fn bindings_of(
    State(app): State<Arc<App>>,
    account: Account,
    Path(mxid): Path<String>,
) -> Result<Json<Value>, IsError> {
    account.with_terms(&app).await?;
    let bound = app.store.bindings_of(&mxid).await?;
    let threepids: Vec<Value> = bound
        .iter()
        .filter(|b| IDP_MEDIA.contains(&b.medium.as_str()))
        .map(|b| json!({"medium": b.medium, "address": b.address, "bound_at": b.bound_ms}))
        .collect();
    let answer = app.keys.sign(json!({"mxid": mxid, "threepids": threepids, "ts": now_ms()}))?;
    Ok(Json(answer))
}

/// The spec's client_secret grammar: `[0-9a-zA-Z.=_-]`, 1 to 255 characters.
fn check_client_secret(secret: &str) -> Result<(), IsError> {
    let ok =
        (1..=255).contains(&secret.len()) && secret.chars().all(|c| c.is_ascii_alphanumeric() || ".=_-".contains(c));
    if ok { Ok(()) } else { Err(IsError::InvalidParam("client_secret: 1-255 of [0-9a-zA-Z.=_-]".into())) }
}

fn random_token(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}
