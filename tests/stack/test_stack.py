"""Smoke test of the running Kring test stack: real behaviour over plain HTTP.

Run:  ~/.cache/kring/venv-tools/bin/python -m pytest tests/stack/test_stack.py
It reads stack.json from $KRING_STACK_JSON (default <repo>/target/stack/stack.json).
"""
import base64
import hashlib
import json
import os
import re
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

STACK_JSON = Path(os.environ.get("KRING_STACK_JSON")
                  or Path(__file__).resolve().parents[2] / "target" / "stack" / "stack.json")
URA = "http://fhir.nl/fhir/NamingSystem/ura"
UZI = "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers"
DESKTOP_REDIRECT = "http://127.0.0.1:53682/callback"  # any loopback port: RFC 8252 §7.3


@pytest.fixture(scope="session")
def stack():
    if not STACK_JSON.exists():
        pytest.fail(f"{STACK_JSON} missing: run `tests/stack/stackctl up`")
    return json.loads(STACK_JSON.read_text())


def user(stack, key):
    return next(u for u in stack["users"] if u["key"] == key)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def wait_for(what, fn, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


class Matrix:
    """Just enough of the client-server API, with a password login."""

    def __init__(self, hs, u):
        self.base = hs["base_url"] + "/_matrix/client/v3"
        r = requests.post(f"{self.base}/login", json={
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": u["localpart"]},
            "password": u["password"], "initial_device_display_name": "stack smoke test"})
        assert r.status_code == 200, r.text
        self.user_id, self.token = r.json()["user_id"], r.json()["access_token"]

    def req(self, method, path, **kw):
        r = requests.request(method, self.base + path, headers={"Authorization": f"Bearer {self.token}"}, **kw)
        assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    def has_event(self, room_id, event_id):
        r = requests.get(f"{self.base}/rooms/{room_id}/event/{event_id}",
                         headers={"Authorization": f"Bearer {self.token}"})
        return r.json() if r.status_code == 200 else None

    def send(self, room_id, body):
        return self.req("PUT", f"/rooms/{room_id}/send/m.room.message/{uuid.uuid4().hex}",
                        json={"msgtype": "m.text", "body": body})["event_id"]

    def leave(self, room_id):
        """Leaves and forgets a room, so smoke-test rooms do not clutter the demo accounts."""
        headers = {"Authorization": f"Bearer {self.token}"}
        requests.post(f"{self.base}/rooms/{room_id}/leave", json={}, headers=headers)
        requests.post(f"{self.base}/rooms/{room_id}/forget", json={}, headers=headers)

    def logout(self):
        requests.post(f"{self.base}/logout", json={}, headers={"Authorization": f"Bearer {self.token}"})


# ---------------------------------------------------------------- homeservers

@pytest.mark.parametrize("key", ["a", "b", "n"])
def test_homeserver_healthy_with_simplified_sliding_sync(stack, key):
    hs = stack["homeservers"][key]
    assert requests.get(hs["base_url"] + "/health").text == "OK"
    versions = requests.get(hs["base_url"] + "/_matrix/client/versions").json()
    assert versions["unstable_features"].get("org.matrix.simplified_msc3575") is True
    flows = {f["type"] for f in requests.get(hs["base_url"] + "/_matrix/client/v3/login").json()["flows"]}
    assert {"m.login.password", "m.login.sso", "m.login.token"} <= flows


def test_federation_both_ways(stack):
    a = Matrix(stack["homeservers"]["a"], user(stack, "a-lead"))
    b = Matrix(stack["homeservers"]["b"], user(stack, "b-gp"))
    room = None
    try:
        t = time.monotonic()
        room = a.req("POST", "/createRoom", json={"preset": "private_chat", "name": "smoke federation"})["room_id"]
        a.req("POST", f"/rooms/{room}/invite", json={"user_id": b.user_id})
        b.req("POST", f"/join/{room}", params={"server_name": stack["homeservers"]["a"]["server_name"]}, json={})
        to_b = a.send(room, "van A naar B")
        got = wait_for("A's message on B", lambda: b.has_event(room, to_b))
        assert got["content"]["body"] == "van A naar B" and got["sender"] == a.user_id
        to_a = b.send(room, "van B naar A")
        got = wait_for("B's message on A", lambda: a.has_event(room, to_a))
        assert got["content"]["body"] == "van B naar A" and got["sender"] == b.user_id
        print(f"federation round trip {time.monotonic() - t:.2f}s")
    finally:
        if room:
            b.leave(room)
            a.leave(room)
        a.logout()
        b.logout()


def test_the_new_vendors_homeserver_backfills_history_from_the_server_longest_in_the_room(stack):
    """Homeserver N (UC4's new vendor, on Postgres) joins a room last, after B joined late: its
    history comes from A, which has it all. On sqlite Synapse may ask B first, which joined after
    the first messages and lacks them, and stop there (why N runs on Postgres)."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))
    import synapse_accounts
    localpart, password = f"smoke-n-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    synapse_accounts.register(stack["homeservers"]["n"], localpart, password)
    a = Matrix(stack["homeservers"]["a"], user(stack, "a-lead"))
    b = Matrix(stack["homeservers"]["b"], user(stack, "b-gp"))
    n = Matrix(stack["homeservers"]["n"], {"localpart": localpart, "password": password})
    room = None
    try:
        room = a.req("POST", "/createRoom", json={"preset": "private_chat", "name": "smoke history",
                                                  "initial_state": [{"type": "m.room.history_visibility",
                                                                     "state_key": "",
                                                                     "content": {"history_visibility": "shared"}}]})["room_id"]
        first = [a.send(room, f"eerder {i}") for i in range(3)]
        a.req("POST", f"/rooms/{room}/invite", json={"user_id": b.user_id})
        b.req("POST", f"/join/{room}", json={})
        a.req("POST", f"/rooms/{room}/invite", json={"user_id": n.user_id})
        n.req("POST", f"/join/{room}", json={})
        bodies = []
        for _ in range(5):  # each /messages backfills a bit further
            chunk = n.req("GET", f"/rooms/{room}/messages", params={"dir": "b", "limit": 50})["chunk"]
            bodies = [e["content"].get("body") for e in chunk if e["type"] == "m.room.message"]
            if "eerder 0" in bodies:
                break
        assert {"eerder 0", "eerder 1", "eerder 2"} <= set(bodies), (first, bodies)
    finally:
        if room:
            n.leave(room)
            b.leave(room)
            a.leave(room)
        for m in (a, b, n):
            m.logout()


def test_demo_room_is_federated_and_unencrypted(stack):
    b = Matrix(stack["homeservers"]["b"], user(stack, "b-gp"))
    try:
        room = stack["demo_room_id"]
        members = b.req("GET", f"/rooms/{room}/joined_members")["joined"]
        assert user(stack, "a-lead")["mxid"] in members and b.user_id in members
        state = b.req("GET", f"/rooms/{room}/state")
        assert not any(e["type"] == "m.room.encryption" for e in state)
        assert any(e["type"] == "m.room.name" and e["content"]["name"] == "Welkom bij Kring" for e in state)
        msgs = b.req("GET", f"/rooms/{room}/messages", params={"dir": "b", "limit": 50})["chunk"]
        assert sum(e["type"] == "m.room.message" for e in msgs) >= 2
    finally:
        b.logout()


# ---------------------------------------------------------------- IdP

def idp_login(session, start_url, username, password, stop_prefix):
    """Drive the IdP's HTML login with plain HTTP; returns the first redirect to stop_prefix."""
    r = session.get(start_url, allow_redirects=False)
    for _ in range(20):
        if r.status_code in (301, 302, 303, 307):
            location = urljoin(r.url, r.headers["Location"])
            if location.startswith(stop_prefix):
                return location
            r = session.get(location, allow_redirects=False)
        elif r.status_code == 200 and 'name="password"' in r.text:
            action = unescape(re.search(r'<form method="post" action="([^"]+)"', r.text).group(1))
            r = session.post(urljoin(r.url, action), data={"username": username, "password": password},
                             allow_redirects=False)
        else:
            pytest.fail(f"unexpected IdP response {r.status_code} at {r.url}: {r.text[:300]}")
    pytest.fail("too many redirects")


def test_idp_discovery(stack):
    issuer = stack["idp"]["issuer"]
    meta = requests.get(issuer + "/.well-known/openid-configuration").json()
    assert meta["issuer"] == issuer
    assert "S256" in meta["code_challenge_methods_supported"]
    assert {"openid", "profile", "uzi", "offline_access"} <= set(meta["scopes_supported"])
    assert {"uzi", "ura", "role_code"} <= set(meta["claims_supported"])


def test_desktop_client_pkce_flow(stack):
    issuer, client_id = stack["idp"]["issuer"], stack["idp"]["desktop_client_id"]
    meta = requests.get(issuer + "/.well-known/openid-configuration").json()
    u = user(stack, "b-gp")
    verifier = b64url(secrets.token_bytes(32))
    state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
    auth = requests.Request("GET", meta["authorization_endpoint"], params={
        "client_id": client_id, "response_type": "code", "redirect_uri": DESKTOP_REDIRECT,
        "scope": "openid profile uzi offline_access", "prompt": "consent", "state": state, "nonce": nonce,
        "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256"}).prepare().url
    # No listener on the loopback redirect: read the Location header instead.
    callback = idp_login(requests.Session(), auth, u["localpart"], u["password"], DESKTOP_REDIRECT)
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    assert params["state"] == state and "code" in params, callback

    token_url = meta["token_endpoint"]
    bad = requests.post(token_url, data={"grant_type": "authorization_code", "code": params["code"],
                                         "redirect_uri": DESKTOP_REDIRECT, "client_id": client_id,
                                         "code_verifier": b64url(secrets.token_bytes(32))})
    assert bad.status_code == 400  # PKCE is enforced (and the code is now spent)

    state2 = secrets.token_urlsafe(8)
    auth2 = auth.replace(f"state={state}", f"state={state2}")
    callback = idp_login(requests.Session(), auth2, u["localpart"], u["password"], DESKTOP_REDIRECT)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    r = requests.post(token_url, data={"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": DESKTOP_REDIRECT, "client_id": client_id,
                                       "code_verifier": verifier})
    assert r.status_code == 200, r.text
    tokens = r.json()
    claims = jwt_claims(tokens["id_token"])
    ura_b = next(o["ura"] for o in stack["organisations"] if o["key"] == "b")
    assert claims["iss"] == issuer and claims["aud"] == client_id and claims["nonce"] == nonce
    assert (claims["uzi"], claims["ura"], claims["role_code"]) == (u["uzi"], ura_b, u["role_code"])
    assert claims["preferred_username"] == u["localpart"]
    me = requests.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["uzi"] == u["uzi"]
    refreshed = requests.post(token_url, data={"grant_type": "refresh_token", "client_id": client_id,
                                               "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200 and "access_token" in refreshed.json(), refreshed.text


def test_desktop_client_requires_pkce(stack):
    r = requests.get(stack["idp"]["issuer"] + "/auth", allow_redirects=False, params={
        "client_id": stack["idp"]["desktop_client_id"], "response_type": "code",
        "redirect_uri": DESKTOP_REDIRECT, "scope": "openid"})
    assert r.status_code in (302, 303) and r.headers["Location"].startswith(DESKTOP_REDIRECT)
    assert parse_qs(urlsplit(r.headers["Location"]).query)["error"] == ["invalid_request"]


def test_idp_rejects_wrong_password(stack):
    issuer = stack["idp"]["issuer"]
    s = requests.Session()
    r = s.get(issuer + "/auth", params={"client_id": stack["idp"]["desktop_client_id"], "response_type": "code",
                                        "redirect_uri": DESKTOP_REDIRECT, "scope": "openid",
                                        "code_challenge": b64url(hashlib.sha256(b"x" * 43).digest()),
                                        "code_challenge_method": "S256"})
    action = unescape(re.search(r'action="([^"]+)"', r.text).group(1))
    r = s.post(urljoin(r.url, action), data={"username": user(stack, "a-lead")["localpart"], "password": "fout"},
               allow_redirects=False)
    assert r.status_code == 401 and 'name="password"' in r.text


def desktop_auth(stack, state="s"):
    return requests.Request("GET", stack["idp"]["issuer"] + "/auth", params={
        "client_id": stack["idp"]["desktop_client_id"], "response_type": "code", "redirect_uri": DESKTOP_REDIRECT,
        "scope": "openid profile uzi", "state": state, "nonce": "n",
        "code_challenge": b64url(hashlib.sha256(b"v" * 43).digest()), "code_challenge_method": "S256"}).prepare().url


def test_idp_cancel_returns_access_denied_to_the_redirect_uri(stack):
    s = requests.Session()
    page = s.get(desktop_auth(stack, state="annuleer"))
    assert page.status_code == 200 and "Annuleren" in page.text
    abort = unescape(re.search(r'<form method="post" action="([^"]+/abort)"', page.text).group(1))
    r = s.post(urljoin(page.url, abort), allow_redirects=False)
    while r.status_code in (302, 303) and not r.headers["Location"].startswith(DESKTOP_REDIRECT):
        r = s.get(urljoin(r.url, r.headers["Location"]), allow_redirects=False)
    assert r.headers["Location"].startswith(DESKTOP_REDIRECT), r.headers
    params = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["Location"]).query).items()}
    assert params["error"] == "access_denied" and params["error_description"] == "Inloggen geannuleerd"
    assert params["state"] == "annuleer" and "code" not in params


