//! The organisation login: OpenID Connect authorization code flow with PKCE
//! (S256) as a native public client, in the system browser, redirected back
//! to a loopback listener. What Kring needs from it is the practitioner's
//! identity in care: UZI number, the organisation's URA number, role codes.

use std::{collections::HashMap, sync::Arc, time::Duration};

use openidconnect::{
    AdditionalClaims, AuthenticationFlow, AuthorizationCode, ClientId, CsrfToken, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IdTokenFields, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse,
    TokenResponse,
    core::{
        CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
        CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
        CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
    },
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{debug, info};

use crate::{Browser, loopback::LoopbackListener};

/// Which IdP, which client, and under which claim names it releases the
/// identity: every organisation's IdP names them its own way.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct IdpConfig {
    /// Shown to the user ("Ziekenhuis Aurora").
    #[serde(default)]
    pub name: Option<String>,
    pub issuer: String,
    pub client_id: String,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub claims: ClaimNames,
}

fn default_scopes() -> Vec<String> {
    vec!["openid".into(), "profile".into()]
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct ClaimNames {
    pub uzi: String,
    pub ura: String,
    /// A string or an array of strings.
    pub role_codes: String,
    pub name: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self { uzi: "uzi".into(), ura: "ura".into(), role_codes: "role_code".into(), name: "name".into() }
    }
}

/// Who signed in, as the organisation vouches for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CareIdentity {
    pub uzi: String,
    pub ura: String,
    pub role_codes: Vec<String>,
    pub name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("the sign-in service {issuer} cannot be reached: {reason}")]
    IdpUnreachable { issuer: String, reason: String },
    #[error("the sign-in service refused: {0}")]
    IdpRejected(String),
    #[error("sign-in was cancelled: {0}")]
    Cancelled(String),
    #[error("the sign-in service did not release the {0} claim")]
    MissingClaim(&'static str),
    #[error("the browser could not be opened: {0}")]
    Browser(String),
    #[error("the sign-in configuration is invalid: {0}")]
    Config(String),
}

/// Every claim of the ID token beyond the standard ones, so claim names can
/// be configuration instead of types.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct ExtraClaims {
    #[serde(flatten)]
    claims: HashMap<String, Value>,
}
impl AdditionalClaims for ExtraClaims {}

type IdTokenWithExtras = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<IdTokenWithExtras, CoreTokenType>;
type OidcClient = openidconnect::Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// openidconnect's HTTP port, served by the reqwest 0.13 client the rest of
/// Kring uses. Redirects are not followed (SSRF, and the spec forbids it).
/// A type rather than a closure: a closure's borrowed future is not provably
/// Send for every lifetime, which the app's spawned login needs.
struct Http(reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = reqwest::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<HttpResponse, reqwest::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}

async fn send(http: &reqwest::Client, request: HttpRequest) -> Result<HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let response = http.request(parts.method, parts.uri.to_string()).headers(parts.headers).body(body).send().await?;
    let mut out = openidconnect::http::Response::builder().status(response.status());
    if let Some(headers) = out.headers_mut() {
        *headers = response.headers().clone();
    }
    let bytes = response.bytes().await?;
    Ok(out.body(bytes.to_vec()).expect("status and headers come from a valid response"))
}

/// Signs the practitioner in at their organisation's IdP.
///
/// Opens the IdP in `browser`, waits up to `timeout` for the redirect, checks
/// state, PKCE, nonce and the ID token's signature, then reads the identity
/// claims (from the ID token, else from the userinfo endpoint).
pub async fn sign_in(
    config: &IdpConfig,
    browser: Arc<dyn Browser>,
    timeout: Duration,
) -> Result<CareIdentity, IdentityError> {
    sign_in_with_nonce(config, browser, timeout, None).await.map(|s| s.identity)
}

/// What a sign-in gives to someone who must show it to a third party: the
/// identity, and the ID token itself (a signed JWT) to hand on.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub identity: CareIdentity,
    pub id_token: String,
}

