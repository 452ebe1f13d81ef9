"""The scripted browser (tests/support/idp_browser.py) against the real IdP and Synapse SSO,
with a loopback listener of the test's own in the place of Kring's: the same two sign-ins the
first login makes (OIDC authorization code + PKCE with client kring-desktop, then the
homeserver's SSO with its own OIDC client), so the CLI and app tests can rely on it.

Run:  ~/.cache/kring/venv-tools/bin/python -m pytest tests/stack/test_idp_browser.py
"""
import base64
import hashlib
import json
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from test_stack import jwt_claims, stack, user  # noqa: F401  (stack is a fixture)

BROWSER = Path(__file__).resolve().parents[1] / "support" / "idp_browser.py"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Loopback:
    """A one-path loopback listener like the app's: records the query of each arrival."""

    def __init__(self, path):
        arrivals = self.arrivals = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                u = urlsplit(self.path)
                if u.path != path:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                arrivals.put(dict(parse_qsl(u.query)))
                body = b"<!doctype html><p>Ga terug naar de app.</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, timeout=30):
        try:
            return self.arrivals.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Browser:
    """The person at the browser, with one cookie jar and one log across windows."""

    def __init__(self, tmp_path, username=None, password=None, action=None, gate=None):
        self.log_path, self.state = tmp_path / "browser.log", tmp_path / "browser-state.json"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KRING_TEST_")}
        self.env.update(KRING_TEST_BROWSER_LOG=str(self.log_path), KRING_TEST_BROWSER_STATE=str(self.state))
        for key, value in (("KRING_TEST_IDP_USER", username), ("KRING_TEST_IDP_PASSWORD", password),
                           ("KRING_TEST_BROWSER_ACTION", action), ("KRING_TEST_BROWSER_GATE", gate)):
            if value is not None:
                self.env[key] = str(value)
        self.procs = []

    def open(self, url):
        """As Kring does: start it with the URL appended, do not wait for it."""
        p = subprocess.Popen([sys.executable, str(BROWSER), url], env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def events(self):
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def finish(self, p, timeout=30):
        out, err = p.communicate(timeout=timeout)
        return p.returncode, err


def desktop_auth_url(stack, redirect_uri):
    issuer = stack["idp"]["issuer"]
    meta = requests.get(issuer + "/.well-known/openid-configuration").json()
    verifier, state, nonce = b64url(secrets.token_bytes(32)), secrets.token_urlsafe(8), secrets.token_urlsafe(8)
    url = meta["authorization_endpoint"] + "?" + urlencode({
        "client_id": stack["idp"]["desktop_client_id"], "response_type": "code", "redirect_uri": redirect_uri,
        "scope": "openid profile uzi", "state": state, "nonce": nonce,
        "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()), "code_challenge_method": "S256"})
    return url, {"meta": meta, "verifier": verifier, "state": state, "nonce": nonce}


def redeem(stack, flow, code, redirect_uri):
    r = requests.post(flow["meta"]["token_endpoint"], data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "client_id": stack["idp"]["desktop_client_id"], "code_verifier": flow["verifier"]})
    assert r.status_code == 200, r.text
    return jwt_claims(r.json()["id_token"])


def sso_url(stack, hs_key, redirect_url):
    hs = stack["homeservers"][hs_key]
    # The organisation's provider by id, as the wizard does (the care platform is the other one).
    return f"{hs['base_url']}/_matrix/client/v3/login/sso/redirect/oidc-kring?" + urlencode({"redirectUrl": redirect_url})


@pytest.fixture
def loopbacks():
    made = []

    def make(path):
        lb = Loopback(path)
        made.append(lb)
        return lb
    yield make
    for lb in made:
        lb.close()


def test_one_password_for_the_organisation_login_and_the_homeserver_sso(stack, tmp_path, loopbacks):
    u = user(stack, "a-internist")
    browser = Browser(tmp_path, u["localpart"], u["password"])

    # 1. Organisation login: the IdP asks for the password once.
    app = loopbacks("/callback")
    url, flow = desktop_auth_url(stack, app.url)
    p = browser.open(url)
    got = app.wait()
    assert got is not None, f"the browser never came back: {browser.finish(p)}"
    assert browser.finish(p)[0] == 0
    assert got["state"] == flow["state"] and "code" in got
    claims = redeem(stack, flow, got["code"], app.url)
    assert (claims["uzi"], claims["nonce"]) == (u["uzi"], flow["nonce"])

    # 2. The homeserver's SSO (Synapse's own OIDC client): the IdP session is reused.
    app2 = loopbacks("/sso")
    p = browser.open(sso_url(stack, "a", app2.url))
    got = app2.wait()
    rc, err = browser.finish(p)
    assert got is not None and rc == 0, err
    login = requests.post(stack["homeservers"]["a"]["base_url"] + "/_matrix/client/v3/login",
                          json={"type": "m.login.token", "token": got["loginToken"]})
    assert login.status_code == 200, login.text
    assert login.json()["user_id"] == u["mxid"]
    requests.post(stack["homeservers"]["a"]["base_url"] + "/_matrix/client/v3/logout", json={},
                  headers={"Authorization": f"Bearer {login.json()['access_token']}"})

    events = browser.events()
    assert [e["event"] for e in events] == ["opened", "login_form_posted", "returned_to_app",
                                           "opened", "returned_to_app"], events
    assert events[0]["host"] == urlsplit(stack["idp"]["issuer"]).netloc
    assert events[3]["host"] == urlsplit(stack["homeservers"]["a"]["base_url"]).netloc
    assert events[1]["user"] == u["localpart"]
    assert {"code", "state"} <= set(events[2]["query_keys"]) and events[4]["query_keys"] == ["loginToken"]
    log_text = browser.log_path.read_text()
    assert got["loginToken"] not in log_text and u["password"] not in log_text


def test_a_new_browser_must_log_in_again(stack, tmp_path, loopbacks):
    u = user(stack, "a-internist")
    for run in ("first", "second"):
        browser = Browser(tmp_path / run, u["localpart"], u["password"])
        (tmp_path / run).mkdir()
        app = loopbacks("/callback")
        p = browser.open(desktop_auth_url(stack, app.url)[0])
        assert app.wait() is not None, browser.finish(p)
        browser.finish(p)
        assert [e["event"] for e in browser.events()].count("login_form_posted") == 1


def test_cancel_brings_access_denied_back_to_the_app(stack, tmp_path, loopbacks):
    u = user(stack, "a-lead")
    browser = Browser(tmp_path, u["localpart"], u["password"], action="cancel")
    app = loopbacks("/callback")
    url, flow = desktop_auth_url(stack, app.url)
    p = browser.open(url)
    got = app.wait()
    rc, err = browser.finish(p)
    assert got is not None and rc == 0, err
    assert got["error"] == "access_denied" and got["error_description"] == "Inloggen geannuleerd"
    assert got["state"] == flow["state"] and "code" not in got
    assert [e["event"] for e in browser.events()] == ["opened", "cancelled", "returned_to_app"]


def test_closing_the_window_leaves_the_app_waiting(stack, tmp_path, loopbacks):
    browser = Browser(tmp_path, action="close")
    app = loopbacks("/callback")
    p = browser.open(desktop_auth_url(stack, app.url)[0])
    rc, err = browser.finish(p)
    assert rc == 0, err
    assert [e["event"] for e in browser.events()] == ["opened", "closed"]
    assert app.wait(timeout=1) is None


def test_a_wrong_password_fails_loudly_without_showing_it(stack, tmp_path, loopbacks):
    u = user(stack, "a-lead")
    browser = Browser(tmp_path, u["localpart"], "fout-wachtwoord-123")
    app = loopbacks("/callback")
    p = browser.open(desktop_auth_url(stack, app.url)[0])
    rc, err = browser.finish(p)
    assert rc != 0 and "refused" in err, err
    assert "fout-wachtwoord-123" not in err and "fout-wachtwoord-123" not in browser.log_path.read_text()
    assert app.wait(timeout=0.5) is None


def test_the_gate_holds_the_browser_until_it_opens(stack, tmp_path, loopbacks):
    u = user(stack, "a-lead")
    gate = tmp_path / "gate"
    browser = Browser(tmp_path, u["localpart"], u["password"], gate=gate)
    app = loopbacks("/callback")
    p = browser.open(desktop_auth_url(stack, app.url)[0])
    deadline = time.monotonic() + 10
    while not browser.events() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert [e["event"] for e in browser.events()] == ["opened"] and p.poll() is None
    assert app.wait(timeout=0.1) is None
    gate.touch()
    assert app.wait() is not None, browser.finish(p)
    assert browser.finish(p)[0] == 0


def test_an_sso_refusal_is_an_unexpected_page(stack, tmp_path, loopbacks):
    # Homeserver A admits only its own organisation's staff (attribute_requirements on the URA).
    u = user(stack, "b-gp")
    browser = Browser(tmp_path, u["localpart"], u["password"])
    app = loopbacks("/sso")
    p = browser.open(sso_url(stack, "a", app.url))
    rc, err = browser.finish(p)
    assert rc != 0 and "unexpected page" in err and "HTTP 400" in err, err
    assert app.wait(timeout=0.5) is None
