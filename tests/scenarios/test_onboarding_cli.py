"""First login (issue #4) through the CLI, against the real stack: the organisation's IdP
(OIDC code + PKCE in the "system browser", a scripted person: tests/support/idp_browser.py),
the URA resolvers (LRZa, Nuts discovery stand-in, static), the organisation's mCSD directory,
and SSO on the homeserver.

  kring-cli --json --data-dir D --profile P onboard --config <onboarding.json> [--browser CMD]

stdout: one {"progress": {"step", "state", "detail"}} line per step change, then on success
{"onboarded": {...}}; on failure {"error": {"code", "message"}} on stderr and exit status 2.
Each test has its own data dir, keychain profile (run inside `keyctl session -`) and browser
(cookie jar, log). Everything is checked on the servers too, with plain HTTP.
"""
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from conftest import REPO, user
from test_cli import cli  # noqa: F401  (fixture)

BROWSER_SCRIPT = REPO / "tests" / "support" / "idp_browser.py"
STEPS = ["organisation_login", "find_organisation", "find_practitioner", "connect_homeserver", "bind_identity", "ready"]
URA = "http://fhir.nl/fhir/NamingSystem/ura"
BINDING = "nl.kring.practitioner"


def person(stack, key):
    """A demo user or an IdP-only account from stack.json, by key."""
    for u in stack["users"] + stack.get("idp_only_users", []):
        if u["key"] == key:
            return u
    raise AssertionError(f"stack.json has no user {key!r}: restart the stack with the current seed")


def org(stack, key):
    return next(o for o in stack["organisations"] if o["key"] == key)


def closed_port():
    """A loopback port nothing listens on (bound once by us, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def profile_status(stack, hs_key, mxid):
    return requests.get(f"{stack['homeservers'][hs_key]['base_url']}/_matrix/client/v3/profile/{mxid}", timeout=10)


# ---------------------------------------------------------------- the CLI and the browser

class Outcome:
    def __init__(self, proc, browser_log):
        self.returncode, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
        self.progress, self.onboarded, self.error, self.junk = [], None, None, []
        for line in proc.stdout.splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                self.junk.append(line)
                continue
            if "progress" in doc:
                self.progress.append(doc["progress"])
            elif "onboarded" in doc:
                self.onboarded = doc["onboarded"]
            else:
                self.junk.append(line)
        for line in reversed(proc.stderr.splitlines()):  # the browser shares stderr: find the CLI's line
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and "error" in doc:
                self.error = doc["error"]
                break
        self.browser = [json.loads(line) for line in browser_log.read_text().splitlines()] if browser_log.exists() else []

    def events(self, name):
        return [e for e in self.browser if e["event"] == name]

    def describe(self):
        return (f"kring-cli onboard exited {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
                f"\n--- browser log\n" + "\n".join(json.dumps(e) for e in self.browser))

    def last(self):
        assert self.progress, f"no progress events\n{self.describe()}"
        return self.progress[-1]

    def done_steps(self):
        steps = []
        for p in self.progress:
            if p["state"] == "done" and p["step"] not in steps:
                steps.append(p["step"])
        return steps


class Kring:
    """kring-cli with its own data dir and keychain profile, and a person at a browser of their own."""

    def __init__(self, cli_bin, tmp_path, name):
        self.bin, self.dir = cli_bin, tmp_path / name
        self.dir.mkdir(parents=True)
        self.data_dir = self.dir / "data"
        self.profile = f"onboard-{name}-{uuid.uuid4().hex[:8]}"
        self.browser_log, self.browser_state = self.dir / "browser.log", self.dir / "browser-state.json"
        self.browser_cmd = f"{sys.executable} {BROWSER_SCRIPT}"

    def env(self, who=None, action=None, browser_env=True):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("KRING_TEST_") and k not in ("KRING_BROWSER", "KRING_DATA_DIR", "KRING_PROFILE",
                                                               "KRING_ONBOARDING_CONFIG")}
        env.update(KRING_TEST_BROWSER_LOG=str(self.browser_log), KRING_TEST_BROWSER_STATE=str(self.browser_state))
        if who:
            env.update(KRING_TEST_IDP_USER=who["localpart"], KRING_TEST_IDP_PASSWORD=who["password"])
        if action:
            env["KRING_TEST_BROWSER_ACTION"] = action
        if browser_env:
            env["KRING_BROWSER"] = self.browser_cmd
        return env

    def run(self, *args, env=None, timeout=90):
        return subprocess.run([str(self.bin), "--json", "--data-dir", str(self.data_dir), "--profile", self.profile,
                               *args], env=env or self.env(), capture_output=True, text=True, timeout=timeout)

    def onboard(self, config, who=None, action=None, browser_flag=False, timeout=180):
        """Runs `onboard`; the browser comes from KRING_BROWSER, or from --browser when browser_flag."""
        args = ["onboard", "--config", str(config)]
        if browser_flag:
            args += ["--browser", self.browser_cmd]
        p = self.run(*args, env=self.env(who, action, browser_env=not browser_flag), timeout=timeout)
        return Outcome(p, self.browser_log)

    def json(self, *args):
        p = self.run(*args)
        assert p.returncode == 0, f"kring-cli {args[0]} failed ({p.returncode}): {p.stderr}"
        return json.loads(p.stdout.strip().splitlines()[-1])

    def error(self, *args):
        p = self.run(*args)
        assert p.returncode == 2, f"kring-cli {args[0]}: expected exit 2, got {p.returncode}: {p.stdout} {p.stderr}"
        return json.loads(p.stderr.strip().splitlines()[-1])["error"]


@pytest.fixture
def kring(cli_bin, tmp_path):
    made = []

    def make(name):
        k = Kring(cli_bin, tmp_path, name)
        made.append(k)
        return k
    yield make
    for k in made:  # leave no sessions behind in the keychain
        k.run("logout")


@pytest.fixture
def config(stack, tmp_path):
    """The stack's onboarding.json, or a changed copy of it."""
    path = Path(stack["onboarding_config"])
    assert path.exists(), f"{path} missing: restart the stack with the current stackctl"

    def make(change=None):
        if change is None:
            return path
        cfg = json.loads(path.read_text())
        change(cfg)
        copy = tmp_path / f"onboarding-{uuid.uuid4().hex[:6]}.json"
        copy.write_text(json.dumps(cfg, indent=2))
        return copy
    return make