def idp_only(stack, key):
    return next(u for u in stack["idp_only_users"] if u["key"] == key)


def id_token_claims(stack, u):
    """The claims of an ID token for the desktop client after u logs in."""
    meta = requests.get(stack["idp"]["issuer"] + "/.well-known/openid-configuration").json()
    verifier = b64url(secrets.token_bytes(32))
    auth = requests.Request("GET", meta["authorization_endpoint"], params={
        "client_id": stack["idp"]["desktop_client_id"], "response_type": "code", "redirect_uri": DESKTOP_REDIRECT,
        "scope": "openid profile uzi", "state": "s", "nonce": "n",
        "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256"}).prepare().url
    callback = idp_login(requests.Session(), auth, u["localpart"], u["password"], DESKTOP_REDIRECT)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    r = requests.post(meta["token_endpoint"], data={"grant_type": "authorization_code", "code": code,
                                                    "redirect_uri": DESKTOP_REDIRECT, "code_verifier": verifier,
                                                    "client_id": stack["idp"]["desktop_client_id"]})
    assert r.status_code == 200, r.text
    return jwt_claims(r.json()["id_token"])


def test_idp_only_accounts_release_just_the_claims_they_have(stack):
    no_ura = id_token_claims(stack, idp_only(stack, "x-no-ura"))
    assert no_ura["uzi"] == idp_only(stack, "x-no-ura")["uzi"] and "ura" not in no_ura
    unknown = id_token_claims(stack, idp_only(stack, "x-unknown-ura"))
    assert unknown["ura"] == "90999999"
    assert not any(o["ura"] == unknown["ura"] for o in stack["organisations"])
    stray = id_token_claims(stack, idp_only(stack, "x-not-in-directory"))
    assert stray["ura"] == org(stack, "a")["ura"]
    assert not fhir(f"{stack['directories']['a']}/Practitioner", identifier=stray["uzi"]).get("entry")


