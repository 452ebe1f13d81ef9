//! Signing in on a homeserver in the system browser, back through a loopback
//! redirect: the homeserver's own OAuth 2.0 API (MSC3861; Matrix 2.0, e.g.
//! Synapse behind the Matrix Authentication Service) when it offers one,
//! else its single sign-on with a login token.

use std::time::Duration;

use kring_identity::{Browser, LoopbackListener};
use matrix_sdk::{
    Client,
    authentication::oauth::registration::{ApplicationType, ClientMetadata, Localized, OAuthGrantType},
    ruma::serde::Raw,
    utils::UrlOrQuery,
};
use tracing::info;
use url::Url;

use crate::CoreError;

/// `idp`: the homeserver's identity provider to go to (its `id` in the SSO
/// login flow, e.g. `oidc-careplatform`); without one, a homeserver with
/// several shows its own choice page.
pub(crate) async fn login(
    client: &Client,
    idp: Option<&str>,
    browser: &dyn Browser,
    timeout: Duration,
) -> Result<(), CoreError> {
    // A homeserver without the OAuth API answers its metadata with 404.
    if client.oauth().server_metadata().await.is_ok() {
        info!("the homeserver offers OAuth 2.0: signing in there");
        oauth(client, browser, timeout).await
    } else {
        sso(client, idp, browser, timeout).await
    }
}

fn listener_error(e: kring_identity::LoopbackError) -> CoreError {
    CoreError::Internal(e.to_string())
}

/// What Kring registers as (dynamic client registration, RFC 7591): a
/// native app with a loopback redirect.
fn client_metadata(redirect: &Url) -> Result<Raw<ClientMetadata>, CoreError> {
    let client_uri = Url::parse("https://kring.example/").expect("a valid URL");
    let mut metadata = ClientMetadata::new(
        ApplicationType::Native,
        vec![OAuthGrantType::AuthorizationCode { redirect_uris: vec![redirect.clone()] }],
        Localized::new(client_uri, []),
    );
    metadata.client_name = Some(Localized::new("Kring".to_owned(), []));
    Raw::new(&metadata).map_err(|e| CoreError::Internal(e.to_string()))
}

async fn oauth(client: &Client, browser: &dyn Browser, timeout: Duration) -> Result<(), CoreError> {
    let listener = LoopbackListener::bind("/callback").await.map_err(listener_error)?;
    let redirect = listener.redirect_uri();
    let oauth = client.oauth();
    let auth = oauth
        .login(redirect.clone(), None, Some(client_metadata(&redirect)?.into()), None)
        .build()
        .await
        .map_err(|e| CoreError::IdpRejected(format!("the homeserver's OAuth API: {e}")))?;
    browser.open(&auth.url).map_err(CoreError::Internal)?;
    let query = match listener.wait(timeout).await {
        Ok(query) => query,
        Err(e) => {
            oauth.abort_login(&auth.state).await;
            return Err(CoreError::LoginCancelled(e.to_string()));
        }
    };
    if query.get("error").is_some_and(|e| e == "access_denied") {
        oauth.abort_login(&auth.state).await;
        return Err(CoreError::LoginCancelled("access_denied".into()));
    }
    let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&query).finish();
    oauth
        .finish_login(UrlOrQuery::Query(query))
        .await
        .map_err(|e| CoreError::IdpRejected(format!("the homeserver's OAuth API: {e}")))
}

