//! The Identity Service API v2 routes this service answers, and Kring's
//! custom medium validation through the organisation IdP
//! (`validate/nl.kring.idp/…`).

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{FromRequest, FromRequestParts, Path, Query, Request, State, rejection::JsonRejection},
    http::request::Parts,
    response::Html,
    routing::{get, post},
};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use ruma::api::identity_service as is_api;
use ruma::api::identity_service::lookup::IdentifierHashingAlgorithm;

use crate::{
    App,
    error::IsError,
    mail::Mail,
    ruma_api::{Answer, Ruma},
    store::{StoredInvite, now_ms, sha256_hex},
};

const V2: &str = "/_matrix/identity/v2";
/// The media the organisation IdP proves; `email` is proven by mail.
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
        .route(&format!("{V2}/pubkey/ephemeral/isvalid"), get(ephemeral_isvalid))
        .route(&format!("{V2}/validate/email/requestToken"), post(email_request_token))
        .route(&format!("{V2}/validate/email/submitToken"), get(email_submit_link).post(email_submit_token))
        .route(&format!("{V2}/store-invite"), post(store_invite))
        .route(&format!("{V2}/sign-ed25519"), post(sign_ed25519))
        .route(&format!("{V2}/pubkey/{{key_id}}"), get(pubkey))
        .route(&format!("{V2}/validate/nl.kring.idp/requestToken"), post(idp_request_token))
        .route(&format!("{V2}/validate/nl.kring.idp/submitToken"), post(idp_submit_token))
        .route(&format!("{V2}/3pid/getValidated3pid"), get(validated_3pid))
        .route(&format!("{V2}/3pid/bind"), post(bind))
        .route(&format!("{V2}/3pid/unbind"), post(unbind))
        .route(&format!("{V2}/nl.kring/bindings/{{mxid}}"), get(bindings_of))
        .with_state(app)
}

/// A JSON request body. One that is not JSON, or not the JSON asked for, is
/// refused with the spec's codes as JSON, not with axum's plain text.
struct Body<T>(T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = IsError;

    async fn from_request(req: Request, state: &S) -> Result<Self, IsError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(JsonRejection::JsonDataError(e)) if e.body_text().contains("missing field") => {
                Err(IsError::MissingParams(e.body_text()))
            }
            Err(JsonRejection::JsonDataError(e)) => Err(IsError::BadJson(e.body_text())),
            Err(e) => Err(IsError::NotJson(e.body_text())),
        }
    }
}

/// The user behind an identity-service token (`Authorization: Bearer`).
struct Account {
    user_id: String,
    token: String,
}

impl FromRequestParts<Arc<App>> for Account {
    type Rejection = IsError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, IsError> {
        // The header, or (as Synapse sends it on `hash_details`) `?access_token=`.
        let from_query = || {
            url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v.into_owned())
        };
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::to_owned)
            .or_else(from_query)
            .ok_or(IsError::Unauthorized)?;
        let user_id = app.store.account(&token).await?.ok_or(IsError::Unauthorized)?;
        Ok(Self { user_id, token })
    }
}

impl Account {
    /// Validating, binding and inviting are for users of this organisation's
    /// own homeservers; a partner's (`lookup_only`) may only look up.
    fn of_own_homeserver(self, app: &App) -> Result<Self, IsError> {
        let server = self.user_id.split_once(':').map(|(_, s)| s).unwrap_or_default();
        match app.config.homeserver(server) {
            Some(hs) if !hs.lookup_only => Ok(self),
            _ => Err(IsError::HomeserverNotTrusted(format!("{server} may look up here, not bind"))),
        }
    }

    /// Lookups and binds need the current terms accepted (spec: M_TERMS_NOT_SIGNED).
    async fn with_terms(self, app: &App) -> Result<Self, IsError> {
        match &app.config.terms {
            Some(terms) if !app.store.accepted_terms(&self.user_id, &terms.url).await? => Err(IsError::TermsNotSigned),
            _ => Ok(self),
        }
    }
}