def test_idp_accounts_of_the_new_practitioners(stack):
    daan = user(stack, "c-pharmacist")
    claims = id_token_claims(stack, daan)
    assert (claims["uzi"], claims["ura"], claims["role_code"]) == (daan["uzi"], org(stack, "c")["ura"], "17.000")


# ---------------------------------------------------------------- SSO via the homeserver

def sso_login(stack, hs_key, u):
    """Synapse SSO as the desktop app does it; returns the final HTTP response from Synapse."""
    hs = stack["homeservers"][hs_key]
    redirect = "http://127.0.0.1:1/"  # nothing listens there: the loginToken is read from Location
    s = requests.Session()
    # Two providers (organisation and care platform): name the organisation's, as the app does,
    # or Synapse answers with its pick_idp page.
    start = f"{hs['base_url']}/_matrix/client/v3/login/sso/redirect/oidc-kring?redirectUrl={redirect}"
    r = s.get(start, allow_redirects=False)
    # Synapse marks its OIDC session cookie Secure; on http://127.0.0.1 requests will not send
    # it back, so carry it by hand to the callback.
    synapse_cookies = {c.name: c.value for c in s.cookies if c.name.startswith("oidc_session")}
    assert synapse_cookies, r.headers
    callback = idp_login(s, urljoin(start, r.headers["Location"]), u["localpart"], u["password"],
                         f"{hs['base_url']}/_synapse/client/oidc/callback")
    cookie = "; ".join(f"{k}={v}" for k, v in synapse_cookies.items())
    return requests.get(callback, headers={"Cookie": cookie}, allow_redirects=False)