def assert_progress_well_formed(o):
    for p in o.progress:
        assert p["step"] in STEPS and p["state"] in ("running", "done", "failed"), o.describe()
        assert p["detail"] is None or isinstance(p["detail"], str), o.describe()
    assert not o.junk, f"stdout lines that are not JSON events: {o.junk}\n{o.describe()}"


def assert_onboarded(o):
    assert o.returncode == 0 and o.onboarded, o.describe()
    assert_progress_well_formed(o)
    assert o.done_steps() == STEPS, f"every step done, in order: {o.done_steps()}\n{o.describe()}"


def assert_failed(o, code, step):
    assert o.returncode == 2, o.describe()
    assert o.error and o.error["code"] == code, f"expected {code}\n{o.describe()}"
    assert o.error.get("message"), o.describe()
    assert o.onboarded is None, o.describe()
    assert_progress_well_formed(o)
    assert o.last()["state"] == "failed" and o.last()["step"] == step, \
        f"expected the last event to be {step} failed, got {o.last()}\n{o.describe()}"
    # Every step before the failed one finished; none after it started.
    assert o.done_steps() == STEPS[:STEPS.index(step)], o.describe()


def directory_entry(stack, directory_key, uzi):
    """The Practitioner and its PractitionerRole as the directory has them (the test's own lookup)."""
    base = stack["directories"][directory_key]
    practitioner = requests.get(f"{base}/Practitioner", params={"identifier": uzi}, timeout=10).json()["entry"][0]["resource"]
    role = requests.get(f"{base}/PractitionerRole", params={"practitioner": f"Practitioner/{practitioner['id']}"},
                        timeout=10).json()["entry"][0]["resource"]
    return base, practitioner, role


def assert_binding(stack, reader, mxid, who, org_key, directory_key):
    """The identity binding on the profile, read by a user of any homeserver (over federation)."""
    base, practitioner, role = directory_entry(stack, directory_key, who["uzi"])
    got = reader.get(f"/profile/{mxid}/{BINDING}")
    want = {"uzi": who["uzi"], "ura": org(stack, org_key)["ura"], "role_codes": [who["role_code"]],
            "practitioner": f"{base}/Practitioner/{practitioner['id']}",
            "practitioner_role": f"{base}/PractitionerRole/{role['id']}",
            "organization": org(stack, org_key)["name"]}
    binding = got.get(BINDING)
    assert isinstance(binding, dict) and {k: binding.get(k) for k in want} == want, \
        f"{BINDING} of {mxid} as {reader.user_id} reads it: {got}"


# ---------------------------------------------------------------- success

