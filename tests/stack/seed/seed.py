"""Seeds the Kring test stack from demo.json (stdlib only; stackctl imports it).

Idempotent: FHIR directories are filled only when empty (they live in memory), Matrix
accounts are registered only when a password login fails, the demo room is found by alias.
"""
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

DEMO = Path(__file__).with_name("demo.json")
URA = "http://fhir.nl/fhir/NamingSystem/ura"
UZI = "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers"
MATRIX_CONN = {"system": "http://kring.example/fhir/CodeSystem/endpoint-connection-type", "code": "matrix",
               "display": "Matrix homeserver (client-server API)"}
FHIR_REST = {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type", "code": "hl7-fhir-rest"}
# NL Generic Functions IG: an LRZa Endpoint that points at an organisation's mCSD directory.
MCSD_PAYLOAD = {"system": "http://nuts-foundation.github.io/nl-generic-functions-ig/CodeSystem/nl-gf-data-exchange-capabilities",
                "code": "http://nuts-foundation.github.io/nl-generic-functions-ig/CapabilityStatement/nl-gf-admin-directory-update-client",
                "display": "Care Services Directory for Update Client"}
NO_PAYLOAD = {"system": "http://terminology.hl7.org/CodeSystem/endpoint-payload-type", "code": "none", "display": "None"}

_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy


def load_demo():
    return json.loads(DEMO.read_text(encoding="utf-8"))


def call(method, url, body=None, token=None, content_type="application/json"):
    """One HTTP request; returns (status, parsed JSON or None)."""
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", content_type)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with _http.open(req, timeout=60) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def must(result, *ok):
    status, body = result
    if status not in (ok or (200,)):
        raise RuntimeError(f"unexpected HTTP {status}: {body}")
    return body


def mxid(user, homeservers):
    return f"@{user['localpart']}:{homeservers[user['org']]['server_name']}"


def idp_accounts(demo):
    """IdP accounts: one per practitioner, carrying the same UZI/URA/role code as the directory."""
    uras = {o["key"]: o["ura"] for o in demo["organisations"]}
    return [{"sub": f"{u['org']}-{u['uzi']}", "preferred_username": u["localpart"], "password": u["password"],
             "name": f"{u['given']} {u['family']}", "given_name": u["given"], "family_name": u["family"],
             "uzi": u["uzi"], "ura": uras[u["org"]], "role_code": u["role_code"]}
            for u in demo["users"] if u["kind"] == "practitioner"]


# ---------------------------------------------------------------- FHIR directories

def rid(directory, rtype, key):
    """Stable resource ids, so references and re-seeds agree across restarts."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://kring.example/stack/{directory}/{rtype}/{key}"))


def put(resource):
    return {"resource": resource, "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}}


def org_resource(org, oid, endpoints):
    return {"resourceType": "Organization", "id": oid, "active": True,
            "identifier": [{"system": URA, "value": org["ura"]}],
            "type": [{"coding": [org["type"]]}], "name": org["name"],
            "telecom": [{"system": "phone", "value": org["phone"], "use": "work"}],
            "address": [org["address"]],
            "endpoint": [{"reference": f"Endpoint/{e}"} for e in endpoints]}


def mxid_telecom(m):
    return {"system": "other", "value": m, "use": "work",
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/contactpoint-purpose",
                           "valueString": "matrix-messaging"}]}


def org_directory_bundle(demo, org, homeservers):
    """An organisation's own mCSD directory: who works here and where their homeserver is."""
    k, hs = org["key"], homeservers[org["key"]]
    oid, eid = rid(k, "Organization", k), rid(k, "Endpoint", "matrix")
    lid, sid = rid(k, "Location", "main"), rid(k, "HealthcareService", "main")
    ref = lambda t, i: {"reference": f"{t}/{i}"}  # noqa: E731
    entries = [
        put(org_resource(org, oid, [eid])),
        put({"resourceType": "Endpoint", "id": eid, "status": "active", "connectionType": MATRIX_CONN,
             "name": f"Matrix homeserver {org['name']}", "managingOrganization": ref("Organization", oid),
             "payloadType": [{"coding": [NO_PAYLOAD]}], "address": hs["base_url"]}),
        put({"resourceType": "Location", "id": lid, "status": "active", "name": org["location"],
             "address": org["address"], "managingOrganization": ref("Organization", oid),
             "endpoint": [ref("Endpoint", eid)]}),
        put({"resourceType": "HealthcareService", "id": sid, "active": True, "name": org["service"]["name"],
             "providedBy": ref("Organization", oid), "type": [{"coding": [org["service"]["type"]]}],
             "location": [ref("Location", lid)], "endpoint": [ref("Endpoint", eid)]}),
    ]
    for u in demo["users"]:
        if u["org"] != k or u["kind"] != "practitioner":
            continue
        pid, prid, m = rid(k, "Practitioner", u["key"]), rid(k, "PractitionerRole", u["key"]), mxid(u, homeservers)
        name = {"use": "official", "text": u["display_name"], "family": u["family"], "given": [u["given"]]}
        if u.get("prefix"):
            name["prefix"] = [u["prefix"]]
        entries.append(put({"resourceType": "Practitioner", "id": pid, "active": True,
                            "identifier": [{"system": UZI, "value": u["uzi"]}], "name": [name],
                            "telecom": [mxid_telecom(m)]}))
        entries.append(put({"resourceType": "PractitionerRole", "id": prid, "active": True,
                            "practitioner": {**ref("Practitioner", pid), "display": u["display_name"]},
                            "organization": {**ref("Organization", oid), "display": org["name"]},
                            "code": [{"coding": [{"system": demo["role_code_system"], "code": u["role_code"],
                                                  "display": u["role_display"]}]}],
                            "location": [ref("Location", lid)], "healthcareService": [ref("HealthcareService", sid)],
                            "endpoint": [ref("Endpoint", eid)], "telecom": [mxid_telecom(m)]}))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def lrza_bundle(demo, directories):
    """The national address register: per URA, where that organisation's mCSD directory lives."""
    entries = []
    for org in demo["organisations"]:
        oid, eid = rid("lrza", "Organization", org["key"]), rid("lrza", "Endpoint", org["key"])
        entries.append(put(org_resource(org, oid, [eid])))
        entries.append(put({"resourceType": "Endpoint", "id": eid, "status": "active", "connectionType": FHIR_REST,
                            "name": f"mCSD directory {org['name']}",
                            "managingOrganization": {"reference": f"Organization/{oid}"},
                            "payloadType": [{"coding": [MCSD_PAYLOAD]}],
                            "payloadMimeType": ["application/fhir+json"],
                            "address": directories[org["key"]]}))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def seed_directory(base, bundle, ura):
    q = urllib.parse.urlencode({"identifier": f"{URA}|{ura}"})
    found = must(call("GET", f"{base}/Organization?{q}"))
    if found.get("total", len(found.get("entry", []))):
        return False
    must(call("POST", base, bundle, content_type="application/fhir+json"))
    return True


# ---------------------------------------------------------------- Matrix

def login(hs, localpart, password):
    status, body = call("POST", f"{hs['base_url']}/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart},
        "password": password, "initial_device_display_name": "kring-stack seeder"})
    return body["access_token"] if status == 200 else None


