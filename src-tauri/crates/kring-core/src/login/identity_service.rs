//! Kring as a client of the homeserver's identity service
//! (`kring-identity-service`, 001 §3): the UZI, URA and role codes the
//! organisation IdP vouches for are bound to the MXID there, and read back by
//! anyone who needs them (the reverse lookup), signed by the service. The
//! profile field (`identity.rs`) stays a hint; this is what can be trusted.

use std::{collections::HashMap, sync::Arc, time::Duration};

use kring_identity::{Browser, IdpConfig};
use matrix_sdk::ruma::api::client::account::request_openid_token;
use serde::Serialize;
use serde_json::{Value, json};
use tracing::info;
use url::Url;

use crate::{CoreError, Session};

/// What the identity service holds for an MXID, as the organisation IdP
/// vouched for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedIdentity {
    pub uzi: Option<String>,
    pub ura: Vec<String>,
    pub role_codes: Vec<String>,
    /// The identity service that answered (its base URL).
    pub identity_service: String,
}

/// The identity services this session found (per server name or
/// homeserver) and its accounts there, so a care network of twenty asks
/// each service once, not twenty times.
#[derive(Default)]
pub(crate) struct IdentityServices {
    found: tokio::sync::Mutex<HashMap<String, Option<Url>>>,
    tokens: tokio::sync::Mutex<HashMap<String, zeroize::Zeroizing<String>>>,
}

/// An identity-service token, held only for the call at hand.
pub(crate) struct IsAccount {
    pub(crate) base: Url,
    pub(crate) token: zeroize::Zeroizing<String>,
}

impl IsAccount {
    /// The service as a homeserver names it in `/invite` (`id_server`: host and port).
    pub(crate) fn id_server(&self) -> String {
        let host = self.base.host_str().unwrap_or_default();
        self.base.port().map_or_else(|| host.to_owned(), |p| format!("{host}:{p}"))
    }

    fn at(&self, path: &str) -> Result<Url, CoreError> {
        endpoint(&self.base, path)
    }
}

fn endpoint(base: &Url, path: &str) -> Result<Url, CoreError> {
    base.join(&format!("_matrix/identity/v2/{path}")).map_err(unreachable)
}

/// The setting that keeps an e-mail validation between the mail and its
/// code (sid and client secret; no address).
const EMAIL_VALIDATION_SETTING: &str = "email_validation";

fn unreachable(e: impl std::fmt::Display) -> CoreError {
    CoreError::IdentityServiceUnreachable(e.to_string())
}

impl Session {
    /// The identity service this homeserver names (`m.identity_server` in its
    /// `/.well-known/matrix/client`); `None` when it names none.
    pub async fn identity_service(&self) -> Result<Option<Url>, CoreError> {
        self.identity_service_at(&self.client.homeserver()).await
    }

    /// The identity service a homeserver (its client API base URL) names in
    /// its `/.well-known/matrix/client`, remembered for this session.
    pub(crate) async fn identity_service_at(&self, homeserver: &Url) -> Result<Option<Url>, CoreError> {
        let mut url = homeserver.clone();
        url.set_path("/.well-known/matrix/client");
        url.set_query(None);
        if let Some(known) = self.identity_services.found.lock().await.get(url.as_str()) {
            return Ok(known.clone());
        }
        let answer = self.client.http_client().get(url.clone()).timeout(Duration::from_secs(10)).send().await;
        let found = match answer {
            Ok(a) if a.status().is_success() => {
                let known: Value = a.json().await.unwrap_or(Value::Null);
                known["m.identity_server"]["base_url"].as_str().and_then(|u| Url::parse(u).ok())
            }
            // The server answered: it names none (kept, as an answer).
            Ok(_) => None,
            // Not reachable now: not remembered, asked again next time.
            Err(e) => return Err(unreachable(e)),
        };
        self.identity_services.found.lock().await.insert(url.to_string(), found.clone());
        Ok(found)
    }

    /// The identity service of the homeserver that holds `user_id`: this
    /// homeserver's own, or the one another organisation's server names at
    /// `https://<server name>/.well-known/matrix/client` (client discovery).
    pub(crate) async fn identity_service_of(&self, user_id: &str) -> Result<Option<Url>, CoreError> {
        let user = matrix_sdk::ruma::UserId::parse(user_id).map_err(|_| CoreError::UnknownUser(user_id.to_owned()))?;
        if self.own_user_id().is_ok_and(|me| me.server_name() == user.server_name()) {
            return self.identity_service().await;
        }
        let homeserver = Url::parse(&format!("https://{}/", user.server_name())).map_err(unreachable)?;
        self.identity_service_at(&homeserver).await
    }