def test_own_vendor_practitioner_gets_an_account_on_first_login(stack, kring, config, matrix_as, cli):
    """Noor (Ziekenhuis Aurora, Kring's own vendor, no Matrix account, no MXID in the directory):
    the homeserver provisions her account on the SSO login, with one password for both flows."""
    noor = person(stack, "a-new")
    hs = stack["homeservers"]["a"]
    mxid = f"@{noor['localpart']}:{hs['server_name']}"
    existed = profile_status(stack, "a", mxid).status_code == 200  # only on a re-run on the same stack

    k = kring("noor")
    o = k.onboard(config(), who=noor)
    assert_onboarded(o)
    done = o.onboarded
    assert done["account"] == ("existing" if existed else "provisioned"), o.describe()
    session = done["session"]
    assert session["userId"] == mxid and session["deviceId"], o.describe()
    assert session["homeserver"].rstrip("/") == hs["base_url"]
    assert session["displayName"] == noor["display_name"]
    assert done["organisation"] == org(stack, "a")["name"]
    assert done["directory"].rstrip("/") == stack["directories"]["a"]
    base, practitioner, _ = directory_entry(stack, "a", noor["uzi"])
    assert done["practitioner"] in (noor["display_name"], f"{base}/Practitioner/{practitioner['id']}"), o.describe()

    # The homeserver has the account now (checked without Kring).
    profile = profile_status(stack, "a", mxid)
    assert profile.status_code == 200 and profile.json().get("displayname") == noor["display_name"], profile.text

    # One password for all three windows: Synapse's SSO and the identity service's bind (the
    # fifth step, which asks the IdP once more with the service's nonce) found the IdP session.
    idp_host = urlsplit(stack["idp"]["issuer"]).netloc
    assert len(o.events("login_form_posted")) == 1, o.describe()
    assert [e["host"] for e in o.events("opened")] == [idp_host, urlsplit(hs["base_url"]).netloc, idp_host], \
        o.describe()
    assert len(o.events("returned_to_app")) == 3, o.describe()
    # The fifth step bound the UZI at A's identity service: a colleague reads it, signed by it.
    assert [p["detail"] for p in o.progress if p["step"] == "bind_identity" and p["state"] == "done"] == \
        [f"UZI {noor['uzi']}"], o.describe()

    # The identity binding is on her profile, readable from the other organisation's homeserver.
    assert_binding(stack, matrix_as(user(stack, "b", 0)), mxid, noor, "a", "a")
    assert_binding(stack, matrix_as(user(stack, "a", 0)), mxid, noor, "a", "a")

    # The session is kept: whoami restores it without a browser.
    log_before = k.browser_log.read_text()
    assert k.json("whoami")["userId"] == mxid
    assert k.browser_log.read_text() == log_before, "a restored session must not open the browser"

    # Kring at the other organisation resolves what A's identity service vouches for (found at
    # https://<A's server name>/.well-known/matrix/client), not what her profile says ...
    karim = cli("noor-seen-from-b")
    karim.login(stack, user(stack, "b", 0))
    seen = karim.json("identity", "--user", mxid)
    assert (seen["verifiedBy"] or "").rstrip("/") == stack["identity_services"]["a"]["base_url"], seen
    assert (seen["identity"]["uzi"], seen["identity"]["ura"]) == (noor["uzi"], org(stack, "a")["ura"]), seen
    assert noor["role_code"] in seen["identity"]["roleCodes"], seen
    # ... and finds her by UZI: her directory entry names no MXID, A's identity service has her
    # UZI bound to the account the first login made (invite by UZI, 003 §5).
    p = karim.run("directory", "search", "--config", stack["onboarding_config"],
                  "--name", noor["display_name"].split()[-1], check=False)
    assert p.returncode == 0, p.stderr
    hits = [h for h in json.loads(p.stdout.strip().splitlines()[-1]) if h["userId"] == mxid]
    assert len(hits) == 1 and hits[0]["foundByUzi"] is True, p.stdout