def test_sso_round_trip_on_homeserver_a(stack):
    hs, u = stack["homeservers"]["a"], user(stack, "a-internist")
    r = sso_login(stack, "a", u)
    assert r.status_code == 302, r.text[:500]
    token = parse_qs(urlsplit(r.headers["Location"]).query)["loginToken"][0]
    login = requests.post(hs["base_url"] + "/_matrix/client/v3/login", json={"type": "m.login.token", "token": token})
    assert login.status_code == 200, login.text
    body = login.json()
    assert body["user_id"] == u["mxid"]  # SSO lands on the seeded account
    ura_a = next(o["ura"] for o in stack["organisations"] if o["key"] == "a")
    assert (body.get("uzi"), body.get("ura"), body.get("role_code")) == (u["uzi"], ura_a, u["role_code"])
    requests.post(hs["base_url"] + "/_matrix/client/v3/logout", json={},
                  headers={"Authorization": f"Bearer {body['access_token']}"})


def test_sso_refuses_other_organisations_staff(stack):
    r = sso_login(stack, "a", user(stack, "b-gp"))  # URA of B on homeserver A
    assert r.status_code == 400 and "Authentication failed" in r.text  # attribute_requirements: own URA


# ---------------------------------------------------------------- mCSD directories

def fhir(url, **params):
    r = requests.get(url, params=params)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/fhir+json"), r.text
    return r.json()


