//! The identity service against the real test stack: accounts from homeserver
//! A's OpenID tokens (its federation API, over the stack's TLS), ID tokens
//! from the real `oidc-provider` IdP (signed in by the scripted browser user,
//! `tests/support/idp_browser.py`), and an embedded sqlite database that
//! survives a restart. Start the stack first: `tests/stack/stackctl up`.

use std::{path::PathBuf, sync::Arc, time::Duration};

use kring_identity::{IdpConfig, SystemBrowser};
use kring_identity_service::{
    Config, Running,
    config::{Invitation, RateLimits, Smtp, Terms},
    lookup_hash,
};
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

    // A body that is not JSON, or lacks a field, is refused with the spec's codes, as JSON.
    let register = format!("{}/v2/account/register", is.base);
    let not_json =
        is.http.post(&register).header("Content-Type", "application/json").body("{nope").send().await.unwrap();
    assert_eq!(not_json.status().as_u16(), 400);
    assert_eq!(not_json.json::<Value>().await.unwrap()["errcode"], "M_NOT_JSON");
    assert_eq!(is.refused("POST", "/v2/account/register", None, Some(json!({}))).await, "M_MISSING_PARAMS");
    let wrong_type = json!({"access_token": 1, "token_type": "Bearer", "matrix_server_name": "x", "expires_in": 1});
    assert_eq!(is.refused("POST", "/v2/account/register", None, Some(wrong_type)).await, "M_BAD_JSON");

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
    verify_signature(&association, "is-a.localhost", &public_key);
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

// ------------------------------------------------------------------ e-mail, invites, limits, logs

/// A random tag, so addresses and mails of one run never meet another's.
fn run_tag() -> String {
    format!("{:08x}", rand::random::<u32>())
}

impl Stack {
    /// The stack's SMTP sink (`tests/stack/smtp/sink.py`: port base + 70).
    fn smtp_port(&self) -> u16 {
        u16::try_from(self.json["port_base"].as_u64().expect("stack.json has port_base") + 70).unwrap()
    }

    fn mail_dir(&self) -> PathBuf {
        PathBuf::from(self.json["mail_dir"].as_str().expect("stack.json has mail_dir"))
    }

    /// `config` with mail to the stack's SMTP sink, an organisation and a join link.
    fn mail_config(&self, database_url: &str) -> Config {
        let mut c = self.config(database_url);
        c.smtp = Some(Smtp {
            host: "127.0.0.1".into(),
            port: self.smtp_port(),
            from: "Kring <noreply@zorg-a.example>".into(),
            starttls: false,
        });
        c.invitation = Invitation { organisation: ORGANISATION.into(), join_url: Some(JOIN_URL.into()) };
        c.public_base_url = Some(PUBLIC_BASE.into());
        c
    }

    /// The mails the sink holds for `address` (one `.eml` file each, `NNNNNN-<rcpt>.eml`), in
    /// arrival order, decoded.
    fn mails_to(&self, address: &str) -> Vec<Mail> {
        let suffix = format!("-{address}.eml");
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.mail_dir())
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(&suffix)));
        files.sort();
        files.iter().map(|p| Mail::parse(&std::fs::read_to_string(p).unwrap())).collect()
    }

    /// Waits (5 s at most) until the sink holds `count` mails for `address`, and answers them.
    async fn wait_for_mails(&self, address: &str, count: usize) -> Vec<Mail> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mails = self.mails_to(address);
            if mails.len() >= count || std::time::Instant::now() > deadline {
                assert_eq!(mails.len(), count, "mails to {address}");
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

const ORGANISATION: &str = "Ziekenhuis Aurora (test)";
const JOIN_URL: &str = "https://zorgplatform.example/register";
const PUBLIC_BASE: &str = "https://is-a.example";

/// One mail as the sink stored it: its headers and its body, transfer-decoded.
#[derive(Debug)]
struct Mail {
    headers: String,
    body: String,
}

impl Mail {
    fn parse(raw: &str) -> Self {
        let (headers, body) = raw.split_once("\r\n\r\n").or_else(|| raw.split_once("\n\n")).expect("a mail");
        let headers = headers.replace("\r\n ", " ").replace("\r\n\t", " ");
        let encoding = headers
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase().strip_prefix("content-transfer-encoding:").map(|v| v.trim().to_owned())
            })
            .unwrap_or_else(|| "7bit".into());
        let bytes = match encoding.as_str() {
            "quoted-printable" => decode_quoted_printable(body),
            "base64" => {
                use base64::Engine;
                let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
                base64::engine::general_purpose::STANDARD.decode(clean).expect("base64 body")
            }
            _ => body.as_bytes().to_vec(),
        };
        Self { headers, body: String::from_utf8(bytes).expect("a UTF-8 body").replace("\r\n", "\n") }
    }

    fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.headers.lines().find(|l| l.to_ascii_lowercase().starts_with(&prefix)).map(|l| l[prefix.len()..].trim())
    }

    /// The validation code: "Of voer deze code in: <code>".
    fn code(&self) -> String {
        self.body
            .lines()
            .find_map(|l| l.trim().strip_prefix("Of voer deze code in:"))
            .map(|c| c.trim().to_owned())
            .unwrap_or_else(|| panic!("no code in {}", self.body))
    }

    /// The first link in the body.
    fn link(&self) -> url::Url {
        let line = self.body.lines().map(str::trim).find(|l| l.starts_with("http")).expect("a link");
        url::Url::parse(line).unwrap()
    }
}

fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let (mut out, mut i) = (Vec::with_capacity(bytes.len()), 0);
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' if bytes[i + 1..].starts_with(b"\n") => i += 2,
            b'=' => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).expect("a QP escape"));
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The same path and query against the running service (mail links name the public base).
fn local(link: &url::Url, running: &Running) -> String {
    format!("http://{}{}?{}", running.addr, link.path(), link.query().unwrap_or_default())
}

