"""Seeds the Kring test stack from demo.json (stdlib only; stackctl imports it).

Idempotent: a FHIR directory (in memory) gets its resources PUT only when it does not hold
exactly them already, Matrix accounts are registered only when a password login fails (and
never for users with "matrix_account": false), the demo room is found by alias, and an
identity binding is written only when the profile does not carry it as it should.

Absences (PractitionerRole.notAvailable) are days relative to the day of seeding, so each
`up` writes them anew when the date moved on: a directory that held yesterday's dates no
longer holds exactly the demo data, and is seeded again.
"""
import datetime
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
UZI = "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers"  # the default; a user may use the older .../uzi
MATRIX_CONN = {"system": "http://kring.example/fhir/CodeSystem/endpoint-connection-type", "code": "matrix",
               "display": "Matrix homeserver (client-server API)"}
FHIR_REST = {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type", "code": "hl7-fhir-rest"}
# NL Generic Functions IG: an LRZa Endpoint that points at an organisation's mCSD directory.
MCSD_PAYLOAD = {"system": "http://nuts-foundation.github.io/nl-generic-functions-ig/CodeSystem/nl-gf-data-exchange-capabilities",
                "code": "http://nuts-foundation.github.io/nl-generic-functions-ig/CapabilityStatement/nl-gf-admin-directory-update-client",
                "display": "Care Services Directory for Update Client"}
# The other way an LRZa Endpoint says "mCSD directory" (nuts-knooppunt's LRZa regression fixture).
MCSD_CONN = {"system": "http://fhir.nl/fhir/NamingSystem/endpoint-connection-type", "code": "mcsd-directory"}
NO_PAYLOAD = {"system": "http://terminology.hl7.org/CodeSystem/endpoint-payload-type", "code": "none", "display": "None"}

_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy
BINDING = "nl.kring.practitioner"  # the identity binding, a custom profile field (MSC4133)
try:
    from zoneinfo import ZoneInfo
    AMSTERDAM = ZoneInfo("Europe/Amsterdam")
except Exception:  # no tz database: winter time, as the demo data's examples
    AMSTERDAM = datetime.timezone(datetime.timedelta(hours=1))


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
    """The user's Matrix ID on their organisation's homeserver (None: the organisation has none).
    For a user without a Matrix account it is the ID the account will get."""
    hs = homeservers.get(user["org"])
    return f"@{user['localpart']}:{hs['server_name']}" if hs else None


def has_matrix_account(user, homeservers):
    return user.get("matrix_account", True) and user["org"] in homeservers


def directory_of(org):
    """Key of the mCSD directory that hosts an organisation (vendor B hosts org C's)."""
    return org.get("directory", org["key"])


def idp_accounts(demo):
    """IdP accounts: one per practitioner, carrying the same UZI/URA/role code as the directory,
    plus the IdP-only accounts. A claim the account lacks (ura) is left out, never null."""
    uras = {o["key"]: o["ura"] for o in demo["organisations"]}
    people = [{**u, "sub": f"{u['org']}-{u['uzi']}", "ura": uras[u["org"]]}
              for u in demo["users"] if u["kind"] == "practitioner"]
    people += [{**u, "sub": f"x-{u['uzi']}"} for u in demo.get("idp_only", [])]
    accounts = []
    for u in people:
        a = {"sub": u["sub"], "preferred_username": u["localpart"], "password": u["password"],
             "name": f"{u['given']} {u['family']}", "given_name": u["given"], "family_name": u["family"],
             "uzi": u["uzi"], "role_code": u["role_code"]}
        if u.get("ura"):
            a["ura"] = u["ura"]
        accounts.append(a)
    return accounts


# ---------------------------------------------------------------- FHIR directories

def seed_day():
    """Today in the Netherlands: the day the demo absences are counted from."""
    return datetime.datetime.now(AMSTERDAM).date()


def local_time(day, hour, minute, second):
    """An RFC 3339 time on that day in Europe/Amsterdam, with that day's own offset
    (e.g. 2026-12-06T23:59:59+01:00), so the date a reader shows is the date meant."""
    return datetime.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=AMSTERDAM).isoformat()


def not_available(user, today):
    """PractitionerRole.notAvailable from the user's demo absences (days from today):
    from 00:00:00 on the first day to 23:59:59 on the last, in Dutch local time."""
    out = []
    for a in user.get("absences", []):
        start = today + datetime.timedelta(days=a["start_days"])
        end = today + datetime.timedelta(days=a["end_days"])
        out.append({"description": a["description"],
                    "during": {"start": local_time(start, 0, 0, 0), "end": local_time(end, 23, 59, 59)}})
    return out