def test_other_vendor_practitioner_signs_in_to_their_own_homeserver(stack, kring, config, matrix_as):
    """Karim (Huisartsenpraktijk Bosrand, another vendor's homeserver, MXID in directory B)."""
    karim = user(stack, "b", 0)
    hs = stack["homeservers"]["b"]
    k = kring("karim")
    o = k.onboard(config(), who=karim, browser_flag=True)
    assert_onboarded(o)
    done = o.onboarded
    assert done["account"] == "other_vendor", o.describe()
    assert done["session"]["userId"] == karim["mxid"] and done["session"]["homeserver"].rstrip("/") == hs["base_url"]
    assert done["organisation"] == org(stack, "b")["name"]
    assert done["directory"].rstrip("/") == stack["directories"]["b"]
    assert len(o.events("login_form_posted")) == 1, o.describe()
    assert_binding(stack, matrix_as(user(stack, "a", 0)), karim["mxid"], karim, "b", "b")

    # A second onboard with the same data dir and profile restores the session: no browser at all.
    again = k.onboard(config(), who=karim, browser_flag=True)
    assert again.returncode == 0 and again.onboarded, again.describe()
    assert again.onboarded["session"]["userId"] == karim["mxid"]
    assert again.onboarded["session"]["deviceId"] == done["session"]["deviceId"], again.describe()
    assert again.browser == o.browser, "a restored session must not open the browser"
    who = k.json("whoami")
    assert (who["userId"], who["deviceId"]) == (karim["mxid"], done["session"]["deviceId"])

    # Logging out removes the kept session.
    p = k.run("logout")
    assert p.returncode == 0, p.stderr
    assert k.error("whoami")["code"] == "not_logged_in"


# ---------------------------------------------------------------- failures

def lrza_only(base_url):
    def change(cfg):
        cfg["resolvers"] = [{"kind": "lrza", "base_url": base_url}]
    return change


def login_timeout(seconds):
    def change(cfg):
        cfg["login_timeout_seconds"] = seconds
    return change


def issuer_on_closed_port(cfg):
    cfg["idp"]["issuer"] = f"http://127.0.0.1:{closed_port()}"


# id, who (user or IdP-only key), browser action, config change, error code, step that failed
FAILURES = [
    ("no-account-at-other-vendor", "b-new", None, None, "matrix_account_missing", "connect_homeserver"),
    ("pharmacy-without-matrix", "c-pharmacist", None, None, "no_matrix_address", "connect_homeserver"),
    ("unknown-ura", "x-unknown-ura", None, None, "ura_unknown", "find_organisation"),
    ("token-without-ura", "x-no-ura", None, None, "token_without_ura", "organisation_login"),
    ("not-in-directory", "x-not-in-directory", None, None, "practitioner_not_in_directory", "find_practitioner"),
    ("cancelled-at-idp", "a-lead", "cancel", None, "login_cancelled", "organisation_login"),
    ("window-closed", "a-lead", "close", login_timeout(3), "login_cancelled", "organisation_login"),
    ("idp-unreachable", "a-lead", None, issuer_on_closed_port, "idp_unreachable", "organisation_login"),
    # Karim's organisation B is not the vendor's own: its directory is found through the LRZa only.
    ("directory-unreachable", "b-gp", None, "lrza-closed", "directory_unreachable", "find_organisation"),
]


@pytest.mark.parametrize("name,who,action,change,code,step", FAILURES, ids=[f[0] for f in FAILURES])
def test_onboarding_failures(stack, kring, config, name, who, action, change, code, step):
    if change == "lrza-closed":
        change = lrza_only(f"http://127.0.0.1:{closed_port()}/fhir")
    k = kring(name)
    o = k.onboard(config(change), who=person(stack, who), action=action)
    assert_failed(o, code, step)
    assert k.error("whoami")["code"] == "not_logged_in", "a failed first login keeps no session"
    if code == "matrix_account_missing":
        assert "Huisartsenpraktijk Bosrand" in o.error["message"], o.describe()
        assert profile_status(stack, "b", f"@fleur.smit:{stack['homeservers']['b']['server_name']}").status_code == 404
    if code == "no_matrix_address":
        # Apotheek De Linde is in no LRZa: the Nuts discovery resolver found its directory.
        details = " ".join(p["detail"] or "" for p in o.progress if p["step"] == "find_organisation")
        assert "Apotheek De Linde" in details, o.describe()
    if action == "cancel":
        assert o.events("cancelled") and not o.events("login_form_posted"), o.describe()
    if action == "close":
        assert o.events("closed") and not o.events("returned_to_app"), o.describe()


def test_missing_config_is_onboarding_not_configured(stack, kring, tmp_path):
    k = kring("no-config")
    o = k.onboard(tmp_path / "bestaat-niet.json", who=user(stack, "a", 0))
    assert o.returncode == 2 and o.error and o.error["code"] == "onboarding_not_configured", o.describe()
    assert not o.events("opened"), "no browser without a configuration"