async fn sso(client: &Client, idp: Option<&str>, browser: &dyn Browser, timeout: Duration) -> Result<(), CoreError> {
    use matrix_sdk::ruma::api::client::session::get_login_types::v3::LoginType;
    let types = client.matrix_auth().get_login_types().await?;
    if !types.flows.iter().any(|f| matches!(f, LoginType::Sso(_))) {
        return Err(CoreError::NotYetSupported(format!("{} offers no single sign-on", client.homeserver())));
    }
    let listener = LoopbackListener::bind("/callback").await.map_err(listener_error)?;
    let url = client.matrix_auth().get_sso_login_url(listener.redirect_uri().as_str(), idp).await?;
    let url = Url::parse(&url).map_err(|e| CoreError::InvalidHomeserver(e.to_string()))?;
    browser.open(&url).map_err(CoreError::Internal)?;
    let query = listener.wait(timeout).await.map_err(|e| CoreError::LoginCancelled(e.to_string()))?;
    let token = query
        .get("loginToken")
        .ok_or_else(|| CoreError::IdpRejected("the homeserver returned no login token".into()))?;
    client
        .matrix_auth()
        .login_token(token)
        .initial_device_display_name("Kring")
        .request_refresh_token()
        .send()
        .await
        .map_err(CoreError::from)?;
    Ok(())
}

/// The OAuth path against matrix-sdk's mock server: no homeserver with the
/// OAuth 2.0 API can run here (Synapse needs the Matrix Authentication
/// Service for it, which no reachable registry ships). The SSO path is
/// tested against the real Synapse in the CLI scenarios and the app E2E.
#[cfg(test)]
mod tests {
    use matrix_sdk::{AuthSession, test_utils::mocks::MatrixMockServer};

    use super::*;

    /// Plays the authorization server's redirect: straight back to the
    /// app's loopback listener with a code and the request's state.
    struct RedirectingBrowser;

    impl Browser for RedirectingBrowser {
        fn open(&self, url: &Url) -> Result<(), String> {
            let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
            let mut back = Url::parse(&pairs["redirect_uri"]).map_err(|e| e.to_string())?;
            back.query_pairs_mut().append_pair("code", "the-code").append_pair("state", &pairs["state"]);
            std::thread::spawn(move || {
                let mut stream =
                    std::net::TcpStream::connect((back.host_str().unwrap(), back.port().unwrap())).unwrap();
                let target = format!("{}?{}", back.path(), back.query().unwrap());
                std::io::Write::write_all(&mut stream, format!("GET {target} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
                    .unwrap();
                let mut sink = String::new();
                let _ = std::io::Read::read_to_string(&mut stream, &mut sink);
            });
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_homeserver_with_the_oauth_api_is_signed_in_through_it() {
        let server = MatrixMockServer::new().await;
        let oauth = server.oauth();
        oauth.mock_server_metadata().ok().expect(1..).named("metadata").mount().await;
        oauth.mock_registration().ok().expect(1).named("registration").mount().await;
        oauth.mock_token().ok().expect(1).named("token").mount().await;
        server.mock_versions().ok().mount().await;
        server.mock_who_am_i().ok().mount().await;
        let client = server.client_builder().unlogged().build().await;

        login(&client, None, &RedirectingBrowser, Duration::from_secs(10)).await.expect("OAuth login");
        let session = client.session().expect("signed in");
        assert!(matches!(session, AuthSession::OAuth(_)), "{session:?}");
        let (kept, client_id) = crate::StoredSession::parts_of(session).unwrap();
        assert!(client_id.is_some_and(|id| !id.is_empty()), "the registered client id is kept for refreshes");
        assert!(!kept.tokens.access_token.is_empty());
    }

    #[tokio::test]
    async fn a_homeserver_without_it_falls_back_to_sso_and_needs_sso() {
        let server = MatrixMockServer::new().await;
        server.oauth().mock_server_metadata().respond_with(wiremock::ResponseTemplate::new(404)).mount().await;
        server.mock_versions().ok().mount().await;
        // Only password login on offer: SSO is impossible, and says so.
        wiremock::Mock::given(wiremock::matchers::path("/_matrix/client/v3/login"))
            .respond_with(
                wiremock::ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"flows": [{"type": "m.login.password"}]})),
            )
            .mount(server.server())
            .await;
        let client = server.client_builder().unlogged().build().await;
        let err = login(&client, None, &RedirectingBrowser, Duration::from_secs(2)).await.unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::NotYetSupported, "{err}");
    }
}