UZI_SYSTEMS = (UZI, "http://fhir.nl/fhir/NamingSystem/uzi")  # current and older NamingSystem
MATRIX_TO = "https://matrix.to/#/"


def org(stack, key):
    return next(o for o in stack["organisations"] if o["key"] == key)


def published_mxids(resource):
    """The MXIDs in a resource's telecom, in either form the directories use."""
    found = []
    for t in resource.get("telecom", []):
        value = t.get("value") or ""
        if t.get("system") == "other" and value.startswith("@"):
            found.append(value)
        elif t.get("system") == "url" and value.startswith(MATRIX_TO):
            found.append(value[len(MATRIX_TO):])
    return found


def practitioner_and_roles(stack, u):
    base = stack["directories"][u["directory"]]
    found = fhir(f"{base}/Practitioner", identifier=u["uzi"])  # any system
    assert len(found.get("entry", [])) == 1, (u["key"], found)
    practitioner = found["entry"][0]["resource"]
    roles = fhir(f"{base}/PractitionerRole", practitioner=f"Practitioner/{practitioner['id']}").get("entry", [])
    assert len(roles) == 1, (u["key"], roles)
    return base, practitioner, roles[0]["resource"]


def test_directories_find_practitioners_by_uzi(stack):
    for u in (u for u in stack["users"] if u["kind"] == "practitioner"):
        base, practitioner, role = practitioner_and_roles(stack, u)
        assert [i["system"] for i in practitioner["identifier"] if i["value"] == u["uzi"]][0] in UZI_SYSTEMS
        assert role["code"][0]["coding"][0]["code"] == u["role_code"]
        organization = fhir(f"{base}/{role['organization']['reference']}")
        assert organization["identifier"][0]["value"] == org(stack, u["org"])["ura"]
        # No other organisation's directory knows this practitioner.
        for other in (k for k in stack["directories"] if k not in ("lrza", u["directory"])):
            assert not fhir(f"{stack['directories'][other]}/Practitioner", identifier=u["uzi"]).get("entry")
        if u["key"] in ("a-lead", "a-nurse", "a-internist", "b-gp", "b-nurse"):  # the seeded Matrix users
            assert published_mxids(practitioner) == [u["mxid"]] and published_mxids(role) == [u["mxid"]]
            endpoint = fhir(f"{base}/{role['endpoint'][0]['reference']}")
            assert endpoint["connectionType"]["code"] == "matrix"
            assert endpoint["address"] == stack["homeservers"][u["org"]]["base_url"]


def test_the_uzi_search_uses_the_system_the_directory_has(stack):
    noor = user(stack, "a-new")
    base = stack["directories"]["a"]
    assert fhir(f"{base}/Practitioner", identifier=f"http://fhir.nl/fhir/NamingSystem/uzi|{noor['uzi']}")["entry"]
    assert not fhir(f"{base}/Practitioner", identifier=f"{UZI}|{noor['uzi']}").get("entry")