# ---------------------------------------------------------------- deliberate fakes
# The stack's directories are all well-formed and reachable. These two failures need a
# directory that is not: a tiny HTTP server inside the test, on purpose (it stands in for a
# broken or misconfigured directory, not for the real FHIR engine).

class FakeServer:
    def __init__(self, respond):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                status, content_type, body = respond(self.path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/fhir"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_server():
    made = []

    def make(respond):
        f = FakeServer(respond)
        made.append(f)
        return f
    yield make
    for f in made:
        f.close()


MALFORMED = {
    "bad-organization": ("application/fhir+json", json.dumps(
        {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Organization", "identifier": "not-a-list"}}]})),
    "not-json": ("text/html", "<!doctype html><title>Storing</title><p>Even geduld.</p>"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_a_malformed_directory_is_directory_malformed(stack, kring, config, fake_server, kind):
    content_type, body = MALFORMED[kind]
    fake = fake_server(lambda path: (200, content_type, body.encode()))
    k = kring(f"malformed-{kind}")
    o = k.onboard(config(lrza_only(fake.base)), who=user(stack, "b", 0))
    assert_failed(o, "directory_malformed", "find_organisation")


def test_an_unreachable_homeserver_is_homeserver_unreachable(stack, kring, config, fake_server):
    """Noor's real directory entry, served by a fake directory whose Matrix Endpoint is a closed port."""
    noor = person(stack, "a-new")
    base, practitioner, role = directory_entry(stack, "a", noor["uzi"])
    organization = requests.get(f"{base}/{role['organization']['reference']}", timeout=10).json()
    endpoint = requests.get(f"{base}/{role['endpoint'][0]['reference']}", timeout=10).json()
    endpoint["address"] = f"http://127.0.0.1:{closed_port()}"
    resources = {r["resourceType"]: {k: v for k, v in r.items() if k != "meta"}
                 for r in (organization, endpoint, practitioner, role)}

    def respond(path):
        parts = urlsplit(path).path.removeprefix("/fhir/").strip("/").split("/")
        r = resources.get(parts[0])
        if r is None or (len(parts) > 1 and parts[1] != r["id"]):
            return 404, "application/fhir+json", json.dumps({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "not-found"}]}).encode()
        if len(parts) > 1:
            return 200, "application/fhir+json", json.dumps(r).encode()
        return 200, "application/fhir+json", json.dumps({"resourceType": "Bundle", "type": "searchset", "total": 1,
                                                         "entry": [{"resource": r}]}).encode()
    fake = fake_server(respond)

    def change(cfg):
        cfg["resolvers"] = [{"kind": "static", "directories": {org(stack, "a")["ura"]: fake.base}}]
        cfg["vendor_directories"] = [fake.base]  # the vendor's own: Kring signs in at the Endpoint
    k = kring("hs-unreachable")
    o = k.onboard(config(change), who=noor)
    assert_failed(o, "homeserver_unreachable", "connect_homeserver")


def test_an_organisation_account_signs_a_lost_device_out_after_confirming_in_the_browser(stack, kring, config):
    """Issue 13 for accounts that sign in through the organisation (no password at the homeserver):
    Bram's desk signs his phone out. The homeserver asks to confirm it is him (user-interactive
    auth by SSO): Kring opens the homeserver's confirmation page in the browser, the person goes
    through the IdP (its session still open, so no password), and Kring waits until the homeserver
    counts it done. Without the browser there is no way: reauthentication_required."""
    bram = person(stack, "a-new2")
    desk, phone = kring("sso-desk"), kring("sso-phone")
    assert_onboarded(desk.onboard(config(), who=bram))
    assert_onboarded(phone.onboard(config(), who=bram))
    phone_id = phone.json("whoami")["deviceId"]
    assert phone_id in [d["deviceId"] for d in desk.json("devices", "list")]

    assert desk.error("devices", "sign-out", phone_id)["code"] == "reauthentication_required"
    p = desk.run("devices", "sign-out", phone_id, "--browser", env=desk.env(who=bram), timeout=120)
    assert p.returncode == 0, f"{p.stdout}\n{p.stderr}"
    assert json.loads(p.stdout.strip().splitlines()[-1]) == {"signedOut": phone_id}
    events = [json.loads(line)["event"] for line in desk.browser_log.read_text().splitlines()]
    assert "sso_confirm_followed" in events and events[-1] == "reauthenticated", events
    assert phone_id not in [d["deviceId"] for d in desk.json("devices", "list")]
    # The phone's session is gone at the homeserver.
    assert phone.error("devices", "list")["code"] in ("session_lost", "not_logged_in")