async fn versions() -> Answer<is_api::discovery::get_supported_versions::Response> {
    let versions = ["v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11"];
    Answer(is_api::discovery::get_supported_versions::Response::new(versions.map(str::to_owned).to_vec()))
}

async fn status() -> Answer<is_api::discovery::get_server_status::v2::Response> {
    Answer(is_api::discovery::get_server_status::v2::Response::new())
}

#[derive(Deserialize)]
struct OpenIdToken {
    access_token: String,
    matrix_server_name: String,
}

/// Exchanges a homeserver's OpenID token for an identity-service token. The
/// homeserver vouches for the user through its federation API.
async fn register(State(app): State<Arc<App>>, Body(body): Body<OpenIdToken>) -> Result<Json<Value>, IsError> {
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

async fn terms(State(app): State<Arc<App>>) -> Answer<is_api::tos::get_terms_of_service::v2::Response> {
    use is_api::tos::get_terms_of_service::v2::{LocalizedPolicy, Policies, Response};
    let policies = app
        .config
        .terms
        .iter()
        .map(|t| {
            let localized = [("nl".to_owned(), LocalizedPolicy::new(t.name.clone(), t.url.clone()))].into();
            ("privacy_policy".to_owned(), Policies::new(t.version.clone(), localized))
        })
        .collect();
    Answer(Response::new(policies))
}

#[derive(Deserialize)]
struct AcceptTerms {
    user_accepts: Vec<String>,
}

async fn accept_terms(
    State(app): State<Arc<App>>,
    account: Account,
    Body(body): Body<AcceptTerms>,
) -> Result<Json<Value>, IsError> {
    for url in &body.user_accepts {
        app.store.accept_terms(&account.user_id, url).await?;
    }
    Ok(Json(json!({})))
}

async fn hash_details(
    State(app): State<Arc<App>>,
    account: Account,
) -> Result<Answer<is_api::lookup::get_hash_parameters::v2::Response>, IsError> {
    account.with_terms(&app).await?;
    // "none" (plain addresses) is not offered: addresses never cross in clear.
    let algorithms = vec![IdentifierHashingAlgorithm::Sha256];
    Ok(Answer(is_api::lookup::get_hash_parameters::v2::Response::new(app.keys.pepper.clone(), algorithms)))
}

async fn lookup(
    State(app): State<Arc<App>>,
    account: Account,
    Ruma(body): Ruma<is_api::lookup::lookup_3pid::v2::Request>,
) -> Result<Answer<is_api::lookup::lookup_3pid::v2::Response>, IsError> {
    let account = account.with_terms(&app).await?;
    app.lookup_limit.check(&account.user_id)?;
    if body.algorithm != IdentifierHashingAlgorithm::Sha256 {
        return Err(IsError::InvalidParam(format!("unsupported algorithm {}: use sha256", body.algorithm)));
    }
    if body.pepper != app.keys.pepper {
        return Err(IsError::InvalidPepper);
    }
    let found = app.store.lookup(&body.addresses).await?;
    let mappings = found.into_iter().filter_map(|(h, m)| Some((h, ruma::OwnedUserId::try_from(m).ok()?))).collect();
    Ok(Answer(is_api::lookup::lookup_3pid::v2::Response::new(mappings)))
}

async fn pubkey(
    State(app): State<Arc<App>>,
    Path(key_id): Path<String>,
) -> Result<Answer<is_api::keys::get_public_key::v2::Response>, IsError> {
    if key_id != crate::keys::KEY_ID {
        return Err(IsError::NotFound);
    }
    Ok(Answer(is_api::keys::get_public_key::v2::Response::new(app.keys.public_key.clone().into())))
}

async fn pubkey_isvalid(
    State(app): State<Arc<App>>,
    Ruma(q): Ruma<is_api::keys::check_public_key_validity::v2::Request>,
) -> Answer<is_api::keys::check_public_key_validity::v2::Response> {
    Answer(is_api::keys::check_public_key_validity::v2::Response::new(q.public_key.0 == app.keys.public_key))
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
    Body(body): Body<RequestToken>,
) -> Result<Json<Value>, IsError> {
    let account = account.of_own_homeserver(&app)?.with_terms(&app).await?;
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

/// The claims of a JWT as it carries them, without any check.
fn jwt_claims(id_token: &str) -> Result<Value, IsError> {
    let payload = id_token.split('.').nth(1).ok_or_else(|| IsError::TokenInvalid("not a JWT".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| IsError::TokenInvalid(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| IsError::TokenInvalid(e.to_string()))
}

/// The issuer an ID token claims, read before any check, to pick the IdP
/// whose keys will check it.
fn claimed_issuer(id_token: &str) -> Result<String, IsError> {
    jwt_claims(id_token)?["iss"].as_str().map(str::to_owned).ok_or_else(|| IsError::TokenInvalid("no iss".into()))
}

/// Refuses a (verified) ID token issued longer than `max_age_seconds` ago:
/// `exp` alone lets a token that leaked be used for as long as the IdP
/// makes them live.
fn check_token_age(id_token: &str, max_age_seconds: u64) -> Result<(), IsError> {
    let issued = jwt_claims(id_token)?["iat"].as_f64().ok_or_else(|| IsError::TokenInvalid("no iat".into()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .map_err(|e| IsError::Internal(e.to_string()))?;
    if now - issued > max_age_seconds as f64 { Err(IsError::TokenExpired) } else { Ok(()) }
}

/// Checks an ID token from the organisation IdP against the session and the
/// trust list; the session then holds exactly the UZI, URA and role codes
/// the token vouches for.
async fn idp_submit_token(
    State(app): State<Arc<App>>,
    account: Account,
    Body(body): Body<SubmitToken>,
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
    // The signature holds, so the claims read from the payload are the IdP's.
    check_token_age(&body.id_token, app.config.id_token_max_age_seconds)?;
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
async fn bind(State(app): State<Arc<App>>, account: Account, Body(body): Body<Bind>) -> Result<Json<Value>, IsError> {
    let account = account.of_own_homeserver(&app)?.with_terms(&app).await?;
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
    let (mut first, mut signed) = (None, Vec::new());
    for (medium, address) in &threepids {
        let ts = app.store.bind(medium, address, &body.mxid, &app.keys.lookup_hash(medium, address)).await?;
        let association = json!({
            "medium": medium, "address": address, "mxid": body.mxid,
            "not_before": ts, "not_after": ts + 100 * 365 * 24 * 3600 * 1000_i64, "ts": ts,
        });
        first.get_or_insert_with(|| association.clone());
        signed.push(app.keys.sign(association)?);
    }
    info!(user = %body.mxid, bound = signed.len(), "3PIDs bound");
    for (medium, address) in threepids.iter().filter(|(m, _)| m == "email") {
        let delivered = deliver_invites(&app, medium, address, &body.mxid).await;
        info!(user = %body.mxid, delivered, "third-party invites handed to the inviters' homeservers");
    }
    // The spec's answer is the first association; the list of all rides in
    // it, so the answer is signed with the list (a homeserver that checks
    // the signature of what it got sees every key it got signed).
    let mut answer = first.ok_or(IsError::SessionNotValidated)?;
    answer["nl.kring.associations"] = Value::Array(signed);
    Ok(Json(app.keys.sign(answer)?))
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
    Body(body): Body<Unbind>,
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
    let account = account.with_terms(&app).await?;
    // MXID by MXID is a sweep too: the same window as /lookup.
    app.lookup_limit.check(&account.user_id)?;
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

/// Where this service is reached from outside, for links and key URLs.
fn public_base(app: &App) -> String {
    app.config
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("https://{}", app.config.server_name))
        .trim_end_matches('/')
        .to_owned()
}

/// An address as bindings and lookups compare it: trimmed, lower case.
fn normalise_email(address: &str) -> Result<String, IsError> {
    let address = address.trim().to_lowercase();
    let valid = matches!(address.split_once('@'), Some((local, domain))
        if !local.is_empty() && domain.contains('.') && !domain.contains('@') && !address.contains(char::is_whitespace));
    if valid { Ok(address) } else { Err(IsError::EmailInvalid) }
}

#[derive(Deserialize)]
struct EmailRequestToken {
    client_secret: String,
    email: String,
    send_attempt: i64,
}

/// Mails a validation link and code. A repeated request (same secret,
/// address and attempt) answers the same session and sends nothing.
async fn email_request_token(
    State(app): State<Arc<App>>,
    account: Account,
    Body(body): Body<EmailRequestToken>,
) -> Result<Json<Value>, IsError> {
    let account = account.of_own_homeserver(&app)?.with_terms(&app).await?;
    check_client_secret(&body.client_secret)?;
    let address = normalise_email(&body.email)?;
    if let Some(sid) = app.store.email_session(&body.client_secret, &address, body.send_attempt).await? {
        return Ok(Json(json!({"sid": sid})));
    }
    app.request_token_limit.check(&account.user_id)?;
    let mailer = app.mailer.as_ref().ok_or(IsError::EmailNotConfigured)?;
    let (sid, token) = (random_token(16), random_token(18));
    let mut link = url::Url::parse(&format!("{}{V2}/validate/email/submitToken", public_base(&app)))
        .map_err(|e| IsError::Internal(e.to_string()))?;
    link.query_pairs_mut()
        .append_pair("sid", &sid)
        .append_pair("client_secret", &body.client_secret)
        .append_pair("token", &token);
    let body_text = format!(
        "Goedendag,\n\nU vroeg om dit e-mailadres te koppelen aan uw account bij {org}.\n\
         Bevestig het met deze link:\n{link}\n\nOf voer deze code in: {token}\n\n\
         Vroeg u hier niet om? Dan kunt u deze mail negeren; er gebeurt niets.\n",
        org = app.config.invitation.organisation,
    );
    mailer.send(Mail { to: address.clone(), subject: "Bevestig uw e-mailadres".into(), body: body_text }).await?;
    app.store
        .create_email_session(&sid, &body.client_secret, &account.user_id, &address, &token, body.send_attempt)
        .await?;
    info!(user = %account.user_id, "validation mail sent");
    Ok(Json(json!({"sid": sid})))
}

#[derive(Deserialize)]
struct EmailSubmit {
    sid: String,
    client_secret: String,
    token: String,
}

/// Checks a mailed token; the session then holds the address as validated.
/// The token proves the mailbox, so no account token is needed (the link
/// is opened in a mail program's browser).
async fn check_email_token(app: &App, submit: &EmailSubmit) -> Result<(), IsError> {
    let session = app.store.session(&submit.sid).await?.ok_or(IsError::NoValidSession)?;
    if session.client_secret_hash != sha256_hex(&submit.client_secret) {
        return Err(IsError::NoValidSession);
    }
    let (address, token_hash) = session.email.ok_or(IsError::NoValidSession)?;
    if sha256_hex(submit.token.trim()) != token_hash {
        return Err(IsError::TokenIncorrect);
    }
    app.store.mark_validated(&submit.sid, &[("email".to_owned(), address)]).await?;
    Ok(())
}

async fn email_submit_token(
    State(app): State<Arc<App>>,
    Body(body): Body<EmailSubmit>,
) -> Result<Json<Value>, IsError> {
    check_email_token(&app, &body).await?;
    Ok(Json(json!({"success": true})))
}

async fn email_submit_link(State(app): State<Arc<App>>, Query(q): Query<EmailSubmit>) -> Html<String> {
    let text = match check_email_token(&app, &q).await {
        Ok(()) => "Uw e-mailadres is bevestigd. U kunt dit venster sluiten en verder gaan in Kring.".to_owned(),
        Err(e) => format!("Dit adres kon niet worden bevestigd ({}). Vraag in Kring een nieuwe mail aan.", e.errcode()),
    };
    Html(format!(
        "<!doctype html><html lang=\"nl\"><head><meta charset=\"utf-8\"><title>Kring</title></head>\
         <body><p role=\"status\">{text}</p></body></html>"
    ))
}

#[derive(Deserialize)]
struct StoreInviteRequest {
    medium: String,
    address: String,
    room_id: String,
    sender: String,
    #[serde(default)]
    sender_display_name: Option<String>,
}

/// The homeserver keeps a third-party invite here (`/invite` with
/// `id_server`): this service mails the invitee and, once they bind the
/// address, hands the invite back to the inviter's homeserver
/// (`/3pid/onbind`). The mail names the inviter and how to join; the room
/// (whose name may be a client's) is not in it.
async fn store_invite(
    State(app): State<Arc<App>>,
    account: Account,
    Body(body): Body<StoreInviteRequest>,
) -> Result<Json<Value>, IsError> {
    let account = account.of_own_homeserver(&app)?.with_terms(&app).await?;
    if body.medium != "email" {
        return Err(IsError::InvalidParam(format!("invites by {} are not stored: look it up", body.medium)));
    }
    // The homeserver calls with the inviter's own identity-service token.
    if body.sender != account.user_id {
        return Err(IsError::Forbidden("an invite is stored only by its sender".into()));
    }
    let address = normalise_email(&body.address)?;
    if !app.store.holders("email", &address).await?.is_empty() {
        return Err(IsError::ThreepidInUse);
    }
    app.request_token_limit.check(&account.user_id)?;
    let mailer = app.mailer.as_ref().ok_or(IsError::EmailNotConfigured)?;
    let (ephemeral_public_key, ephemeral_private_key) = crate::keys::ephemeral_pair()?;
    let invite = StoredInvite {
        token: random_token(24),
        medium: body.medium.clone(),
        address: address.clone(),
        room_id: body.room_id.clone(),
        sender: body.sender.clone(),
        ephemeral_public_key,
        ephemeral_private_key,
    };
    let inviter = body.sender_display_name.clone().filter(|n| !n.trim().is_empty()).unwrap_or(body.sender.clone());
    let join = app.config.invitation.join_url.clone().map_or_else(String::new, |url| {
        let mut url = url::Url::parse(&url).ok();
        if let Some(u) = url.as_mut() {
            u.query_pairs_mut().append_pair("email", &address);
        }
        url.map(|u| format!("Maak uw account aan op:\n{u}\n\n")).unwrap_or_default()
    });
    let text = format!(
        "Goedendag,\n\n{inviter} van {org} nodigt u uit voor Kring, waarin u met de zorgverleners\n\
         berichten uitwisselt.\n\n{join}\
         Zo doet u mee:\n\
         1. Maak een account aan met dit e-mailadres, een wachtwoord en een tweede stap\n   \
         (een code uit een authenticator-app op uw telefoon).\n\
         2. Open Kring, log in en bevestig dit e-mailadres.\n\
         Daarna ziet u de uitnodiging in Kring.\n\n\
         Kent u {inviter} niet? Dan kunt u deze mail negeren.\n",
        org = app.config.invitation.organisation,
    );
    mailer
        .send(Mail { to: address.clone(), subject: format!("Uitnodiging voor Kring van {inviter}"), body: text })
        .await?;
    app.store.store_invite(&invite).await?;
    info!(sender = %body.sender, "third-party invite stored and mailed");
    let base = public_base(&app);
    Ok(Json(json!({
        "token": invite.token,
        "public_key": app.keys.public_key,
        "public_keys": [
            {"public_key": app.keys.public_key, "key_validity_url": format!("{base}{V2}/pubkey/isvalid")},
            {"public_key": invite.ephemeral_public_key, "key_validity_url": format!("{base}{V2}/pubkey/ephemeral/isvalid")},
        ],
        "display_name": redacted(&address),
    })))
}

/// An address as the room may show it: `j…@example.org`.
fn redacted(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => format!("{}…@{domain}", local.chars().next().unwrap_or('?')),
        None => "…".into(),
    }
}

async fn ephemeral_isvalid(
    State(app): State<Arc<App>>,
    Ruma(q): Ruma<is_api::keys::validate_ephemeral_key::v2::Request>,
) -> Result<Answer<is_api::keys::validate_ephemeral_key::v2::Response>, IsError> {
    let valid = app.store.ephemeral_key_valid(&q.public_key.0).await?;
    Ok(Answer(is_api::keys::validate_ephemeral_key::v2::Response::new(valid)))
}

#[derive(Deserialize)]
struct SignEd25519 {
    mxid: String,
    token: String,
    private_key: String,
}

/// Signs the invitation details with the invite's ephemeral key, for an
/// invitee who joins with the token rather than by binding the address.
async fn sign_ed25519(
    State(app): State<Arc<App>>,
    account: Account,
    Body(body): Body<SignEd25519>,
) -> Result<Json<Value>, IsError> {
    if body.mxid != account.user_id {
        return Err(IsError::Forbidden("invitation details are signed for the account itself".into()));
    }
    let invite = app.store.invite(&body.token).await?.ok_or(IsError::NotFound)?;
    if invite.ephemeral_private_key != body.private_key {
        return Err(IsError::Forbidden("this key is not the invite's".into()));
    }
    let signed = app.keys.sign_ephemeral(
        &invite.ephemeral_private_key,
        json!({"mxid": body.mxid, "sender": invite.sender, "token": invite.token}),
    )?;
    Ok(Json(signed))
}

/// Hands every invite for a newly bound address to its inviter's homeserver
/// (`/_matrix/federation/v1/3pid/onbind`), signed with the long-term key
/// that the room's `m.room.third_party_invite` names. Returns how many
/// homeservers took theirs; the rest are tried again by the background task.
async fn deliver_invites(app: &App, medium: &str, address: &str, mxid: &str) -> usize {
    let invites = match app.store.pending_invites(medium, address).await {
        Ok(i) => i,
        Err(e) => {
            warn!("pending invites: {e}");
            return 0;
        }
    };
    let mut delivered = 0;
    for invite in invites {
        match deliver(app, &invite, mxid).await {
            Ok(()) => delivered += 1,
            Err(e) => warn!(sender = %invite.sender, "onbind not taken yet: {e}"),
        }
    }
    delivered
}

async fn deliver(app: &App, invite: &StoredInvite, mxid: &str) -> Result<(), IsError> {
    let sender = ruma::UserId::parse(&invite.sender).map_err(|e| IsError::Internal(e.to_string()))?;
    let hs = app
        .config
        .homeserver(sender.server_name().as_str())
        .ok_or_else(|| IsError::HomeserverNotTrusted(sender.server_name().to_string()))?;
    let signed = app.keys.sign(json!({"mxid": mxid, "sender": invite.sender, "token": invite.token}))?;
    let body = json!({
        "medium": invite.medium, "address": invite.address, "mxid": mxid,
        "invites": [{"medium": invite.medium, "address": invite.address, "mxid": mxid,
                     "room_id": invite.room_id, "sender": invite.sender, "signed": signed}],
    });
    let url = format!("{}/_matrix/federation/v1/3pid/onbind", hs.federation_url.trim_end_matches('/'));
    let answer = app.http.post(url).json(&body).send().await.map_err(|e| IsError::Internal(e.to_string()))?;
    if !answer.status().is_success() {
        // Only status and errcode: Synapse's error text can quote the invite, address and all.
        let status = answer.status();
        let errcode = answer.json::<Value>().await.ok().and_then(|v| v["errcode"].as_str().map(str::to_owned));
        return Err(IsError::Internal(format!("onbind answered {status} ({})", errcode.unwrap_or_default())));
    }
    app.store.invite_delivered(&invite.token).await
}

/// Retries invites whose address is bound but whose homeserver did not take
/// them yet (it was down, or busy), every 30 seconds.
pub fn deliver_pending_invites(app: Arc<App>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            match app.store.undelivered_bound_invites().await {
                Ok(pending) => {
                    for (invite, mxid) in pending {
                        if let Err(e) = deliver(&app, &invite, &mxid).await {
                            warn!(sender = %invite.sender, "onbind retry: {e}");
                        }
                    }
                }
                Err(e) => warn!("pending invites: {e}"),
            }
        }
    });
}