def test_matrix_address_variants_in_the_directories(stack):
    # Lotte's role gives her MXID as a matrix.to URL (the NL-GF IG's form); her Practitioner as usual.
    lotte = user(stack, "b-nurse")
    _, practitioner, role = practitioner_and_roles(stack, lotte)
    assert role["telecom"] == [{"system": "url", "value": MATRIX_TO + lotte["mxid"]}]
    assert practitioner["telecom"][0]["system"] == "other" and practitioner["telecom"][0]["value"] == lotte["mxid"]

    # Noor: no MXID anywhere, but her role points at A's Matrix endpoint (the own vendor's homeserver).
    for key in ("a-new", "a-new2"):
        base, practitioner, role = practitioner_and_roles(stack, user(stack, key))
        assert not published_mxids(practitioner) and not published_mxids(role)
        assert "telecom" not in practitioner and "telecom" not in role
        endpoint = fhir(f"{base}/{role['endpoint'][0]['reference']}")
        assert endpoint["connectionType"]["code"] == "matrix"
        assert endpoint["address"] == stack["homeservers"]["a"]["base_url"]

    # Fleur: neither an MXID nor an endpoint on her role (org B itself does have one).
    base, practitioner, role = practitioner_and_roles(stack, user(stack, "b-new"))
    assert "telecom" not in practitioner and "telecom" not in role and "endpoint" not in role
    assert fhir(f"{base}/{role['organization']['reference']}")["endpoint"]

    # Daan, pharmacy C, hosted in B's directory: nothing Matrix at all, not even at his organisation.
    daan = user(stack, "c-pharmacist")
    assert daan["directory"] == "b" and daan["mxid"] is None
    base, practitioner, role = practitioner_and_roles(stack, daan)
    assert "telecom" not in practitioner and "telecom" not in role and "endpoint" not in role
    organization = fhir(f"{base}/{role['organization']['reference']}")
    assert organization["name"] == "Apotheek De Linde" and "endpoint" not in organization
    assert fhir(f"{base}/Organization", identifier=f"{URA}|{org(stack, 'c')['ura']}")["entry"]


def test_practitioners_with_an_account_carry_their_identity_binding(stack):
    """As if they had onboarded (issue #4): nl.kring.practitioner on the profile points at their
    own Practitioner and PractitionerRole, readable on either homeserver (over federation)."""
    readers = {k: Matrix(stack["homeservers"][k], user(stack, key)) for k, key in (("a", "a-lead"), ("b", "b-gp"))}
    try:
        seeded = [u for u in stack["users"] if u["kind"] == "practitioner" and u["matrix_account"]]
        assert {u["key"] for u in seeded} == {"a-lead", "a-nurse", "a-internist", "b-gp", "b-nurse"}
        for u in seeded:
            base, practitioner, role = practitioner_and_roles(stack, u)
            want = {"uzi": u["uzi"], "ura": org(stack, u["org"])["ura"], "role_codes": [u["role_code"]],
                    "practitioner": f"{base}/Practitioner/{practitioner['id']}",
                    "practitioner_role": f"{base}/PractitionerRole/{role['id']}",
                    "organization": org(stack, u["org"])["name"]}
            for k, reader in readers.items():
                got = reader.req("GET", f"/profile/{u['mxid']}/nl.kring.practitioner")
                assert got == {"nl.kring.practitioner": want}, (u["key"], "read on", k, got)
            # The URLs lead to the resources themselves (the directory is the authority).
            assert fhir(want["practitioner_role"])["code"] == role["code"]
        # Someone who is no practitioner has no binding.
        marieke = user(stack, "a-caregiver")
        r = requests.get(f"{readers['b'].base}/profile/{marieke['mxid']}/nl.kring.practitioner",
                         headers={"Authorization": f"Bearer {readers['b'].token}"})
        assert r.status_code == 404, r.text
    finally:
        for reader in readers.values():
            reader.logout()


def periods(role):
    return [(a.get("description"), datetime.fromisoformat(a["during"]["start"]), datetime.fromisoformat(a["during"]["end"]))
            for a in role.get("notAvailable", [])]


def test_absences_in_the_directories(stack):
    """PractitionerRole.notAvailable, dated from the day of seeding: Karim (Bosrand) is away
    now, Sanne (Aurora) has a course ahead; nobody else is away."""
    now = datetime.now(timezone.utc)
    for u in (u for u in stack["users"] if u["kind"] == "practitioner"):
        _, _, role = practitioner_and_roles(stack, u)
        found = periods(role)
        if u["key"] == "b-gp":
            [(what, start, end)] = found
            assert what == "Vakantie" and start <= now <= end, found
            # Whole days in Dutch local time: from midnight to the last second of a day.
            assert (start.time().isoformat(), end.time().isoformat()) == ("00:00:00", "23:59:59"), found
            assert start.utcoffset() in (timedelta(hours=1), timedelta(hours=2)), found
        elif u["key"] == "a-nurse":
            [(what, start, end)] = found
            assert what == "Cursus" and now < start < end, found
        else:
            assert found == [], (u["key"], found)