def register(hs, user):
    """Shared-secret admin registration (HMAC-SHA1 over nonce, user, password, admin flag)."""
    url = f"{hs['base_url']}/_synapse/admin/v1/register"
    nonce = must(call("GET", url))["nonce"]
    mac = hmac.new(hs["registration_shared_secret"].encode(), digestmod=hashlib.sha1)
    mac.update(b"\x00".join([nonce.encode(), user["localpart"].encode(), user["password"].encode(), b"notadmin"]))
    body = must(call("POST", url, {"nonce": nonce, "username": user["localpart"], "password": user["password"],
                                   "displayname": user["display_name"], "admin": False, "mac": mac.hexdigest()}))
    return body["access_token"]


def ensure_user(hs, user):
    token = login(hs, user["localpart"], user["password"])
    return (token, False) if token else (register(hs, user), True)


def cs(hs, path):
    return f"{hs['base_url']}/_matrix/client/v3{path}"


def q(s):
    return urllib.parse.quote(s, safe="")


def ensure_demo_room(demo, homeservers, tokens, by_key):
    spec = demo["demo_room"]
    creator = by_key[spec["creator"]]
    hs = homeservers[creator["org"]]
    token = tokens[creator["key"]]
    alias = f"#{spec['alias']}:{hs['server_name']}"
    status, body = call("GET", cs(hs, f"/directory/room/{q(alias)}"))
    if status == 200:
        room_id = body["room_id"]
    else:
        room_id = must(call("POST", cs(hs, "/createRoom"), {
            "room_alias_name": spec["alias"], "name": spec["name"], "topic": spec["topic"],
            "preset": "private_chat", "visibility": "private"}, token))["room_id"]
    joined = must(call("GET", cs(hs, f"/rooms/{q(room_id)}/joined_members"), token=token))["joined"]
    for key in spec["members"]:
        member = by_key[key]
        m = mxid(member, homeservers)
        if m in joined:
            continue
        status, body = call("POST", cs(hs, f"/rooms/{q(room_id)}/invite"), {"user_id": m}, token)
        if status != 200 and "already in the room" not in str(body):
            raise RuntimeError(f"invite {m}: {status} {body}")
        mhs = homeservers[member["org"]]
        must(call("POST", cs(mhs, f"/join/{q(room_id)}?server_name={q(hs['server_name'])}"), {}, tokens[key]))
    # Send whichever seeded messages are missing, each one visible on the room's server
    # before the next, so every server shows them in the same order.
    history = must(call("GET", cs(hs, f"/rooms/{q(room_id)}/messages?dir=b&limit=100"), token=token))
    have = {e["content"].get("body") for e in history["chunk"] if e["type"] == "m.room.message"}
    for i, msg in enumerate(spec["messages"]):
        if msg["body"] in have:
            continue
        sender = by_key[msg["from"]]
        shs = homeservers[sender["org"]]
        event_id = must(call("PUT", cs(shs, f"/rooms/{q(room_id)}/send/m.room.message/kring-seed-{i}-{time.time_ns()}"),
                             {"msgtype": "m.text", "body": msg["body"]}, tokens[msg["from"]]))["event_id"]
        deadline = time.monotonic() + 30
        while call("GET", cs(hs, f"/rooms/{q(room_id)}/event/{q(event_id)}"), token=token)[0] != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"message {event_id} did not reach {hs['server_name']} over federation")
            time.sleep(0.05)
    return room_id