def rid(directory, rtype, key):
    """Stable resource ids, so references and re-seeds agree across restarts."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://kring.example/stack/{directory}/{rtype}/{key}"))


def put(resource):
    return {"resource": resource, "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}}


def org_resource(org, oid, endpoints):
    r = {"resourceType": "Organization", "id": oid, "active": True,
         "identifier": [{"system": URA, "value": org["ura"]}],
         "type": [{"coding": [org["type"]]}], "name": org["name"],
         "telecom": [{"system": "phone", "value": org["phone"], "use": "work"}],
         "address": [org["address"]]}
    if endpoints:  # FHIR allows no empty arrays
        r["endpoint"] = [{"reference": f"Endpoint/{e}"} for e in endpoints]
    return r


def mxid_telecom(m):
    return {"system": "other", "value": m, "use": "work",
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/contactpoint-purpose",
                           "valueString": "matrix-messaging"}]}


def matrix_to_telecom(m):
    """The form of the NL Generic Functions IG example: a matrix.to URL, no purpose extension."""
    return {"system": "url", "value": f"https://matrix.to/#/{m}"}


def org_entries(demo, org, homeservers, d, today=None):
    """One organisation's resources in directory d: who works there, when they are away,
    and where their homeserver is. An organisation without a homeserver gets no Endpoint."""
    today = today or seed_day()
    k, hs = org["key"], homeservers.get(org["key"])
    # Ids of an organisation in its own directory keep their original names (stable across re-seeds).
    own = k == d
    oid = rid(d, "Organization", k)
    eid = rid(d, "Endpoint", "matrix" if own else f"{k}-matrix") if hs else None
    lid = rid(d, "Location", "main" if own else f"{k}-main")
    sid = rid(d, "HealthcareService", "main" if own else f"{k}-main")
    ref = lambda t, i: {"reference": f"{t}/{i}"}  # noqa: E731
    endpoints = [ref("Endpoint", eid)] if eid else []
    with_endpoints = lambda r: {**r, "endpoint": endpoints} if endpoints else r  # noqa: E731
    entries = [put(org_resource(org, oid, [eid] if eid else []))]
    if eid:
        entries.append(put({"resourceType": "Endpoint", "id": eid, "status": "active", "connectionType": MATRIX_CONN,
                            "name": f"Matrix homeserver {org['name']}", "managingOrganization": ref("Organization", oid),
                            "payloadType": [{"coding": [NO_PAYLOAD]}], "address": hs["base_url"]}))
    entries.append(put(with_endpoints({"resourceType": "Location", "id": lid, "status": "active", "name": org["location"],
                                       "address": org["address"], "managingOrganization": ref("Organization", oid)})))
    entries.append(put(with_endpoints({"resourceType": "HealthcareService", "id": sid, "active": True,
                                       "name": org["service"]["name"], "providedBy": ref("Organization", oid),
                                       "type": [{"coding": [org["service"]["type"]]}],
                                       "location": [ref("Location", lid)]})))
    for u in demo["users"]:
        if u["org"] != k or u["kind"] != "practitioner":
            continue
        shape = u.get("directory", {})
        mode = shape.get("mxid", "telecom")
        pid, prid, m = rid(d, "Practitioner", u["key"]), rid(d, "PractitionerRole", u["key"]), mxid(u, homeservers)
        name = {"use": "official", "text": u["display_name"], "family": u["family"], "given": [u["given"]]}
        if u.get("prefix"):
            name["prefix"] = [u["prefix"]]
        practitioner = {"resourceType": "Practitioner", "id": pid, "active": True,
                        "identifier": [{"system": shape.get("uzi_system", UZI), "value": u["uzi"]}], "name": [name]}
        role = {"resourceType": "PractitionerRole", "id": prid, "active": True,
                "practitioner": {**ref("Practitioner", pid), "display": u["display_name"]},
                "organization": {**ref("Organization", oid), "display": org["name"]},
                "code": [{"coding": [{"system": demo["role_code_system"], "code": u["role_code"],
                                      "display": u["role_display"]}]}],
                "location": [ref("Location", lid)], "healthcareService": [ref("HealthcareService", sid)]}
        if endpoints and shape.get("role_endpoint", True):
            role["endpoint"] = endpoints
        absences = not_available(u, today)
        if absences:  # FHIR allows no empty arrays
            role["notAvailable"] = absences
        if m and mode in ("telecom", "matrix.to"):  # no homeserver, no MXID
            practitioner["telecom"] = [mxid_telecom(m)]
            role["telecom"] = [mxid_telecom(m) if mode == "telecom" else matrix_to_telecom(m)]
        entries += [put(practitioner), put(role)]
    return entries


def org_directory_bundle(demo, d, homeservers, today=None):
    """The mCSD directory d: every organisation it hosts (vendor B also hosts org C's)."""
    entries = []
    for org in demo["organisations"]:
        if directory_of(org) == d:
            entries += org_entries(demo, org, homeservers, d, today)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def lrza_bundle(demo, directories):
    """The national address register: per URA, where that organisation's mCSD directory lives.
    Organisation A's Endpoint says so with the NL-GF payloadType, B's with the connectionType
    mcsd-directory; organisation C is not in the LRZa at all (only in Nuts discovery)."""
    entries = []
    for org in demo["organisations"]:
        if not org.get("lrza", True):
            continue
        oid, eid = rid("lrza", "Organization", org["key"]), rid("lrza", "Endpoint", org["key"])
        if org.get("lrza_coding", "payload") == "connection":
            connection, payload = MCSD_CONN, NO_PAYLOAD
        else:
            connection, payload = FHIR_REST, MCSD_PAYLOAD
        entries.append(put(org_resource(org, oid, [eid])))
        entries.append(put({"resourceType": "Endpoint", "id": eid, "status": "active", "connectionType": connection,
                            "name": f"mCSD directory {org['name']}",
                            "managingOrganization": {"reference": f"Organization/{oid}"},
                            "payloadType": [{"coding": [payload]}],
                            "payloadMimeType": ["application/fhir+json"],
                            "address": directories[directory_of(org)]}))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _holds(base, resources):
    """Whether the directory holds exactly these resources (server-added meta aside)."""
    by_type = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    for rtype, want in by_type.items():
        q = urllib.parse.urlencode({"_id": ",".join(r["id"] for r in want), "_count": 1000})
        found = must(call("GET", f"{base}/{rtype}?{q}"))
        have = {e["resource"]["id"]: {k: v for k, v in e["resource"].items() if k != "meta"}
                for e in found.get("entry", [])}
        if any(have.get(r["id"]) != r for r in want):
            return False
    return True


def seed_directory(base, bundle):
    """PUTs the bundle's resources (stable ids) unless the directory already holds them as they are."""
    if _holds(base, [e["resource"] for e in bundle["entry"]]):
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


def identity_binding(demo, user, directories):
    """The identity binding Kring publishes at a practitioner's first login (issue #4): their
    own Practitioner and PractitionerRole in their organisation's directory."""
    org = next(o for o in demo["organisations"] if o["key"] == user["org"])
    d = directory_of(org)
    base = directories[d]
    return {"uzi": user["uzi"], "ura": org["ura"], "role_codes": [user["role_code"]],
            "practitioner": f"{base}/Practitioner/{rid(d, 'Practitioner', user['key'])}",
            "practitioner_role": f"{base}/PractitionerRole/{rid(d, 'PractitionerRole', user['key'])}",
            "organization": org["name"]}


def ensure_binding(hs, user_id, token, binding):
    """Writes the binding on the user's profile (stable v3 path) unless it is there already."""
    url = cs(hs, f"/profile/{q(user_id)}/{BINDING}")
    status, body = call("GET", url, token=token)
    if status == 200 and isinstance(body, dict) and body.get(BINDING) == binding:
        return False
    must(call("PUT", url, {BINDING: binding}, token))
    return True


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

    t, today = time.monotonic(), seed_day()
    if seed_directory(directories["lrza"], lrza_bundle(demo, directories)):
        log("  seeded directory lrza")
    for d in sorted({directory_of(o) for o in orgs.values()}):
        if seed_directory(directories[d], org_directory_bundle(demo, d, homeservers, today)):
            log(f"  seeded directory {d}")
    log(f"  directories ready ({time.monotonic() - t:.2f}s)")

    t = time.monotonic()
    tokens = {}
    for u in demo["users"]:
        if not has_matrix_account(u, homeservers):
            continue  # e.g. noor.bakker: her own-vendor homeserver makes the account on her first SSO login
        tokens[u["key"]], created = ensure_user(homeservers[u["org"]], u)
        if created:
            log(f"  registered {mxid(u, homeservers)}")
    room_id = ensure_demo_room(demo, homeservers, tokens, by_key)
    # The practitioners with an account have onboarded, as far as anyone else can tell.
    for key, token in tokens.items():
        u = by_key[key]
        if u["kind"] == "practitioner" and ensure_binding(homeservers[u["org"]], mxid(u, homeservers), token,
                                                          identity_binding(demo, u, directories)):
            log(f"  published the identity binding of {mxid(u, homeservers)}")
    for key, token in tokens.items():  # leave no seeder devices behind
        call("POST", cs(homeservers[by_key[key]["org"]], "/logout"), {}, token)
    log(f"  matrix accounts and demo room ready ({time.monotonic() - t:.2f}s)")

    return {
        "users": [{"key": u["key"], "org": u["org"], "mxid": mxid(u, homeservers), "localpart": u["localpart"],
                   "password": u["password"], "display_name": u["display_name"], "uzi": u.get("uzi"),
                   "role_code": u.get("role_code"), "kind": u["kind"],
                   "matrix_account": has_matrix_account(u, homeservers),
                   "directory": directory_of(orgs[u["org"]])} for u in demo["users"]],
        "idp_only_users": [{"key": u["key"], "localpart": u["localpart"], "password": u["password"],
                            "display_name": f"{u['given']} {u['family']}", "uzi": u["uzi"], "ura": u.get("ura"),
                            "role_code": u["role_code"]} for u in demo.get("idp_only", [])],
        "organisations": [{"key": o["key"], "name": o["name"], "ura": o["ura"], "directory": directory_of(o),
                           "homeserver": o["key"] if o["key"] in homeservers else None,
                           "lrza": o.get("lrza", True), "nuts": o.get("nuts", False)}
                          for o in demo["organisations"]],
        "demo_room_id": room_id,
        "clients": [{"key": c["key"], "display_name": c["display_name"], "pseudo_bsn": c["pseudo_bsn"],
                     "care_team": c["care_team"], "lead": c["lead"]} for c in demo["clients"]],
    }