@pytest.mark.parametrize("key", ["a-new", "a-new2", "b-new", "c-pharmacist"])
def test_new_practitioners_get_no_matrix_account_from_the_seeder(stack, key):
    u = user(stack, key)
    assert u["matrix_account"] is False
    if u["org"] not in stack["homeservers"]:
        assert u["mxid"] is None
        return
    hs = stack["homeservers"][u["org"]]
    r = requests.post(hs["base_url"] + "/_matrix/client/v3/login", json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": u["localpart"]},
        "password": u["password"]})
    assert r.status_code == 403, r.text
    profile = requests.get(f"{hs['base_url']}/_matrix/client/v3/profile/{u['mxid']}")
    if key == "b-new":  # Kring of vendor A never makes an account on B's homeserver
        assert profile.status_code == 404, profile.text
    else:
        # A fresh stack has no such account. The first SSO login on the own homeserver makes
        # one (without a password), so after the onboarding tests on this stack it may exist.
        assert profile.status_code == 404 or profile.json().get("displayname") == u["display_name"], profile.text


def test_lrza_points_to_each_organisations_directory(stack):
    lrza = stack["directories"]["lrza"]
    for o in stack["organisations"]:
        found = fhir(f"{lrza}/Organization", identifier=f"{URA}|{o['ura']}")
        if not o["lrza"]:
            assert not found.get("entry"), o  # pharmacy C is only in Nuts discovery
            continue
        assert len(found["entry"]) == 1
        organization = found["entry"][0]["resource"]
        assert organization["name"] == o["name"]
        endpoint = fhir(f"{lrza}/{organization['endpoint'][0]['reference']}")
        assert endpoint["address"] == stack["directories"][o["directory"]]
        # ...and that directory knows the same URA.
        assert fhir(f"{endpoint['address']}/Organization", identifier=f"{URA}|{o['ura']}")["entry"]


def test_lrza_endpoints_use_both_codings_for_an_mcsd_directory(stack):
    lrza = stack["directories"]["lrza"]

    def endpoint_of(key):
        organization = fhir(f"{lrza}/Organization", identifier=f"{URA}|{org(stack, key)['ura']}")["entry"][0]["resource"]
        return fhir(f"{lrza}/{organization['endpoint'][0]['reference']}")
    a, b = endpoint_of("a"), endpoint_of("b")
    assert a["connectionType"]["code"] == "hl7-fhir-rest"
    assert a["payloadType"][0]["coding"][0]["code"].endswith("/nl-gf-admin-directory-update-client")
    assert b["connectionType"] == {"system": "http://fhir.nl/fhir/NamingSystem/endpoint-connection-type",
                                   "code": "mcsd-directory"}
    assert b["payloadType"][0]["coding"][0]["code"] == "none"


# ---------------------------------------------------------------- Nuts discovery (stand-in)

def nuts_search(stack, service=None, **query):
    nuts = stack["nuts"]
    return requests.get(f"{nuts['base_url']}/internal/discovery/v1/{service or nuts['service']}", params=query)


def test_nuts_discovery_finds_the_pharmacy_and_its_directory(stack):
    c = org(stack, "c")
    r = nuts_search(stack, **{"credentialSubject.organization.ura": c["ura"]})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json", r.text
    [hit] = r.json()
    assert {"id", "credential_subject_id", "vp", "fields", "registrationParameters"} <= set(hit)
    assert hit["id"].startswith(hit["credential_subject_id"] + "#")
    assert hit["fields"]["organization_name"] == c["name"] and hit["fields"]["organization_ura"] == c["ura"]
    # Vendor B hosts pharmacy C's directory, and that directory knows C.
    assert hit["registrationParameters"]["fhirBaseURL"] == stack["directories"]["b"]
    assert fhir(f"{stack['directories']['b']}/Organization", identifier=f"{URA}|{c['ura']}")["entry"]


def test_nuts_discovery_filters(stack):
    assert nuts_search(stack, **{"credentialSubject.organization.ura": "90999999"}).json() == []
    assert nuts_search(stack, **{"credentialSubject.organization.ura": org(stack, "a")["ura"]}).json() == []
    every = {h["fields"]["organization_ura"] for h in nuts_search(stack, **{"credentialSubject.organization.ura": "*"}).json()}
    assert every == {o["ura"] for o in stack["organisations"] if o["nuts"]}
    assert len(nuts_search(stack, **{"credentialSubject.organization.name": "Apotheek*"}).json()) == 1
    r = nuts_search(stack, service="bestaat-niet")
    assert r.status_code == 404 and r.json()["status"] == 404


# ---------------------------------------------------------------- push

def test_push_receiver_records_posts(stack):
    gw = stack["push_gateway"]
    requests.delete(gw["recorded_url"])
    body = {"notification": {"event_id": "$smoke", "room_id": "!smoke:localhost", "devices": []}}
    r = requests.post(gw["notify_url"], json=body)
    assert r.json() == {"rejected": []} and r.headers["Content-Length"]
    assert body in requests.get(gw["recorded_url"]).json()