def run(ctx, log=print):
    """Seeds everything; returns the demo part of stack.json."""
    demo = load_demo()
    homeservers, directories = ctx["homeservers"], ctx["directories"]
    orgs = {o["key"]: o for o in demo["organisations"]}
    by_key = {u["key"]: u for u in demo["users"]}

    t = time.monotonic()
    first = demo["organisations"][0]["ura"]
    if seed_directory(directories["lrza"], lrza_bundle(demo, directories), first):
        log("  seeded directory lrza")
    for k, org in orgs.items():
        if seed_directory(directories[k], org_directory_bundle(demo, org, homeservers), org["ura"]):
            log(f"  seeded directory {k}")
    log(f"  directories ready ({time.monotonic() - t:.2f}s)")

    t = time.monotonic()
    tokens = {}
    for u in demo["users"]:
        tokens[u["key"]], created = ensure_user(homeservers[u["org"]], u)
        if created:
            log(f"  registered {mxid(u, homeservers)}")
    room_id = ensure_demo_room(demo, homeservers, tokens, by_key)
    for key, token in tokens.items():  # leave no seeder devices behind
        call("POST", cs(homeservers[by_key[key]["org"]], "/logout"), {}, token)
    log(f"  matrix accounts and demo room ready ({time.monotonic() - t:.2f}s)")

    return {
        "users": [{"key": u["key"], "org": u["org"], "mxid": mxid(u, homeservers), "localpart": u["localpart"],
                   "password": u["password"], "display_name": u["display_name"], "uzi": u.get("uzi"),
                   "role_code": u.get("role_code"), "kind": u["kind"]} for u in demo["users"]],
        "organisations": [{"key": o["key"], "name": o["name"], "ura": o["ura"]} for o in demo["organisations"]],
        "demo_room_id": room_id,
        "clients": [{"key": c["key"], "display_name": c["display_name"], "pseudo_bsn": c["pseudo_bsn"],
                     "care_team": c["care_team"], "lead": c["lead"]} for c in demo["clients"]],
    }