    async fn is_call(
        &self,
        method: reqwest_method::Method,
        url: Url,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value, CoreError> {
        let mut request = self.client.http_client().request(method, url);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        let answer = request.timeout(Duration::from_secs(20)).send().await.map_err(unreachable)?;
        let status = answer.status();
        let value: Value = answer.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        Err(match value["errcode"].as_str().unwrap_or("M_UNKNOWN") {
            "M_INVALID_EMAIL" => CoreError::EmailInvalid,
            "M_TOKEN_INCORRECT" => CoreError::EmailCodeWrong,
            "M_THREEPID_IN_USE" => CoreError::EmailInUse,
            errcode => CoreError::IdentityServiceRefused {
                errcode: errcode.to_owned(),
                message: value["error"].as_str().unwrap_or_default().to_owned(),
            },
        })
    }

    /// Registers at the identity service with an OpenID token of this
    /// homeserver, and accepts its current terms (the organisation's policy
    /// for its own practitioners; the audit log records it).
    pub(crate) async fn is_account(&self) -> Result<IsAccount, CoreError> {
        let base = self
            .identity_service()
            .await?
            .ok_or_else(|| CoreError::IdentityServiceUnreachable("the homeserver names no identity service".into()))?;
        self.account_at(base, false).await
    }

    /// This session's account at the identity service `base`: the one it
    /// has, or (`fresh`, or none yet) a new registration.
    async fn account_at(&self, base: Url, fresh: bool) -> Result<IsAccount, CoreError> {
        let key = base.to_string();
        if !fresh && let Some(token) = self.identity_services.tokens.lock().await.get(&key) {
            return Ok(IsAccount { base, token: token.clone() });
        }
        let account = self.register_at(base).await?;
        self.identity_services.tokens.lock().await.insert(key, account.token.clone());
        Ok(account)
    }

    /// An authenticated call at `base`; a token the service no longer
    /// knows (logged out, expired, new terms) is replaced once.
    async fn account_call(
        &self,
        base: &Url,
        method: reqwest_method::Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<Value, CoreError> {
        let account = self.account_at(base.clone(), false).await?;
        match self.is_call(method.clone(), url.clone(), Some(&account.token), body.clone()).await {
            Err(CoreError::IdentityServiceRefused { errcode, .. })
                if errcode == "M_UNAUTHORIZED" || errcode == "M_TERMS_NOT_SIGNED" =>
            {
                let account = self.account_at(base.clone(), true).await?;
                self.is_call(method, url, Some(&account.token), body).await
            }
            other => other,
        }
    }

    /// Registers at `base` with an OpenID token of this homeserver and
    /// accepts its terms.
    async fn register_at(&self, base: Url) -> Result<IsAccount, CoreError> {
        let user_id = self.own_user_id()?;
        let openid = self.client.send(request_openid_token::v3::Request::new(user_id)).await?;
        let register = json!({
            "access_token": openid.access_token, "token_type": "Bearer",
            "matrix_server_name": openid.matrix_server_name, "expires_in": openid.expires_in.as_secs(),
        });
        let at = |path: &str| endpoint(&base, path);
        let answer = self.is_call(reqwest_method::Method::POST, at("account/register")?, None, Some(register)).await?;
        let token = zeroize::Zeroizing::new(answer["token"].as_str().unwrap_or_default().to_owned());
        let terms = self.is_call(reqwest_method::Method::GET, at("terms")?, None, None).await?;
        let urls: Vec<String> = terms["policies"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
            .flat_map(|policy| policy.as_object().into_iter().flat_map(|langs| langs.values()))
            .filter_map(|lang| lang["url"].as_str().map(str::to_owned))
            .collect();
        if !urls.is_empty() {
            self.is_call(reqwest_method::Method::POST, at("terms")?, Some(&token), Some(json!({"user_accepts": urls})))
                .await?;
            self.audit_detail("identity_service_terms", None, Some(&urls.join(" "))).await;
        }
        Ok(IsAccount { base, token })
    }

    /// Binds the UZI, URA and role codes of the person signed in at the
    /// organisation IdP to this MXID at the homeserver's identity service.
    /// The IdP is asked once more with the service's nonce; with its session
    /// still open, it asks for no password.
    pub async fn bind_care_identity(
        &self,
        idp: &IdpConfig,
        browser: Arc<dyn Browser>,
        timeout: Duration,
    ) -> Result<VerifiedIdentity, CoreError> {
        let account = self.is_account().await?;
        let at = |path: &str| account.at(path);
        let secret = crate::secrets::new_store_passphrase();
        let session = self
            .is_call(
                reqwest_method::Method::POST,
                at("validate/nl.kring.idp/requestToken")?,
                Some(&account.token),
                Some(json!({"client_secret": secret.as_str()})),
            )
            .await?;
        let (sid, nonce) = (session["sid"].as_str().unwrap_or_default(), session["nonce"].as_str().unwrap_or_default());
        let signed_in = kring_identity::sign_in_with_nonce(idp, browser, timeout, Some(nonce.to_owned())).await?;
        let submit = json!({"sid": sid, "client_secret": secret.as_str(), "id_token": signed_in.id_token});
        self.is_call(
            reqwest_method::Method::POST,
            at("validate/nl.kring.idp/submitToken")?,
            Some(&account.token),
            Some(submit),
        )
        .await?;
        let me = self.own_user_id()?;
        let bind = json!({"sid": sid, "client_secret": secret.as_str(), "mxid": me.as_str()});
        self.is_call(reqwest_method::Method::POST, at("3pid/bind")?, Some(&account.token), Some(bind)).await?;
        self.audit_detail("bind_care_identity", None, Some(account.base.as_str())).await;
        info!(identity_service = %account.base, "care identity bound at the identity service");
        let verified =
            self.verified_identity_of(me.as_str()).await?.ok_or_else(|| CoreError::IdentityServiceRefused {
                errcode: "M_NOT_FOUND".into(),
                message: "the binding is not there after binding".into(),
            })?;
        // Kept as this account's own verified binding, with the directory
        // resources the first login found where they agree.
        let hint =
            self.store.identity_binding(me.as_str()).await.ok().flatten().map(crate::CareIdentityBinding::from_store);
        let binding = crate::identity::verified_binding(me.as_str(), verified.clone(), hint);
        if let Err(e) = self.store.save_identity_binding(&binding.to_store()).await {
            tracing::warn!("could not keep the verified binding: {e}");
        }
        Ok(verified)
    }

    /// Removes what the organisation IdP vouched for from this account at
    /// its identity service: before the account is deactivated (a move to
    /// another vendor), so lookups no longer lead to it and the new account
    /// may carry the UZI. Returns how many 3PIDs were unbound.
    pub async fn unbind_care_identity(&self) -> Result<usize, CoreError> {
        let me = self.own_user_id()?;
        let Some(found) = self.verified_identity_of(me.as_str()).await? else { return Ok(0) };
        let base = Url::parse(&found.identity_service).map_err(unreachable)?;
        let threepids = found
            .uzi
            .iter()
            .map(|u| ("uzi_nr", u))
            .chain(found.ura.iter().map(|u| ("ura_nr", u)))
            .chain(found.role_codes.iter().map(|r| ("role_code", r)));
        let mut unbound = 0;
        for (medium, address) in threepids {
            let body = json!({"mxid": me.as_str(), "threepid": {"medium": medium, "address": address}});
            self.account_call(&base, reqwest_method::Method::POST, endpoint(&base, "3pid/unbind")?, Some(body)).await?;
            unbound += 1;
        }
        self.audit_detail("unbind_care_identity", None, Some(base.as_str())).await;
        Ok(unbound)
    }

    /// What the homeserver's identity service holds for `user_id`, as the
    /// organisation IdP vouched for it; `None` when nothing is bound.
    /// Asked at the identity service of `user_id`'s own homeserver (also at
    /// another organisation), which vouches only for its own users.
    pub async fn verified_identity_of(&self, user_id: &str) -> Result<Option<VerifiedIdentity>, CoreError> {
        let Some(base) = self.identity_service_of(user_id).await? else { return Ok(None) };
        let mut url = base.join("_matrix/identity/v2/nl.kring/bindings/").map_err(unreachable)?;
        url.path_segments_mut().map_err(|()| unreachable("not a base URL"))?.pop_if_empty().push(user_id);
        let answer = self.account_call(&base, reqwest_method::Method::GET, url, None).await?;
        let mut found = VerifiedIdentity { identity_service: base.to_string(), ..Default::default() };
        for t in answer["threepids"].as_array().into_iter().flatten() {
            let (Some(medium), Some(address)) = (t["medium"].as_str(), t["address"].as_str()) else { continue };
            match medium {
                "uzi_nr" => found.uzi = Some(address.to_owned()),
                "ura_nr" => found.ura.push(address.to_owned()),
                "role_code" => found.role_codes.push(address.to_owned()),
                _ => {}
            }
        }
        Ok(found.uzi.is_some().then_some(found))
    }
}

impl Session {
    /// The MXID an identity service has bound to this UZI number (the hashed
    /// `/lookup`, medium `uzi_nr`), asked at the identity service of
    /// `homeserver` (the practitioner's, as their directory names it).
    pub(crate) async fn mxid_for_uzi(&self, homeserver: &Url, uzi: &str) -> Result<Option<String>, CoreError> {
        let Some(base) = self.identity_service_at(homeserver).await? else { return Ok(None) };
        self.mxid_for(&base, "uzi_nr", uzi).await
    }

    /// The MXID bound to this e-mail address at this homeserver's identity service.
    pub(crate) async fn mxid_for_email(&self, address: &str) -> Result<Option<String>, CoreError> {
        let Some(base) = self.identity_service().await? else { return Ok(None) };
        // As the service normalises it before hashing.
        self.mxid_for(&base, "email", &address.trim().to_lowercase()).await
    }

    async fn mxid_for(&self, base: &Url, medium: &str, address: &str) -> Result<Option<String>, CoreError> {
        let at = |path: &str| endpoint(base, path);
        let details = self.account_call(base, reqwest_method::Method::GET, at("hash_details")?, None).await?;
        let pepper = details["lookup_pepper"].as_str().unwrap_or_default().to_owned();
        let hashed = lookup_hash(medium, address, &pepper);
        let body = json!({"addresses": [hashed.clone()], "algorithm": "sha256", "pepper": pepper});
        let answer = self.account_call(base, reqwest_method::Method::POST, at("lookup")?, Some(body)).await?;
        Ok(answer["mappings"][&hashed].as_str().map(str::to_owned))
    }

    /// Asks the identity service to mail a code to `address`, to bind it to
    /// this account: how a related person or client invited by e-mail gets
    /// their invite (001 §3, §6).
    pub async fn request_email_validation(&self, address: &str) -> Result<(), CoreError> {
        let address = crate::email_invite::checked_email(address)?;
        let account = self.is_account().await?;
        let secret = crate::secrets::new_store_passphrase();
        let body = json!({"client_secret": secret.as_str(), "email": address, "send_attempt": 1});
        let answer = self
            .is_call(
                reqwest_method::Method::POST,
                account.at("validate/email/requestToken")?,
                Some(&account.token),
                Some(body),
            )
            .await?;
        let sid = answer["sid"].as_str().unwrap_or_default();
        let pending = json!({"sid": sid, "client_secret": secret.as_str()});
        self.store
            .set_setting(EMAIL_VALIDATION_SETTING, &pending.to_string())
            .await
            .map_err(crate::care_team::store_err)?;
        info!("e-mail validation requested");
        Ok(())
    }

    /// Submits the code from the mail and binds the address to this account;
    /// the identity service then hands any invite for it to the inviter's
    /// homeserver. Returns the address as bound.
    pub async fn confirm_email(&self, code: &str) -> Result<String, CoreError> {
        let pending = self.store.setting(EMAIL_VALIDATION_SETTING).await.map_err(crate::care_team::store_err)?;
        let pending: Value = pending.and_then(|p| serde_json::from_str(&p).ok()).ok_or(CoreError::NoEmailValidation)?;
        let (sid, secret) =
            (pending["sid"].as_str().unwrap_or_default(), pending["client_secret"].as_str().unwrap_or_default());
        let account = self.is_account().await?;
        let submit = json!({"sid": sid, "client_secret": secret, "token": code.trim()});
        self.is_call(
            reqwest_method::Method::POST,
            account.at("validate/email/submitToken")?,
            Some(&account.token),
            Some(submit),
        )
        .await?;
        let me = self.own_user_id()?;
        let bind = json!({"sid": sid, "client_secret": secret, "mxid": me.as_str()});
        let bound = self
            .is_call(reqwest_method::Method::POST, account.at("3pid/bind")?, Some(&account.token), Some(bind))
            .await?;
        self.store.set_setting(EMAIL_VALIDATION_SETTING, "").await.map_err(crate::care_team::store_err)?;
        self.audit_detail("bind_email", None, Some(account.base.as_str())).await;
        Ok(bound["address"].as_str().unwrap_or_default().to_owned())
    }
}

/// The Identity Service API's `sha256` lookup hash: of `"<address> <medium> <pepper>"`,
/// unpadded URL-safe base64.
fn lookup_hash(medium: &str, address: &str, pepper: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{address} {medium} {pepper}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lookup_hashes_follow_the_spec_example() {
        // Identity Service API v2, "Client behaviour" example: alice@example.com, email, matrixrocks.
        assert_eq!(
            super::lookup_hash("email", "alice@example.com", "matrixrocks"),
            "4kenr7N9drpCJ4AfalmlGQVsOn3o2RHjkADUpXJWZUc"
        );
    }
}

/// reqwest's `Method`, through the SDK's re-export.
mod reqwest_method {
    pub use matrix_sdk::reqwest::Method;
}