/// [`sign_in`] with the nonce a third party chose (the identity service's
/// validation session), so that party can tell the ID token was made for it.
pub async fn sign_in_with_nonce(
    config: &IdpConfig,
    browser: Arc<dyn Browser>,
    timeout: Duration,
    nonce: Option<String>,
) -> Result<SignedIn, IdentityError> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| IdentityError::Config(e.to_string()))?;
    let http_client = Http(http);
    let unreachable = |reason: String| IdentityError::IdpUnreachable { issuer: config.issuer.clone(), reason };

    let issuer = IssuerUrl::new(config.issuer.clone()).map_err(|e| IdentityError::Config(e.to_string()))?;
    let metadata =
        CoreProviderMetadata::discover_async(issuer, &http_client).await.map_err(|e| unreachable(error_chain(&e)))?;
    let listener = LoopbackListener::bind("/callback").await.map_err(|e| IdentityError::Browser(e.to_string()))?;
    let redirect =
        RedirectUrl::new(listener.redirect_uri().to_string()).map_err(|e| IdentityError::Config(e.to_string()))?;
    let client = OidcClient::from_provider_metadata(metadata, ClientId::new(config.client_id.clone()), None)
        .set_redirect_uri(redirect);

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let chosen = nonce.map(Nonce::new);
    let mut request = client
        .authorize_url(AuthenticationFlow::<CoreResponseType>::AuthorizationCode, CsrfToken::new_random, move || {
            chosen.unwrap_or_else(Nonce::new_random)
        })
        .set_pkce_challenge(challenge);
    for scope in config.scopes.iter().filter(|s| s.as_str() != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.url();
    browser.open(&url).map_err(IdentityError::Browser)?;
    info!(issuer = %config.issuer, "waiting for the organisation login in the browser");

    let query = listener.wait(timeout).await.map_err(|e| IdentityError::Cancelled(e.to_string()))?;
    if let Some(error) = query.get("error") {
        let description = query.get("error_description").cloned().unwrap_or_default();
        // RFC 6749 §4.1.2.1: the user said no, or closed the IdP's page with "cancel".
        return Err(if error == "access_denied" {
            IdentityError::Cancelled(format!("{error}: {description}"))
        } else {
            IdentityError::IdpRejected(format!("{error}: {description}"))
        });
    }
    if query.get("state").map(String::as_str) != Some(state.secret().as_str()) {
        return Err(IdentityError::IdpRejected("the answer does not belong to this sign-in (state)".into()));
    }
    let code = query.get("code").ok_or_else(|| IdentityError::IdpRejected("no authorization code".into()))?;

    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .map_err(|e| IdentityError::Config(e.to_string()))?
        .set_pkce_verifier(verifier)
        .request_async(&http_client)
        .await
        .map_err(|e| match e {
            openidconnect::RequestTokenError::Request(inner) => unreachable(error_chain(&inner)),
            other => IdentityError::IdpRejected(error_chain(&other)),
        })?;
    let id_token = tokens.id_token().ok_or_else(|| IdentityError::IdpRejected("no ID token".into()))?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .map_err(|e| IdentityError::IdpRejected(format!("the ID token is not valid: {e}")))?;
    let mut extra = claims.additional_claims().claims.clone();
    if let Some(name) = claims.name().and_then(|n| n.get(None)) {
        extra.entry(config.claims.name.clone()).or_insert_with(|| Value::String(name.to_string()));
    }
    // A conformant IdP may release scope claims only at userinfo.
    if (!extra.contains_key(&config.claims.ura) || !extra.contains_key(&config.claims.uzi))
        && let Ok(request) = client.user_info(tokens.access_token().clone(), None)
    {
        let info: Result<openidconnect::UserInfoClaims<ExtraClaims, CoreGenderClaim>, _> =
            request.request_async(&http_client).await;
        match info {
            Ok(info) => {
                for (k, v) in &info.additional_claims().claims {
                    extra.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            Err(e) => debug!("userinfo not available: {}", error_chain(&e)),
        }
    }
    Ok(SignedIn { identity: identity_from_claims(&config.claims, &extra)?, id_token: id_token.to_string() })
}

/// Why an ID token shown by someone else is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("the IdP cannot be reached: {0}")]
    Unreachable(String),
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token was made for another sign-in (nonce)")]
    NonceMismatch,
    #[error("the ID token is not valid: {0}")]
    Invalid(String),
    #[error("the ID token lacks the {0} claim")]
    MissingClaim(&'static str),
}

/// An ID token checked for someone who did not ask for it: signature (the
/// IdP's published keys), issuer, audience (one of `audiences`), expiry and
/// nonce. Returns the identity its claims vouch for.
pub async fn verify_id_token(
    issuer: &str,
    audiences: &[String],
    claims: &ClaimNames,
    id_token: &str,
    nonce: &str,
) -> Result<CareIdentity, IdTokenError> {
    use openidconnect::{ClaimsVerificationError, IdToken, core::CoreIdTokenVerifier};
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| IdTokenError::Unreachable(e.to_string()))?;
    let issuer_url = IssuerUrl::new(issuer.to_owned()).map_err(|e| IdTokenError::Invalid(e.to_string()))?;
    let metadata = CoreProviderMetadata::discover_async(issuer_url.clone(), &Http(http))
        .await
        .map_err(|e| IdTokenError::Unreachable(error_chain(&e)))?;
    let Some((first, others)) = audiences.split_first() else {
        return Err(IdTokenError::Invalid("no audience is configured".into()));
    };
    let others = others.to_vec();
    let verifier =
        CoreIdTokenVerifier::new_public_client(ClientId::new(first.clone()), issuer_url, metadata.jwks().clone())
            .set_other_audience_verifier_fn(move |aud| others.iter().any(|a| a == aud.as_str()));
    let token: IdToken<ExtraClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm> =
        id_token.parse().map_err(|e: serde_json::Error| IdTokenError::Invalid(e.to_string()))?;
    let verified = token.claims(&verifier, &Nonce::new(nonce.to_owned())).map_err(|e| match e {
        ClaimsVerificationError::Expired(_) => IdTokenError::Expired,
        ClaimsVerificationError::InvalidNonce(_) => IdTokenError::NonceMismatch,
        other => IdTokenError::Invalid(other.to_string()),
    })?;
    let mut extra = verified.additional_claims().claims.clone();
    if let Some(name) = verified.name().and_then(|n| n.get(None)) {
        extra.entry(claims.name.clone()).or_insert_with(|| Value::String(name.to_string()));
    }
    identity_from_claims(claims, &extra).map_err(|e| match e {
        IdentityError::MissingClaim(c) => IdTokenError::MissingClaim(c),
        other => IdTokenError::Invalid(other.to_string()),
    })
}

/// Reads the configured claims. UZI and URA are required; role codes may be
/// one string or a list.
pub fn identity_from_claims(
    names: &ClaimNames,
    claims: &HashMap<String, Value>,
) -> Result<CareIdentity, IdentityError> {
    let text = |name: &str| -> Option<String> {
        match claims.get(name)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let uzi = text(&names.uzi).ok_or(IdentityError::MissingClaim("UZI"))?;
    let ura = text(&names.ura).ok_or(IdentityError::MissingClaim("URA"))?;
    let role_codes = match claims.get(&names.role_codes) {
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    Ok(CareIdentity { uzi, ura, role_codes, name: text(&names.name) })
}

/// An error with its sources, so "error sending request" says why.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> HashMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn configured_claim_names_are_read() {
        let names =
            ClaimNames { uzi: "nl_uzi".into(), ura: "org_ura".into(), role_codes: "roles".into(), name: "name".into() };
        let id = identity_from_claims(
            &names,
            &claims(json!({"nl_uzi": "900100101", "org_ura": 90100001, "roles": ["01.022", "01.016"], "name": "Eva"})),
        )
        .unwrap();
        assert_eq!(id.uzi, "900100101");
        assert_eq!(id.ura, "90100001");
        assert_eq!(id.role_codes, ["01.022", "01.016"]);
        assert_eq!(id.name.as_deref(), Some("Eva"));
    }

    #[test]
    fn a_token_without_ura_or_uzi_is_refused_by_name() {
        let names = ClaimNames::default();
        let no_ura = identity_from_claims(&names, &claims(json!({"uzi": "1", "role_code": "30.000"})));
        assert!(matches!(no_ura, Err(IdentityError::MissingClaim("URA"))));
        let empty_uzi = identity_from_claims(&names, &claims(json!({"uzi": " ", "ura": "2"})));
        assert!(matches!(empty_uzi, Err(IdentityError::MissingClaim("UZI"))));
        let one_role =
            identity_from_claims(&names, &claims(json!({"uzi": "1", "ura": "2", "role_code": "30.000"}))).unwrap();
        assert_eq!(one_role.role_codes, ["30.000"]);
    }
}