def test_synapse_delivers_push_to_receiver(stack):
    gw = stack["push_gateway"]
    a, nurse = Matrix(stack["homeservers"]["a"], user(stack, "a-lead")), Matrix(stack["homeservers"]["a"], user(stack, "a-nurse"))
    pushkey = f"smoke-{uuid.uuid4().hex}"
    room = None
    try:
        a.req("POST", "/pushers/set", json={
            "kind": "http", "app_id": "nl.kring.smoke", "pushkey": pushkey, "app_display_name": "smoke",
            "device_display_name": "smoke", "lang": "nl", "data": {"url": gw["notify_url"], "format": "event_id_only"}})
        room = nurse.req("POST", "/createRoom", json={"preset": "private_chat", "is_direct": True,
                                                      "invite": [a.user_id]})["room_id"]
        a.req("POST", f"/join/{room}", json={})
        event_id = nurse.send(room, "push?")

        def delivered():
            return [n for n in requests.get(gw["recorded_url"]).json()
                    if n.get("notification", {}).get("event_id") == event_id]
        note = wait_for("push notification", delivered)[0]["notification"]
        assert note["devices"][0]["pushkey"] == pushkey and "content" not in note  # content-free
    finally:
        if room:
            a.leave(room)
            nurse.leave(room)
        a.logout()
        nurse.logout()


@pytest.mark.parametrize("org", ["a", "b"])
def test_each_homeserver_has_its_identity_service(stack, org):
    """One Kring identity service per homeserver: it answers the API, publishes its key, and
    takes an OpenID token of its own homeserver's user (vouched for over federation TLS); the
    partner organisation's users may look up, not bind; an unlisted homeserver is refused."""
    is_url = stack["identity_services"][org]["base_url"] + "/_matrix/identity"
    assert "v1.1" in requests.get(f"{is_url}/versions", timeout=10).json()["versions"]
    key = requests.get(f"{is_url}/v2/pubkey/ed25519:0", timeout=10).json()["public_key"]
    assert requests.get(f"{is_url}/v2/pubkey/isvalid", params={"public_key": key}, timeout=10).json() == {"valid": True}

    def openid(o):
        u = next(u for u in stack["users"] if u["org"] == o and u["kind"] == "practitioner" and u.get("mxid"))
        hs = stack["homeservers"][o]["base_url"]
        login = requests.post(f"{hs}/_matrix/client/v3/login", json={
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": u["localpart"]},
            "password": u["password"]}, timeout=10).json()
        return u, requests.post(f"{hs}/_matrix/client/v3/user/{u['mxid']}/openid/request_token",
                                headers={"Authorization": f"Bearer {login['access_token']}"}, json={},
                                timeout=10).json()

    own_user, own = openid(org)
    token = requests.post(f"{is_url}/v2/account/register", json=own, timeout=10).json()["token"]
    assert requests.get(f"{is_url}/v2/account", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).json() == {"user_id": own_user["mxid"]}
    # The partner organisation's users may register to look up who is who, never to bind.
    other_user, other = openid("b" if org == "a" else "a")
    partner = requests.post(f"{is_url}/v2/account/register", json=other, timeout=10).json()["token"]
    auth = {"Authorization": f"Bearer {partner}"}
    terms = requests.get(f"{is_url}/v2/terms", timeout=10).json()["policies"]
    urls = [lang["url"] for policy in terms.values() for k, lang in policy.items() if k != "version"]
    requests.post(f"{is_url}/v2/terms", headers=auth, json={"user_accepts": urls}, timeout=10).raise_for_status()
    seen = requests.get(f"{is_url}/v2/nl.kring/bindings/{own_user['mxid']}", headers=auth, timeout=10)
    assert seen.status_code == 200, seen.text
    refused = requests.post(f"{is_url}/v2/validate/nl.kring.idp/requestToken", headers=auth,
                            json={"client_secret": "partner-secret"}, timeout=10)
    assert refused.status_code == 403 and refused.json()["errcode"] == "nl.kring.homeserver_not_trusted", refused.text
    # A homeserver not on the list at all is refused at registration (a forged server name).
    forged = dict(other, matrix_server_name="localhost:1")
    refused = requests.post(f"{is_url}/v2/account/register", json=forged, timeout=10)
    assert refused.status_code == 403 and refused.json()["errcode"] == "nl.kring.homeserver_not_trusted"
