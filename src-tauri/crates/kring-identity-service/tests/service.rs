//! The identity service against the real test stack: accounts from homeserver
//! A's OpenID tokens (its federation API, over the stack's TLS), ID tokens
//! from the real `oidc-provider` IdP (signed in by the scripted browser user,
//! `tests/support/idp_browser.py`), and an embedded sqlite database that
//! survives a restart. Start the stack first: `tests/stack/stackctl up`.

use std::{path::PathBuf, sync::Arc, time::Duration};

use kring_identity::{IdpConfig, SystemBrowser};
use kring_identity_service::{Config, Running, config::Terms, lookup_hash};
use serde_json::{Value, json};

const TERMS_URL: &str = "https://kring.example/privacy/1.0";

struct Stack {
    json: Value,
    repo: PathBuf,
}

impl Stack {
    fn load() -> Self {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
        let path = std::env::var_os("KRING_STACK_JSON")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join("target/stack/stack.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}. Start the test stack first: tests/stack/stackctl up", path.display()));
        Self { json: serde_json::from_str(&text).unwrap(), repo }
    }

    fn user(&self, key: &str) -> &Value {
        self.json["users"].as_array().unwrap().iter().find(|u| u["key"] == key).unwrap()
    }

    fn homeserver(&self) -> &Value {
        &self.json["homeservers"]["a"]
    }

    fn config(&self, database_url: &str) -> Config {
        let hs = self.homeserver();
        let server_name = hs["server_name"].as_str().unwrap();
        serde_json::from_value(json!({
            "listen": "127.0.0.1:0",
            "database_url": database_url,
            "server_name": "is-a.localhost",
            "homeservers": [{"server_name": server_name, "federation_url": format!("https://{server_name}")}],
            "extra_ca": PathBuf::from(self.json["stack_dir"].as_str().unwrap()).join("tls/ca.crt"),
            "idps": [{"issuer": self.json["idp"]["issuer"], "audiences": [self.json["idp"]["desktop_client_id"]]}],
        }))
        .map(|mut c: Config| {
            c.terms = Some(Terms { version: "1.0".into(), name: "Privacyverklaring".into(), url: TERMS_URL.into() });
            c
        })
        .unwrap()
    }

    /// An ID token from the organisation IdP for `user`, made for `nonce`:
    /// the person signs in in the (scripted) browser, as at first login.
    async fn id_token(&self, user: &Value, nonce: &str) -> String {
        let cache = std::env::var("KRING_CACHE")
            .unwrap_or_else(|_| format!("{}/.cache/kring", std::env::var("HOME").unwrap_or_default()));
        let browser = SystemBrowser::with_command(format!(
            "env KRING_TEST_IDP_USER={} KRING_TEST_IDP_PASSWORD={} {cache}/venv-tools/bin/python {}",
            user["localpart"].as_str().unwrap(),
            user["password"].as_str().unwrap(),
            self.repo.join("tests/support/idp_browser.py").display(),
        ));
        let idp = IdpConfig {
            name: None,
            issuer: self.json["idp"]["issuer"].as_str().unwrap().to_owned(),
            client_id: self.json["idp"]["desktop_client_id"].as_str().unwrap().to_owned(),
            scopes: vec!["openid".into(), "profile".into(), "uzi".into()],
            claims: Default::default(),
        };
        kring_identity::sign_in_with_nonce(&idp, Arc::new(browser), Duration::from_secs(60), Some(nonce.to_owned()))
            .await
            .expect("signed in at the IdP")
            .id_token
    }

    /// A homeserver OpenID token for `user` (`/openid/request_token`).
    async fn openid(&self, http: &reqwest::Client, user: &Value) -> Value {
        let base = self.homeserver()["base_url"].as_str().unwrap();
        let login: Value = http
            .post(format!("{base}/_matrix/client/v3/login"))
            .json(&json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user["localpart"]},
                          "password": user["password"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["access_token"].as_str().expect("logged in");
        let mxid = user["mxid"].as_str().unwrap();
        http.post(format!("{base}/_matrix/client/v3/user/{mxid}/openid/request_token"))
            .bearer_auth(token)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// A client of the identity service under test.
struct Is {
    base: String,
    http: reqwest::Client,
}

impl Is {
    fn new(running: &Running) -> Self {
        Self { base: format!("http://{}/_matrix/identity", running.addr), http: reqwest::Client::new() }
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, token, body).await;
        assert_eq!(status, 200, "{method} {path}: {value}");
        value
    }

    /// The `errcode` of a refused call.
    async fn refused(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> String {
        let (status, value) = self.call(method, path, token, body).await;
        assert!(status >= 400, "{method} {path} should be refused: {value}");
        value["errcode"].as_str().unwrap_or_default().to_owned()
    }

    /// Registers with the homeserver's OpenID token and accepts the terms.
    async fn account(&self, stack: &Stack, user: &Value) -> String {
        let openid = stack.openid(&self.http, user).await;
        let token =
            self.ok("POST", "/v2/account/register", None, Some(openid)).await["token"].as_str().unwrap().to_owned();
        self.ok("POST", "/v2/terms", Some(&token), Some(json!({"user_accepts": [TERMS_URL]}))).await;
        token
    }
}

fn tamper(jwt: &str) -> String {
    // Flip one character of the signature: still a well-formed JWT.
    let mut chars: Vec<char> = jwt.chars().collect();
    let last = chars.len() - 2;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

fn unsigned_jwt(claims: Value) -> String {
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims))
}

/// A throwaway Postgres cluster from the Debian packages (`postgresql`), on
/// loopback, stopped by its PID file when dropped.
struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl Postgres {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| {
                d.filter_map(Result::ok).map(|e| e.path().join("bin")).filter(|b| b.join("initdb").exists()).max()
            })
            .expect("Postgres is missing: scripts/setup installs the Debian package postgresql");
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pg = Self { dir, bin, port };
        // initdb refuses to run as root: the cluster then belongs to the postgres user.
        if pg.as_root() {
            assert!(std::process::Command::new("chown").arg("postgres").arg(pg.dir.path()).status().unwrap().success());
        }
        let data = pg.dir.path().display().to_string();
        pg.run("initdb", &["-D", &data, "-U", "kring", "--auth=trust", "-E", "UTF8"]);
        let options = format!("-c listen_addresses=127.0.0.1 -p {port} -k {data}");
        pg.run("pg_ctl", &["-D", &data, "-o", &options, "-l", &format!("{data}/server.log"), "-w", "start"]);
        pg
    }

    fn as_root(&self) -> bool {
        Self::is_root()
    }

    fn is_root() -> bool {
        std::process::Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
    }

    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut cmd = if Self::is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            std::process::Command::new(&path)
        };
        let out = cmd.args(args).output().unwrap();
        assert!(out.status.success(), "{program}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self) -> String {
        format!("postgres://kring@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_practitioner_binds_exactly_what_the_organisation_idp_vouches_for() {
    let db = tempfile::tempdir().unwrap();
    practitioner_binds(&format!("sqlite://{}?mode=rwc", db.path().join("is.db").display())).await;
}

/// The same, on Postgres (production), through the same migrations and queries.
#[tokio::test(flavor = "multi_thread")]
async fn the_same_on_postgres() {
    let pg = Postgres::start();
    practitioner_binds(&pg.url()).await;
}

async fn practitioner_binds(url: &str) {
    let stack = Stack::load();
    let url = url.to_owned();
    let running = kring_identity_service::start(stack.config(&url)).await.expect("the service starts");
    let is = Is::new(&running);
    let (eva, sanne) = (stack.user("a-lead"), stack.user("a-nurse"));
    let eva_mxid = eva["mxid"].as_str().unwrap();

    assert!(is.ok("GET", "/versions", None, None).await["versions"].as_array().unwrap().iter().any(|v| v == "v1.1"));
    is.ok("GET", "/v2", None, None).await;

    // Accounts come only from a homeserver on the list, vouching for its own user.
    let forged = json!({"access_token": "forged", "token_type": "Bearer",
                        "matrix_server_name": stack.homeserver()["server_name"], "expires_in": 3600});
    assert_eq!(is.refused("POST", "/v2/account/register", None, Some(forged)).await, "M_UNKNOWN_TOKEN");
    let mut elsewhere = stack.openid(&is.http, eva).await;
    elsewhere["matrix_server_name"] = json!("evil.example");
    assert_eq!(
        is.refused("POST", "/v2/account/register", None, Some(elsewhere)).await,
        "nl.kring.homeserver_not_trusted"
    );
    let openid = stack.openid(&is.http, eva).await;
    let token = is.ok("POST", "/v2/account/register", None, Some(openid)).await["token"].as_str().unwrap().to_owned();
    assert_eq!(is.ok("GET", "/v2/account", Some(&token), None).await["user_id"], eva_mxid);
    assert_eq!(is.refused("GET", "/v2/account", Some("nonsense"), None).await, "M_UNAUTHORIZED");

    // Nothing is looked up or bound before the terms are accepted.
    assert_eq!(is.refused("GET", "/v2/hash_details", Some(&token), None).await, "M_TERMS_NOT_SIGNED");
    let terms = is.ok("GET", "/v2/terms", None, None).await;
    assert_eq!(terms["policies"]["privacy_policy"]["nl"]["url"], TERMS_URL);
    is.ok("POST", "/v2/terms", Some(&token), Some(json!({"user_accepts": [TERMS_URL]}))).await;

    // A validation session: its nonce goes into the organisation login.
    let session = is
        .ok("POST", "/v2/validate/nl.kring.idp/requestToken", Some(&token), Some(json!({"client_secret": "geheim-1"})))
        .await;
    let (sid, nonce) = (session["sid"].as_str().unwrap(), session["nonce"].as_str().unwrap());
    let id_token = stack.id_token(eva, nonce).await;
    let submit = |t: &str, sid: &str, secret: &str| json!({"sid": sid, "client_secret": secret, "id_token": t});
    let path = "/v2/validate/nl.kring.idp/submitToken";

    // Forged, untrusted, wrong secret: refused, each with its code; the session stays open.
    assert_eq!(
        is.refused("POST", path, Some(&token), Some(submit(&tamper(&id_token), sid, "geheim-1"))).await,
        "nl.kring.token_invalid"
    );
    let foreign = unsigned_jwt(json!({"iss": "https://idp.evil.example", "aud": "kring-desktop", "nonce": nonce}));
    assert_eq!(
        is.refused("POST", path, Some(&token), Some(submit(&foreign, sid, "geheim-1"))).await,
        "nl.kring.idp_not_trusted"
    );
    assert_eq!(
        is.refused("POST", path, Some(&token), Some(submit(&id_token, sid, "fout"))).await,
        "M_NO_VALID_SESSION"
    );
    assert_eq!(
        is.refused("GET", &format!("/v2/3pid/getValidated3pid?sid={sid}&client_secret=geheim-1"), Some(&token), None)
            .await,
        "M_SESSION_NOT_VALIDATED"
    );

    // The genuine token validates the session; the same token never again.
    is.ok("POST", path, Some(&token), Some(submit(&id_token, sid, "geheim-1"))).await;
    assert_eq!(
        is.refused("POST", path, Some(&token), Some(submit(&id_token, sid, "geheim-1"))).await,
        "nl.kring.token_replayed"
    );
    let validated =
        is.ok("GET", &format!("/v2/3pid/getValidated3pid?sid={sid}&client_secret=geheim-1"), Some(&token), None).await;
    let threepids: Vec<(String, String)> = validated["nl.kring.threepids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["medium"].as_str().unwrap().to_owned(), t["address"].as_str().unwrap().to_owned()))
        .collect();
    let uzi = eva["uzi"].as_str().unwrap();
    assert!(threepids.contains(&("uzi_nr".into(), uzi.into())), "{threepids:?}");
    assert!(threepids.contains(&("role_code".into(), eva["role_code"].as_str().unwrap().into())), "{threepids:?}");
    assert!(threepids.iter().any(|(m, _)| m == "ura_nr"), "{threepids:?}");

    // Bound to the account's own MXID only; the association is signed with the service's key.
    let bind = |mxid: &str| json!({"sid": sid, "client_secret": "geheim-1", "mxid": mxid});
    assert_eq!(is.refused("POST", "/v2/3pid/bind", Some(&token), Some(bind("@someone:else"))).await, "M_FORBIDDEN");
    let association = is.ok("POST", "/v2/3pid/bind", Some(&token), Some(bind(eva_mxid))).await;
    assert_eq!(association["mxid"], eva_mxid);
    let public_key = is.ok("GET", "/v2/pubkey/ed25519:0", None, None).await["public_key"].as_str().unwrap().to_owned();
    assert!(
        is.ok("GET", &format!("/v2/pubkey/isvalid?public_key={}", urlencode(&public_key)), None, None).await["valid"]
            == true
    );
    for signed in association["nl.kring.associations"].as_array().unwrap() {
        verify_signature(signed, "is-a.localhost", &public_key);
    }

    // Lookup by hashed UZI, with the pepper; no plain addresses, no stale pepper.
    let details = is.ok("GET", "/v2/hash_details", Some(&token), None).await;
    assert_eq!(details["algorithms"], json!(["sha256"]));
    let pepper = details["lookup_pepper"].as_str().unwrap();
    let hash = lookup_hash("uzi_nr", uzi, pepper);
    let lookup = |algorithm: &str, pepper: &str, address: &str| json!({"algorithm": algorithm, "pepper": pepper, "addresses": [address]});
    let found = is.ok("POST", "/v2/lookup", Some(&token), Some(lookup("sha256", pepper, &hash))).await;
    assert_eq!(found["mappings"][&hash], eva_mxid);
    assert_eq!(
        is.refused("POST", "/v2/lookup", Some(&token), Some(lookup("none", pepper, &format!("{uzi} uzi_nr")))).await,
        "M_INVALID_PARAM"
    );
    assert_eq!(
        is.refused("POST", "/v2/lookup", Some(&token), Some(lookup("sha256", "oud", &hash))).await,
        "M_INVALID_PEPPER"
    );

    // Another person: Sanne may not use Eva's session, nor a token Eva got for her own session.
    let sanne_token = is.account(&stack, sanne).await;
    assert_eq!(
        is.refused("POST", path, Some(&sanne_token), Some(submit(&id_token, sid, "geheim-1"))).await,
        "M_FORBIDDEN"
    );
    let eva_again = is
        .ok("POST", "/v2/validate/nl.kring.idp/requestToken", Some(&token), Some(json!({"client_secret": "geheim-2"})))
        .await;
    let evas_new_token = stack.id_token(eva, eva_again["nonce"].as_str().unwrap()).await;
    let hers = is
        .ok(
            "POST",
            "/v2/validate/nl.kring.idp/requestToken",
            Some(&sanne_token),
            Some(json!({"client_secret": "geheim-3"})),
        )
        .await;
    let hers_sid = hers["sid"].as_str().unwrap();
    assert_eq!(
        is.refused("POST", path, Some(&sanne_token), Some(submit(&evas_new_token, hers_sid, "geheim-3"))).await,
        "nl.kring.nonce_mismatch"
    );

    // The reverse lookup (MXID -> UZI, URA, role codes), signed.
    let reverse =
        is.ok("GET", &format!("/v2/nl.kring/bindings/{}", urlencode(eva_mxid)), Some(&sanne_token), None).await;
    let media: Vec<&str> =
        reverse["threepids"].as_array().unwrap().iter().map(|t| t["medium"].as_str().unwrap()).collect();
    assert!(media.contains(&"uzi_nr") && media.contains(&"ura_nr") && media.contains(&"role_code"), "{reverse}");
    verify_signature(&reverse, "is-a.localhost", &public_key);

    // The key and the bindings survive a restart.
    running.task.abort();
    let again = kring_identity_service::start(stack.config(&url)).await.expect("restarts");
    let is2 = Is::new(&again);
    assert_eq!(is2.ok("GET", "/v2/pubkey/ed25519:0", None, None).await["public_key"], public_key.as_str());
    let found = is2.ok("POST", "/v2/lookup", Some(&token), Some(lookup("sha256", pepper, &hash))).await;
    assert_eq!(found["mappings"][&hash], eva_mxid, "the same pepper and binding after a restart");

    // Unbinding the role code removes it from the reverse lookup.
    let role = eva["role_code"].as_str().unwrap();
    is2.ok(
        "POST",
        "/v2/3pid/unbind",
        Some(&token),
        Some(json!({"mxid": eva_mxid, "threepid": {"medium": "role_code", "address": role}})),
    )
    .await;
    let reverse = is2.ok("GET", &format!("/v2/nl.kring/bindings/{}", urlencode(eva_mxid)), Some(&token), None).await;
    assert!(!reverse["threepids"].as_array().unwrap().iter().any(|t| t["medium"] == "role_code"), "{reverse}");
    is2.ok("POST", "/v2/account/logout", Some(&token), Some(json!({}))).await;
    assert_eq!(is2.refused("GET", "/v2/account", Some(&token), None).await, "M_UNAUTHORIZED");
    again.task.abort();
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Checks `signatures.<server>.ed25519:0` over the canonical JSON, as a
/// homeserver checks an identity server's signature.
fn verify_signature(signed: &Value, server: &str, public_key: &str) {
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD_NO_PAD.decode(public_key).unwrap();
    let mut keys = ruma::signatures::PublicKeyMap::new();
    let mut set = ruma::signatures::PublicKeySet::new();
    set.insert("ed25519:0".into(), ruma::serde::Base64::new(key));
    keys.insert(server.into(), set);
    let serde_json::Value::Object(map) = signed.clone() else { panic!("not an object: {signed}") };
    let object = ruma::canonical_json::try_from_json_map(map).unwrap();
    ruma::signatures::verify_json(&keys, &object).unwrap_or_else(|e| panic!("signature of {signed}: {e}"));
}