/// A private key of an invite, read from the service's database (the mail does not carry it).
async fn invite_private_key(database_url: &str, token: &str) -> String {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(database_url).await.unwrap();
    let row = sqlx::query("SELECT ephemeral_private_key FROM invites WHERE token = $1")
        .bind(token)
        .fetch_one(&pool)
        .await
        .unwrap();
    let key = row.try_get(0).unwrap();
    pool.close().await;
    key
}

fn random_public_key() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(rand::random::<[u8; 32]>())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_address_is_validated_by_mail_and_an_invite_names_no_room() {
    let db = tempfile::tempdir().unwrap();
    email_and_invites(&format!("sqlite://{}?mode=rwc", db.path().join("is.db").display())).await;
}

/// The same on Postgres: the e-mail sessions and invites tables through the same queries.
#[tokio::test(flavor = "multi_thread")]
async fn email_and_invites_on_postgres() {
    let pg = Postgres::start();
    email_and_invites(&pg.url()).await;
}

async fn email_and_invites(url: &str) {
    let stack = Stack::load();
    let running = kring_identity_service::start(stack.mail_config(url)).await.expect("the service starts");
    let is = Is::new(&running);
    let (eva, sanne) = (stack.user("a-lead"), stack.user("a-nurse"));
    let (eva_mxid, sanne_mxid) = (eva["mxid"].as_str().unwrap(), sanne["mxid"].as_str().unwrap());
    let token = is.account(&stack, eva).await;
    let sanne_token = is.account(&stack, sanne).await;
    let tag = run_tag();
    let eva_mail = format!("eva.{tag}@zorg-a.example");
    let request = "/v2/validate/email/requestToken";
    let ask = |secret: &str, email: &str, attempt: i64| json!({"client_secret": secret, "email": email, "send_attempt": attempt});

    // No mail to what is not an address, nor with a secret outside the spec's grammar.
    assert_eq!(
        is.refused("POST", request, Some(&token), Some(ask("mail-1", "geen adres", 1))).await,
        "M_INVALID_EMAIL"
    );
    assert_eq!(is.refused("POST", request, Some(&token), Some(ask("mail 1!", &eva_mail, 1))).await, "M_INVALID_PARAM");
    assert_eq!(is.refused("POST", request, None, Some(ask("mail-1", &eva_mail, 1))).await, "M_UNAUTHORIZED");

    // The address as typed (case, spaces) is the address normalised; one mail, whatever the retries.
    let typed = format!("  Eva.{tag}@Zorg-A.Example ");
    let sid =
        is.ok("POST", request, Some(&token), Some(ask("mail-1", &typed, 1))).await["sid"].as_str().unwrap().to_owned();
    let again = is.ok("POST", request, Some(&token), Some(ask("mail-1", &typed, 1))).await;
    assert_eq!(again["sid"], sid.as_str(), "the same request answers the same session");
    let mail = stack.wait_for_mails(&eva_mail, 1).await.remove(0);
    assert_eq!(stack.mails_to(&eva_mail).len(), 1, "a repeated request sends no second mail");
    assert_eq!(mail.header("Subject"), Some("Bevestig uw e-mailadres"));
    assert!(mail.body.contains(ORGANISATION), "{}", mail.body);
    let code = mail.code();
    let link = mail.link();
    assert!(
        link.as_str().starts_with(&format!("{PUBLIC_BASE}/_matrix/identity/v2/validate/email/submitToken?")),
        "{link}"
    );
    let link_params: std::collections::HashMap<_, _> = link.query_pairs().into_owned().collect();
    assert_eq!(link_params["sid"], sid);
    assert_eq!(link_params["token"], code, "the link carries the same code as the text");

    // Not validated before the code; a wrong code or secret is refused with its code.
    let validated_path =
        |sid: &str, secret: &str| format!("/v2/3pid/getValidated3pid?sid={sid}&client_secret={secret}");
    assert_eq!(is.refused("GET", &validated_path(&sid, "mail-1"), Some(&token), None).await, "M_SESSION_NOT_VALIDATED");
    let submit = "/v2/validate/email/submitToken";
    let code_of = |sid: &str, secret: &str, code: &str| json!({"sid": sid, "client_secret": secret, "token": code});
    let (status, wrong) = is.call("POST", submit, None, Some(code_of(&sid, "mail-1", "000000"))).await;
    assert_eq!((status, wrong["errcode"].as_str()), (400, Some("M_TOKEN_INCORRECT")), "{wrong}");
    assert_eq!(is.refused("POST", submit, None, Some(code_of(&sid, "mail-2", &code))).await, "M_NO_VALID_SESSION");
    assert_eq!(
        is.refused("POST", submit, None, Some(code_of("no-such-sid", "mail-1", &code))).await,
        "M_NO_VALID_SESSION"
    );
    assert_eq!(is.refused("GET", &validated_path(&sid, "mail-1"), Some(&token), None).await, "M_SESSION_NOT_VALIDATED");

    // The right code validates (the submitter needs no account: the code proves the mailbox).
    assert_eq!(is.ok("POST", submit, None, Some(code_of(&sid, "mail-1", &code))).await["success"], true);
    let validated = is.ok("GET", &validated_path(&sid, "mail-1"), Some(&token), None).await;
    assert_eq!((validated["medium"].as_str(), validated["address"].as_str()), (Some("email"), Some(eva_mail.as_str())));
    assert!(validated["validated_at"].as_i64().unwrap() > 0, "{validated}");
    assert_eq!(is.refused("GET", &validated_path(&sid, "mail-1"), Some(&sanne_token), None).await, "M_FORBIDDEN");

    // Bound to Eva, signed; found by its hash.
    let bind = |sid: &str, secret: &str, mxid: &str| json!({"sid": sid, "client_secret": secret, "mxid": mxid});
    assert_eq!(
        is.refused("POST", "/v2/3pid/bind", Some(&sanne_token), Some(bind(&sid, "mail-1", sanne_mxid))).await,
        "M_FORBIDDEN",
        "another account cannot bind Eva's validated address"
    );
    let association = is.ok("POST", "/v2/3pid/bind", Some(&token), Some(bind(&sid, "mail-1", eva_mxid))).await;
    assert_eq!(
        (association["medium"].as_str(), association["address"].as_str()),
        (Some("email"), Some(eva_mail.as_str()))
    );
    assert_eq!(association["mxid"], eva_mxid);
    let public_key = is.ok("GET", "/v2/pubkey/ed25519:0", None, None).await["public_key"].as_str().unwrap().to_owned();
    verify_signature(&association, "is-a.localhost", &public_key);
    let pepper =
        is.ok("GET", "/v2/hash_details", Some(&token), None).await["lookup_pepper"].as_str().unwrap().to_owned();
    let eva_hash = lookup_hash("email", &eva_mail, &pepper);
    let lookup = |hashes: &[&str]| json!({"algorithm": "sha256", "pepper": pepper, "addresses": hashes});
    let found = is.ok("POST", "/v2/lookup", Some(&sanne_token), Some(lookup(&[&eva_hash]))).await;
    assert_eq!(found["mappings"][&eva_hash], eva_mxid);
    assert!(
        is.ok("POST", "/v2/lookup", Some(&sanne_token), Some(lookup(&[&lookup_hash("email", &typed, &pepper)]))).await
            ["mappings"]
            .as_object()
            .unwrap()
            .is_empty(),
        "only the normalised address is bound"
    );

    // Sanne confirms by the link in her mail (GET, as a mail program's browser opens it).
    let sanne_mail = format!("sanne.{tag}@zorg-a.example");
    let sanne_sid = is.ok("POST", request, Some(&sanne_token), Some(ask("link-1", &sanne_mail, 1))).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = stack.wait_for_mails(&sanne_mail, 1).await.remove(0).link();
    let mut forged = link.clone();
    forged
        .query_pairs_mut()
        .clear()
        .append_pair("sid", &sanne_sid)
        .append_pair("client_secret", "link-1")
        .append_pair("token", "fout");
    let page = is.http.get(local(&forged, &running)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("M_TOKEN_INCORRECT") && !page.contains("is bevestigd"), "{page}");
    assert_eq!(
        is.refused("GET", &validated_path(&sanne_sid, "link-1"), Some(&sanne_token), None).await,
        "M_SESSION_NOT_VALIDATED"
    );
    let page = is.http.get(local(&link, &running)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Uw e-mailadres is bevestigd"), "{page}");
    let validated = is.ok("GET", &validated_path(&sanne_sid, "link-1"), Some(&sanne_token), None).await;
    assert_eq!(validated["address"], sanne_mail.as_str());
    is.ok("POST", "/v2/3pid/bind", Some(&sanne_token), Some(bind(&sanne_sid, "link-1", sanne_mxid))).await;
    let sanne_hash = lookup_hash("email", &sanne_mail, &pepper);
    let found = is.ok("POST", "/v2/lookup", Some(&token), Some(lookup(&[&eva_hash, &sanne_hash]))).await;
    assert_eq!(found["mappings"], json!({eva_hash.as_str(): eva_mxid, sanne_hash.as_str(): sanne_mxid}));
    // A long address book, with a hash asked twice far apart (the store queries in chunks).
    let unknown: Vec<String> =
        (0..700).map(|i| lookup_hash("email", &format!("niemand.{i}.{tag}@example.org"), &pepper)).collect();
    let mut book: Vec<&str> = vec![&eva_hash];
    book.extend(unknown.iter().map(String::as_str));
    book.extend([eva_hash.as_str(), sanne_hash.as_str()]);
    let found = is.ok("POST", "/v2/lookup", Some(&token), Some(lookup(&book))).await;
    assert_eq!(found["mappings"], json!({eva_hash.as_str(): eva_mxid, sanne_hash.as_str(): sanne_mxid}));

    // A third-party invite, as Synapse stores it with the inviter's identity-service token.
    let invitee = format!("jan.{tag}@familie.example");
    let (room_id, room_name, room_alias) = (
        format!("!kamer{tag}:localhost"),
        "Zorgteam J. Jansen, Dorpsstraat 3".to_owned(),
        format!("#jansen-{tag}:localhost"),
    );
    let invite = |sender: &str, medium: &str, address: &str| {
        json!({"medium": medium, "address": address, "room_id": room_id, "sender": sender,
               "sender_display_name": "Eva de Wit", "room_name": room_name, "room_alias": room_alias,
               "room_join_rules": "invite", "room_type": null, "sender_avatar_url": "mxc://localhost/eva"})
    };
    assert_eq!(
        is.refused("POST", "/v2/store-invite", None, Some(invite(eva_mxid, "email", &invitee))).await,
        "M_UNAUTHORIZED"
    );
    assert_eq!(
        is.refused("POST", "/v2/store-invite", Some(&sanne_token), Some(invite(eva_mxid, "email", &invitee))).await,
        "M_FORBIDDEN",
        "an invite is stored only by its sender"
    );
    assert_eq!(
        is.refused(
            "POST",
            "/v2/store-invite",
            Some(&token),
            Some(invite(eva_mxid, "uzi_nr", eva["uzi"].as_str().unwrap()))
        )
        .await,
        "M_INVALID_PARAM"
    );
    assert_eq!(
        is.refused("POST", "/v2/store-invite", Some(&token), Some(invite(eva_mxid, "email", &sanne_mail))).await,
        "M_THREEPID_IN_USE",
        "a bound address is looked up, not invited"
    );
    assert!(stack.mails_to(&invitee).is_empty());
    let stored = is.ok("POST", "/v2/store-invite", Some(&token), Some(invite(eva_mxid, "email", &invitee))).await;
    let invite_token = stored["token"].as_str().unwrap().to_owned();
    assert!(invite_token.len() >= 16, "{stored}");
    assert_eq!(stored["public_key"], public_key.as_str());
    assert_eq!(stored["display_name"], "j…@familie.example", "the room sees the address redacted");
    assert!(!stored["display_name"].as_str().unwrap().contains(&format!("jan.{tag}")));
    let keys = stored["public_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{stored}");
    assert_eq!(keys[0]["public_key"], public_key.as_str());
    assert_eq!(keys[0]["key_validity_url"], format!("{PUBLIC_BASE}/_matrix/identity/v2/pubkey/isvalid"));
    assert_eq!(keys[1]["key_validity_url"], format!("{PUBLIC_BASE}/_matrix/identity/v2/pubkey/ephemeral/isvalid"));
    let ephemeral = keys[1]["public_key"].as_str().unwrap().to_owned();
    assert_ne!(ephemeral, public_key);

    // The mail names the inviter, the organisation and how to join; not the room.
    let mail = stack.wait_for_mails(&invitee, 1).await.remove(0);
    let subject = mail.header("Subject").unwrap_or_default().to_owned();
    assert!(subject.contains("Eva de Wit"), "{subject}");
    assert!(mail.body.contains("Eva de Wit") && mail.body.contains(ORGANISATION), "{}", mail.body);
    let join = format!("{JOIN_URL}?email={}", urlencode(&invitee));
    assert!(mail.body.lines().any(|l| l.trim() == join), "the join link with the address: {}", mail.body);
    for secret in [
        room_id.as_str(),
        room_name.as_str(),
        "Jansen",
        "Dorpsstraat",
        room_alias.as_str(),
        invite_token.as_str(),
        ephemeral.as_str(),
    ] {
        assert!(!mail.body.contains(secret) && !subject.contains(secret), "the mail leaks {secret:?}: {}", mail.body);
    }

    // The ephemeral key is valid while the invite waits; a random key is not, nor the long-term one.
    let ephemeral_valid = |key: &str| format!("/v2/pubkey/ephemeral/isvalid?public_key={}", urlencode(key));
    assert_eq!(is.ok("GET", &ephemeral_valid(&ephemeral), None, None).await["valid"], true);
    assert_eq!(is.ok("GET", &ephemeral_valid(&random_public_key()), None, None).await["valid"], false);
    assert_eq!(is.ok("GET", &ephemeral_valid(&public_key), None, None).await["valid"], false);
    assert_eq!(
        is.ok("GET", &format!("/v2/pubkey/isvalid?public_key={}", urlencode(&ephemeral)), None, None).await["valid"],
        false
    );

    // /sign-ed25519: the invitation details signed with the invite's ephemeral key.
    let private_key = invite_private_key(url, &invite_token).await;
    let sign = |mxid: &str, token: &str, key: &str| json!({"mxid": mxid, "token": token, "private_key": key});
    // Another well-formed key: the one of a second invite.
    let other = is
        .ok(
            "POST",
            "/v2/store-invite",
            Some(&token),
            Some(invite(eva_mxid, "email", &format!("piet.{tag}@familie.example"))),
        )
        .await;
    let other_private = invite_private_key(url, other["token"].as_str().unwrap()).await;
    assert_eq!(
        is.refused(
            "POST",
            "/v2/sign-ed25519",
            Some(&sanne_token),
            Some(sign(sanne_mxid, "no-such-token", &private_key))
        )
        .await,
        "M_NOT_FOUND"
    );
    assert_eq!(
        is.refused(
            "POST",
            "/v2/sign-ed25519",
            Some(&sanne_token),
            Some(sign(sanne_mxid, &invite_token, &other_private))
        )
        .await,
        "M_FORBIDDEN",
        "another invite's key"
    );
    assert_eq!(
        is.refused("POST", "/v2/sign-ed25519", Some(&sanne_token), Some(sign(eva_mxid, &invite_token, &private_key)))
            .await,
        "M_FORBIDDEN",
        "signed only for the caller's own MXID"
    );
    let signed = is
        .ok("POST", "/v2/sign-ed25519", Some(&sanne_token), Some(sign(sanne_mxid, &invite_token, &private_key)))
        .await;
    assert_eq!((signed["mxid"].as_str(), signed["sender"].as_str()), (Some(sanne_mxid), Some(eva_mxid)));
    assert_eq!(signed["token"], invite_token.as_str());
    verify_signature(&signed, "is-a.localhost", &ephemeral);

    // Everything above survives a restart (the tables, not memory, hold it).
    running.task.abort();
    let again = kring_identity_service::start(stack.mail_config(url)).await.expect("restarts");
    let is2 = Is::new(&again);
    assert_eq!(is2.ok("GET", &ephemeral_valid(&ephemeral), None, None).await["valid"], true);
    let found = is2.ok("POST", "/v2/lookup", Some(&token), Some(lookup(&[&eva_hash, &sanne_hash]))).await;
    assert_eq!(found["mappings"].as_object().unwrap().len(), 2);
    assert_eq!(is2.ok("GET", &validated_path(&sid, "mail-1"), Some(&token), None).await["address"], eva_mail.as_str());
    again.task.abort();
}

/// Tiny limits: the request over the limit is refused with 429 and when to try again; another
/// account has its own window.
#[tokio::test(flavor = "multi_thread")]
async fn requests_over_the_rate_limits_are_refused_per_account() {
    let stack = Stack::load();
    let db = tempfile::tempdir().unwrap();
    let mut config = stack.mail_config(&format!("sqlite://{}?mode=rwc", db.path().join("is.db").display()));
    config.rate_limits = RateLimits { request_tokens_per_hour: 2, lookups_per_minute: 3 };
    let running = kring_identity_service::start(config).await.expect("the service starts");
    let is = Is::new(&running);
    let (eva, sanne) = (stack.user("a-lead"), stack.user("a-nurse"));
    let (token, sanne_token) = (is.account(&stack, eva).await, is.account(&stack, sanne).await);
    let tag = run_tag();
    let address = |n: u32| format!("limit.{tag}.{n}@zorg-a.example");
    let request = "/v2/validate/email/requestToken";
    let ask = |n: u32| json!({"client_secret": format!("limit-{n}"), "email": address(n), "send_attempt": 1});

    let first = is.ok("POST", request, Some(&token), Some(ask(1))).await;
    is.ok("POST", request, Some(&token), Some(ask(2))).await;
    let (status, refused) = is.call("POST", request, Some(&token), Some(ask(3))).await;
    assert_eq!((status, refused["errcode"].as_str()), (429, Some("M_LIMIT_EXCEEDED")), "{refused}");
    let retry = refused["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!((1_000..=3_600_000).contains(&retry), "{refused}");
    assert!(stack.mails_to(&address(3)).is_empty(), "no mail over the limit");
    assert_eq!(stack.mails_to(&address(1)).len() + stack.mails_to(&address(2)).len(), 2);
    // A retry of a request already answered sends nothing, so it is not counted (nor refused).
    assert_eq!(is.ok("POST", request, Some(&token), Some(ask(1))).await["sid"], first["sid"]);
    // An invitation mail counts against the same window.
    let invite = json!({"medium": "email", "address": address(4), "room_id": "!r:localhost", "sender": eva["mxid"]});
    let (status, refused) = is.call("POST", "/v2/store-invite", Some(&token), Some(invite)).await;
    assert_eq!((status, refused["errcode"].as_str()), (429, Some("M_LIMIT_EXCEEDED")), "{refused}");
    // Sanne is not affected.
    is.ok("POST", request, Some(&sanne_token), Some(ask(5))).await;
    stack.wait_for_mails(&address(5), 1).await;

    // Lookups: three a minute.
    let pepper =
        is.ok("GET", "/v2/hash_details", Some(&token), None).await["lookup_pepper"].as_str().unwrap().to_owned();
    let lookup =
        json!({"algorithm": "sha256", "pepper": pepper, "addresses": [lookup_hash("email", &address(1), &pepper)]});
    for _ in 0..3 {
        is.ok("POST", "/v2/lookup", Some(&token), Some(lookup.clone())).await;
    }
    let (status, refused) = is.call("POST", "/v2/lookup", Some(&token), Some(lookup.clone())).await;
    assert_eq!((status, refused["errcode"].as_str()), (429, Some("M_LIMIT_EXCEEDED")), "{refused}");
    let retry = refused["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!((1_000..=60_000).contains(&retry), "{refused}");
    is.ok("POST", "/v2/lookup", Some(&sanne_token), Some(lookup)).await;
    running.task.abort();
}

/// An ID token is used right after the login that made it: one older than
/// `id_token_max_age_seconds` is refused as expired although its `exp` (an
/// hour at the stack's IdP) has not passed, and is not used up by that.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_older_than_the_maximum_age_is_refused_as_expired() {
    let stack = Stack::load();
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", db.path().join("is.db").display());
    let mut config = stack.config(&url);
    assert_eq!(config.id_token_max_age_seconds, 600, "the documented default");
    config.id_token_max_age_seconds = 1;
    let running = kring_identity_service::start(config).await.expect("the service starts");
    let is = Is::new(&running);
    let eva = stack.user("a-lead");
    let token = is.account(&stack, eva).await;
    let session = is
        .ok("POST", "/v2/validate/nl.kring.idp/requestToken", Some(&token), Some(json!({"client_secret": "oud-1"})))
        .await;
    let (sid, nonce) = (session["sid"].as_str().unwrap(), session["nonce"].as_str().unwrap());
    let id_token = stack.id_token(eva, nonce).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let submit = json!({"sid": sid, "client_secret": "oud-1", "id_token": id_token});
    let path = "/v2/validate/nl.kring.idp/submitToken";
    let (status, refused) = is.call("POST", path, Some(&token), Some(submit.clone())).await;
    assert_eq!((status, refused["errcode"].as_str()), (403, Some("nl.kring.token_expired")), "{refused}");
    assert_eq!(
        is.refused("GET", &format!("/v2/3pid/getValidated3pid?sid={sid}&client_secret=oud-1"), Some(&token), None)
            .await,
        "M_SESSION_NOT_VALIDATED"
    );
    running.task.abort();

    // The same token, session and database under the default age: accepted, so the age alone refused it.
    let again = kring_identity_service::start(stack.config(&url)).await.expect("restarts");
    let is = Is::new(&again);
    is.ok("POST", path, Some(&token), Some(submit)).await;
    again.task.abort();
}

/// The real binary, at debug level, through every flow that handles a 3PID
/// or a secret: none of them reaches its log.
#[tokio::test(flavor = "multi_thread")]
async fn no_3pid_token_or_address_reaches_the_log() {
    let stack = Stack::load();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("is.db").display());
    let config_path = dir.path().join("is.json");
    let hs = stack.homeserver()["server_name"].as_str().unwrap();
    std::fs::write(
        &config_path,
        json!({
            "listen": "127.0.0.1:0", "database_url": url, "server_name": "is-a.localhost",
            "homeservers": [{"server_name": hs, "federation_url": format!("https://{hs}")}],
            "extra_ca": PathBuf::from(stack.json["stack_dir"].as_str().unwrap()).join("tls/ca.crt"),
            "idps": [{"issuer": stack.json["idp"]["issuer"], "audiences": [stack.json["idp"]["desktop_client_id"]]}],
            "terms": {"version": "1.0", "name": "Privacyverklaring", "url": TERMS_URL},
            "public_base_url": PUBLIC_BASE,
            "smtp": {"host": "127.0.0.1", "port": stack.smtp_port(), "from": "Kring <noreply@zorg-a.example>",
                "starttls": false},
            "invitation": {"organisation": ORGANISATION, "join_url": JOIN_URL},
        })
        .to_string(),
    )
    .unwrap();
    let log_path = dir.path().join("is.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kring-identity-service"))
        .arg("--config")
        .arg(&config_path)
        .env("KRING_LOG", "debug")
        .env("NO_COLOR", "1")
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let addr = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(addr) =
            text.lines().find_map(|l| serde_json::from_str::<Value>(l).ok()?["listening"].as_str().map(str::to_owned))
        {
            break addr;
        }
        assert!(std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none(), "no start: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let is = Is { base: format!("http://{addr}/_matrix/identity"), http: reqwest::Client::new() };
    let eva = stack.user("a-lead");
    let eva_mxid = eva["mxid"].as_str().unwrap();
    let tag = run_tag();
    let mut secrets: Vec<(&str, String)> = Vec::new();

    // Register: the homeserver's OpenID token, and the identity-service token it buys.
    let forged = format!("forged-openid-{tag}");
    is.refused("POST", "/v2/account/register", None, Some(json!({"access_token": forged, "matrix_server_name": hs})))
        .await;
    secrets.push(("forged OpenID token", forged));
    let openid = stack.openid(&is.http, eva).await;
    secrets.push(("OpenID token", openid["access_token"].as_str().unwrap().to_owned()));
    let token = is.ok("POST", "/v2/account/register", None, Some(openid)).await["token"].as_str().unwrap().to_owned();
    secrets.push(("identity-service token", token.clone()));
    is.ok("POST", "/v2/terms", Some(&token), Some(json!({"user_accepts": [TERMS_URL]}))).await;
    is.refused("GET", "/v2/account", Some(&format!("wrong-{tag}")), None).await;
    secrets.push(("wrong token", format!("wrong-{tag}")));

    // The IdP validation: UZI, URA, role code; the ID token, its nonce and the client secret.
    let secret = format!("idp-secret-{tag}");
    let session = is
        .ok("POST", "/v2/validate/nl.kring.idp/requestToken", Some(&token), Some(json!({"client_secret": secret})))
        .await;
    let (sid, nonce) = (session["sid"].as_str().unwrap().to_owned(), session["nonce"].as_str().unwrap().to_owned());
    let id_token = stack.id_token(eva, &nonce).await;
    let path = "/v2/validate/nl.kring.idp/submitToken";
    is.refused(
        "POST",
        path,
        Some(&token),
        Some(json!({"sid": sid, "client_secret": secret, "id_token": tamper(&id_token)})),
    )
    .await;
    is.ok("POST", path, Some(&token), Some(json!({"sid": sid, "client_secret": secret, "id_token": id_token}))).await;
    is.refused("POST", path, Some(&token), Some(json!({"sid": sid, "client_secret": secret, "id_token": id_token})))
        .await;
    let validated =
        is.ok("GET", &format!("/v2/3pid/getValidated3pid?sid={sid}&client_secret={secret}"), Some(&token), None).await;
    for t in validated["nl.kring.threepids"].as_array().unwrap() {
        secrets.push(("an IdP-vouched 3PID", t["address"].as_str().unwrap().to_owned()));
    }
    is.ok("POST", "/v2/3pid/bind", Some(&token), Some(json!({"sid": sid, "client_secret": secret, "mxid": eva_mxid})))
        .await;
    let signature = id_token.rsplit('.').next().unwrap().to_owned();
    secrets.extend([
        ("ID token", id_token),
        ("ID token signature", signature),
        ("nonce", nonce),
        ("IdP client secret", secret),
    ]);

    // Lookups: the pepper and the hashes.
    let pepper =
        is.ok("GET", "/v2/hash_details", Some(&token), None).await["lookup_pepper"].as_str().unwrap().to_owned();
    let uzi_hash = lookup_hash("uzi_nr", eva["uzi"].as_str().unwrap(), &pepper);
    let found = is
        .ok(
            "POST",
            "/v2/lookup",
            Some(&token),
            Some(json!({"algorithm": "sha256", "pepper": pepper, "addresses": [uzi_hash]})),
        )
        .await;
    assert_eq!(found["mappings"][&uzi_hash], eva_mxid, "the flow really ran");
    secrets.extend([("pepper", pepper), ("lookup hash", uzi_hash)]);

    // E-mail: the address, the code (wrong and right), the link.
    let address = format!("eva.log.{tag}@zorg-a.example");
    let mail_secret = format!("mail-secret-{tag}");
    let sid = is
        .ok(
            "POST",
            "/v2/validate/email/requestToken",
            Some(&token),
            Some(json!({"client_secret": mail_secret, "email": address, "send_attempt": 1})),
        )
        .await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = stack.wait_for_mails(&address, 1).await.remove(0).code();
    let wrong_code = format!("fout{tag}");
    let submit = |c: &str| json!({"sid": sid, "client_secret": mail_secret, "token": c});
    is.refused("POST", "/v2/validate/email/submitToken", None, Some(submit(&wrong_code))).await;
    is.ok("POST", "/v2/validate/email/submitToken", None, Some(submit(&code))).await;
    is.ok(
        "POST",
        "/v2/3pid/bind",
        Some(&token),
        Some(json!({"sid": sid, "client_secret": mail_secret, "mxid": eva_mxid})),
    )
    .await;
    secrets.extend([
        ("e-mail address", address),
        ("mail code", code),
        ("wrong mail code", wrong_code),
        ("mail client secret", mail_secret),
    ]);

    // An invite: the invitee's address, the room, the invite token and its keys.
    let invitee = format!("jan.log.{tag}@familie.example");
    let room_id = format!("!logkamer{tag}:localhost");
    let stored = is
        .ok(
            "POST",
            "/v2/store-invite",
            Some(&token),
            Some(json!({"medium": "email", "address": invitee, "room_id": room_id,
             "sender": eva_mxid, "room_name": format!("Zorgteam {tag}")})),
        )
        .await;
    let invite_token = stored["token"].as_str().unwrap().to_owned();
    let private_key = invite_private_key(&url, &invite_token).await;
    is.ok(
        "POST",
        "/v2/sign-ed25519",
        Some(&token),
        Some(json!({"mxid": eva_mxid, "token": invite_token, "private_key": private_key})),
    )
    .await;
    secrets.extend([
        ("invitee address", invitee),
        ("room id", room_id),
        ("room name", format!("Zorgteam {tag}")),
        ("invite token", invite_token),
        ("ephemeral private key", private_key),
    ]);
    is.ok("GET", &format!("/v2/nl.kring/bindings/{}", urlencode(eva_mxid)), Some(&token), None).await;

    child.kill().unwrap();
    child.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    for expected in [
        "identity service listening",
        "identity-service account registered",
        "validated by the organisation IdP",
        "3PIDs bound",
        "validation mail sent",
        "third-party invite stored",
    ] {
        assert!(log.contains(expected), "the log was captured: {expected:?} missing from\n{log}");
    }
    // Each line without its leading timestamp, where digits of a 3PID could meet by chance.
    let lines: Vec<&str> = log
        .lines()
        .map(|l| if l.starts_with("20") { l.split_once(' ').map_or(l, |(_, rest)| rest) } else { l })
        .collect();
    let body = lines.join("\n");
    for (what, value) in &secrets {
        assert!(!value.is_empty());
        assert!(!body.contains(value.as_str()), "the log shows the {what} ({value}):\n{log}");
    }
}

/// The median of some durations.
fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Binds through the real HTTP path (e-mail validation by mail, then
/// `/3pid/bind`), adds the rest of 1,000 bindings to the same database
/// directly, then times one `/lookup` of 1,000 hashes against sqlite itself
/// on that database. Run with
/// `cargo test --workspace --locked --test service -- --ignored --nocapture benchmark`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run it with --ignored --nocapture"]
async fn benchmark_lookup_and_bind() {
    use sqlx::Row;
    const N: usize = 1_000;
    const HTTP_BINDS: usize = 200;
    const RUNS: usize = 5;
    let stack = Stack::load();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("is.db").display());
    let mut config = stack.mail_config(&url);
    config.rate_limits = RateLimits { request_tokens_per_hour: 10_000, lookups_per_minute: 10_000 };
    let running = kring_identity_service::start(config).await.expect("the service starts");
    let is = Is::new(&running);
    let eva = stack.user("a-lead");
    let eva_mxid = eva["mxid"].as_str().unwrap();
    let token = is.account(&stack, eva).await;
    let tag = run_tag();
    let addresses: Vec<String> = (0..HTTP_BINDS).map(|i| format!("bench.{tag}.{i}@zorg-a.example")).collect();

    // 1. requestToken for each address: a mail through the SMTP sink each.
    let t = std::time::Instant::now();
    let mut sids = Vec::new();
    for (i, address) in addresses.iter().enumerate() {
        let body = json!({"client_secret": format!("bench-{i}"), "email": address, "send_attempt": 1});
        sids.push(
            is.ok("POST", "/v2/validate/email/requestToken", Some(&token), Some(body)).await["sid"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let request_time = t.elapsed();
    // The codes, from the mails (one directory listing).
    let mut files: std::collections::HashMap<String, PathBuf> = std::collections::HashMap::new();
    for entry in std::fs::read_dir(stack.mail_dir()).unwrap().filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(rcpt) = name.split_once('-').and_then(|(_, r)| r.strip_suffix(".eml")) {
            files.insert(rcpt.to_owned(), entry.path());
        }
    }
    let codes: Vec<String> =
        addresses.iter().map(|a| Mail::parse(&std::fs::read_to_string(&files[a]).unwrap()).code()).collect();

    // 2. submitToken for each.
    let t = std::time::Instant::now();
    for (i, (sid, code)) in sids.iter().zip(&codes).enumerate() {
        let body = json!({"sid": sid, "client_secret": format!("bench-{i}"), "token": code});
        is.ok("POST", "/v2/validate/email/submitToken", None, Some(body)).await;
    }
    let submit_time = t.elapsed();

    // 3. /3pid/bind for each: the figure asked for.
    let t = std::time::Instant::now();
    for (i, sid) in sids.iter().enumerate() {
        let body = json!({"sid": sid, "client_secret": format!("bench-{i}"), "mxid": eva_mxid});
        is.ok("POST", "/v2/3pid/bind", Some(&token), Some(body)).await;
    }
    let bind_time = t.elapsed();

    // 4. The other 800 straight into the same tables (uzi_nr of as many MXIDs), as binds would.
    let pepper =
        is.ok("GET", "/v2/hash_details", Some(&token), None).await["lookup_pepper"].as_str().unwrap().to_owned();
    let direct: Vec<(String, String)> =
        (HTTP_BINDS..N).map(|i| (format!("8{i:08}"), format!("@bench-{tag}-{i}:localhost"))).collect();
    let db = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let t = std::time::Instant::now();
    let mut tx = db.begin().await.unwrap();
    for (uzi, mxid) in &direct {
        sqlx::query(
            "INSERT INTO bindings (medium, address, mxid, lookup_hash, bound_ms) VALUES ('uzi_nr', ?, ?, ?, 0)",
        )
        .bind(uzi)
        .bind(mxid)
        .bind(lookup_hash("uzi_nr", uzi, &pepper))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let insert_time = t.elapsed();

    let mut expected: std::collections::HashMap<String, String> =
        addresses.iter().map(|a| (lookup_hash("email", a, &pepper), eva_mxid.to_owned())).collect();
    expected.extend(direct.iter().map(|(uzi, mxid)| (lookup_hash("uzi_nr", uzi, &pepper), mxid.clone())));
    assert_eq!(expected.len(), N);
    let hashes: Vec<&str> = expected.keys().map(String::as_str).collect();

    // 5. One /lookup with all 1,000 hashes (and the first once more, at the end), five times.
    let asked = [&hashes[..], &hashes[..1]].concat();
    let body = json!({"algorithm": "sha256", "pepper": pepper, "addresses": asked});
    let mut lookups = Vec::new();
    for _ in 0..RUNS {
        let t = std::time::Instant::now();
        let found = is.ok("POST", "/v2/lookup", Some(&token), Some(body.clone())).await;
        lookups.push(t.elapsed());
        let mappings = found["mappings"].as_object().unwrap();
        assert_eq!(mappings.len(), N, "every bound hash is found");
        for (hash, mxid) in &expected {
            assert_eq!(mappings[hash], mxid.as_str());
        }
    }

    // 6. The baseline, on the same database: sqlite through sqlx, the index the store uses.
    let plan: Vec<String> = sqlx::query(
        "EXPLAIN QUERY PLAN SELECT mxid FROM bindings WHERE lookup_hash = ? AND medium IN ('uzi_nr', 'email')",
    )
    .bind("x")
    .fetch_all(&db)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(3))
    .collect();
    assert!(plan.iter().any(|p| p.contains("bindings_lookup")), "the lookup uses the index: {plan:?}");
    let mut singles = Vec::new();
    for _ in 0..RUNS {
        let t = std::time::Instant::now();
        let mut n = 0;
        for hash in &hashes {
            let rows = sqlx::query("SELECT mxid FROM bindings WHERE lookup_hash = ? AND medium IN ('uzi_nr', 'email')")
                .bind(*hash)
                .fetch_all(&db)
                .await
                .unwrap();
            n += rows.len();
        }
        singles.push(t.elapsed());
        assert_eq!(n, N);
    }
    let in_query = format!(
        "SELECT lookup_hash, mxid FROM bindings WHERE medium IN ('uzi_nr', 'email') AND lookup_hash IN ({})",
        vec!["?"; N].join(", ")
    );
    let mut batched = Vec::new();
    for _ in 0..RUNS {
        let t = std::time::Instant::now();
        // Only placeholders are spliced in: the hashes are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(in_query.as_str()));
        for hash in &hashes {
            q = q.bind(*hash);
        }
        let rows = q.fetch_all(&db).await.unwrap();
        batched.push(t.elapsed());
        assert_eq!(rows.len(), N);
    }
    db.close().await;
    running.task.abort();

    let (lookup, single, batch) = (median(lookups), median(singles), median(batched));
    let per_s = |n: usize, d: Duration| f64::from(u32::try_from(n).unwrap()) / d.as_secs_f64();
    println!(
        "\nidentity service benchmark (sqlite, test profile, {} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("  {:<58} {:>10} {:>12}", "step", "total", "rate");
    println!(
        "  {:<58} {:>8.0} ms {:>8.0} /s",
        format!("HTTP requestToken x{HTTP_BINDS} (mail through the SMTP sink)"),
        ms(request_time),
        per_s(HTTP_BINDS, request_time)
    );
    println!(
        "  {:<58} {:>8.0} ms {:>8.0} /s",
        format!("HTTP submitToken x{HTTP_BINDS}"),
        ms(submit_time),
        per_s(HTTP_BINDS, submit_time)
    );
    println!(
        "  {:<58} {:>8.0} ms {:>8.0} binds/s",
        format!("HTTP /3pid/bind x{HTTP_BINDS} (sequential, one client)"),
        ms(bind_time),
        per_s(HTTP_BINDS, bind_time)
    );
    println!(
        "  {:<58} {:>8.1} ms {:>8.0} /s",
        format!("direct INSERT of {} bindings (one transaction)", N - HTTP_BINDS),
        ms(insert_time),
        per_s(N - HTTP_BINDS, insert_time)
    );
    println!("  lookup of {N} hashes, median of {RUNS} runs:");
    println!("  {:<58} {:>8.1} ms", "HTTP /lookup (one request, all found)", ms(lookup));
    println!(
        "  {:<58} {:>8.1} ms   /lookup is {:.1}x",
        format!("sqlite: {N} single indexed SELECTs, one connection"),
        ms(single),
        lookup.as_secs_f64() / single.as_secs_f64()
    );
    println!(
        "  {:<58} {:>8.1} ms   /lookup is {:.1}x",
        format!("sqlite: one indexed SELECT ... IN ({N} hashes)"),
        ms(batch),
        lookup.as_secs_f64() / batch.as_secs_f64()
    );
}
