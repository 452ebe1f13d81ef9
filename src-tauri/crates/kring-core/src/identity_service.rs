//! Kring as a client of the homeserver's identity service
//! (`kring-identity-service`, 001 §3): the UZI, URA and role codes the
//! organisation IdP vouches for are bound to the MXID there, and read back by
//! anyone who needs them (the reverse lookup), signed by the service. The
//! profile field (`identity.rs`) stays a hint; this is what can be trusted.

use std::{sync::Arc, time::Duration};

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
        let mut url = self.client.homeserver();
        url.set_path("/.well-known/matrix/client");
        let answer = self.client.http_client().get(url).send().await.map_err(unreachable)?;
        if !answer.status().is_success() {
            return Ok(None);
        }
        let known: Value = answer.json().await.map_err(unreachable)?;
        Ok(known["m.identity_server"]["base_url"].as_str().and_then(|u| Url::parse(u).ok()))
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
        self.verified_identity_of(me.as_str()).await?.ok_or_else(|| CoreError::IdentityServiceRefused {
            errcode: "M_NOT_FOUND".into(),
            message: "the binding is not there after binding".into(),
        })
    }

    /// What the homeserver's identity service holds for `user_id`, as the
    /// organisation IdP vouched for it; `None` when nothing is bound.
    pub async fn verified_identity_of(&self, user_id: &str) -> Result<Option<VerifiedIdentity>, CoreError> {
        let account = self.is_account().await?;
        let mut url = account.base.join("_matrix/identity/v2/nl.kring/bindings/").map_err(unreachable)?;
        url.path_segments_mut().map_err(|()| unreachable("not a base URL"))?.pop_if_empty().push(user_id);
        let answer = self.is_call(reqwest_method::Method::GET, url, Some(&account.token), None).await?;
        let mut found = VerifiedIdentity { identity_service: account.base.to_string(), ..Default::default() };
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

/// reqwest's `Method`, through the SDK's re-export.
mod reqwest_method {
    pub use matrix_sdk::reqwest::Method;
}
