"""The care network of a client (UC1, issue #5) through the CLI, against the real stack: who is
in a client's care team, with their function and organisation from their own organisation's
mCSD directory (found through the identity binding on their Matrix profile), their relation
(related persons), and their absences (PractitionerRole.notAvailable).

  kring-cli --json care-team network --space S [--refresh] [--config onboarding.json]
  kring-cli --json care-team invite --space S --user U --role related_person --relation mantelzorger
  kring-cli --json directory search [--name X] [--role Y] [--organisation Z] [--config onboarding.json]

Every expectation is read from the servers with plain HTTP (profiles, room state, the FHIR
directories), never from Kring alone. Two tests take directory B away (stopped, or hanging
with SIGSTOP) and always bring it back.
"""
import json
import os
import signal
import subprocess
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from conftest import REPO, TARGET
from test_care_team_cli import wait_for
from test_cli import cli  # noqa: F401  (fixture)

BINDING = "nl.kring.practitioner"
RELATION = "nl.kring.relation"
# A command that asks directories must come back even when one never answers (5 s timeout per
# directory). This bounds "did not hang", with room for the sync; it is not a speed test.
NO_HANG = 20


def person(stack, key):
    u = next((u for u in stack["users"] if u["key"] == key), None)
    assert u, f"stack.json has no user {key!r}: restart the stack with the current seed"
    return u


def instant(value):
    """An RFC 3339 time as an aware datetime (Kring may write it in another offset or as Z)."""
    assert isinstance(value, str), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# ---------------------------------------------------------------- the directories, read by the test

def directory_view(reader, mxid):
    """What the person's own directory says, found the way anyone can: the binding on their
    profile (read by `reader`, over federation for a remote user), then the resources."""
    binding = reader.get(f"/profile/{mxid}/{BINDING}")[BINDING]
    role_url = binding["practitioner_role"]
    base = role_url.rsplit("/PractitionerRole/", 1)[0]
    role = requests.get(role_url, timeout=10).json()
    practitioner = requests.get(binding["practitioner"], timeout=10).json()
    organization = requests.get(f"{base}/{role['organization']['reference']}", timeout=10).json()
    return {"directory": base, "role_url": role_url, "role": role,
            "name": practitioner["name"][0]["text"],
            "function": role["code"][0]["coding"][0]["display"],
            "organisation": organization["name"],
            "absences": role.get("notAvailable", [])}


def absence_periods(absences):
    """(description, start, end) of FHIR notAvailable entries or of Kring's absences."""
    out = []
    for a in absences:
        during = a.get("during", a)
        out.append((a.get("description"), instant(during["start"]), instant(during["end"])))
    return sorted(out, key=lambda p: p[1])


def put_role(url, role):
    body = {k: v for k, v in role.items() if k != "meta"}
    r = requests.put(url, data=json.dumps(body), headers={"Content-Type": "application/fhir+json"}, timeout=10)
    assert r.status_code in (200, 201), r.text
    return r.json()


# ---------------------------------------------------------------- Kring

class Network:
    """One `care-team network` document, with the CLI's stderr for failure messages."""

    def __init__(self, doc, stderr):
        self.doc, self.stderr = doc, stderr

    def why(self):
        return f"\n--- document\n{json.dumps(self.doc, indent=1, ensure_ascii=False)}\n--- stderr\n{self.stderr}"

    def ids(self):
        return {p["userId"] for p in self.doc["participants"]}

    def __getitem__(self, mxid):
        found = [p for p in self.doc["participants"] if p["userId"] == mxid]
        assert len(found) == 1, f"{mxid} listed {len(found)} times{self.why()}"
        return found[0]


def network(stack, c, space, refresh=False, timeout=90):
    args = ["care-team", "network", "--space", space, "--config", stack["onboarding_config"]]
    if refresh:
        args.append("--refresh")
    try:
        p = c.run(*args, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"`{' '.join(args)}` did not return within {timeout} s: it hangs on a directory"
                             f"\n--- stderr\n{e.stderr}") from None
    assert p.returncode == 0, f"`{' '.join(args)}` failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    net = Network(json.loads(p.stdout.strip().splitlines()[-1]), p.stderr)
    assert net.doc["spaceId"] == space, net.why()
    for key in ("participants", "stale", "unreachableDirectories"):
        assert key in net.doc, f"no {key!r}{net.why()}"
    return net


def search(stack, c, *args):
    p = c.run("directory", "search", "--config", stack["onboarding_config"], *args, check=False)
    assert p.returncode == 0, f"directory search {args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    found = json.loads(p.stdout.strip().splitlines()[-1])
    assert isinstance(found, list), p.stdout
    return found, p.stderr


def care_team(stack, cli, lead_u, members, tag, bsn=None):
    """A new care team led by lead_u; members = [(user, role, relation)], each accepting in
    their own Kring. Returns the lead's CLI, the space and the members' CLIs."""
    lead = cli(f"{tag}-lead")
    lead.login(stack, lead_u)
    bsn = bsn or "9" + str(uuid.uuid4().int)[:10]
    space = lead.json("care-team", "create", "--client-name", f"Dhr. K. Netwerk {tag}", "--pseudo-bsn", bsn)["spaceId"]
    for u, role, relation in members:
        args = ["care-team", "invite", "--space", space, "--user", u["mxid"], "--role", role]
        if relation:
            args += ["--relation", relation]
        lead.json(*args)
    clis = {}
    for u, _, _ in members:
        c = clis[u["mxid"]] = cli(f"{tag}-{u['localpart']}")
        c.login(stack, u)
        # A remote invite travels over federation first.
        wait_for(f"the invite at {u['mxid']}", lambda: [i for i in c.json("care-team", "invites") if i["spaceId"] == space])
        c.json("care-team", "accept", "--space", space)
    want = {lead_u["mxid"]} | {u["mxid"] for u, _, _ in members}

    def all_joined():
        got = {m["userId"]: m["joined"] for m in lead.json("care-team", "members", "--space", space)}
        return set(got) == want and all(got.values())
    wait_for("every member joined, as the lead sees it", all_joined, timeout=60)
    return lead, space, clis


def assert_practitioner(net, u, view, role, now=None):
    """A practitioner as the directory has them: function, organisation, absences, away now."""
    p = net[u["mxid"]]
    who = f"{u['key']}: {p}{net.why()}"
    assert (p["kind"], p["role"], p["joined"]) == ("practitioner", role, True), who
    assert p["name"] == view["name"], who
    assert p["function"] == view["function"] and p["organisation"] == view["organisation"], who
    assert p["relation"] is None, who
    now = now or datetime.now(timezone.utc)
    want = absence_periods(view["absences"])
    assert absence_periods(p["absences"]) == want, who
    for a in p["absences"]:
        assert a["current"] == (instant(a["start"]) <= now <= instant(a["end"])), who
    assert p["awayNow"] == any(start <= now <= end for _, start, end in want), who
    return p


def assert_fresh(net, mxid):
    p = net[mxid]
    assert p["stale"] is False, f"{mxid} stale although its directory answered{net.why()}"
    checked = instant(p["checkedAt"])
    assert checked.tzinfo is not None and abs(datetime.now(timezone.utc) - checked) < timedelta(minutes=5), net.why()
    return checked


# ---------------------------------------------------------------- a. two organisations, one network

def test_network_of_a_client_spans_both_organisations(stack, cli, matrix_as):
    eva, sanne, karim = person(stack, "a-lead"), person(stack, "a-nurse"), person(stack, "b-gp")
    marieke = person(stack, "a-caregiver")
    lead, space, _ = care_team(stack, cli, eva, [(sanne, "practitioner", None), (karim, "practitioner", None),
                                                 (marieke, "related_person", "mantelzorger")], "net-a")

    # The relation is shared state of the space, one event per person (checked without Kring). Its
    # state key names the person but cannot be the bare user ID: the auth rules let only the user
    # themself set state under a key that starts with "@".
    m = matrix_as(eva)
    relations = [e for e in m.get(f"/rooms/{space}/state") if e["type"] == RELATION]
    assert [(e["state_key"], e["content"]) for e in relations] == [(f"relation:{marieke['mxid']}",
                                                                    {"relation": "mantelzorger"})], relations

    net = network(stack, lead, space, refresh=True)
    assert net.ids() == {eva["mxid"], sanne["mxid"], karim["mxid"], marieke["mxid"]}, net.why()
    assert net.doc["stale"] is False and net.doc["unreachableDirectories"] == [], net.why()

    # Each practitioner's details come from their own organisation's directory: two directories.
    views = {u["key"]: directory_view(m, u["mxid"]) for u in (eva, sanne, karim)}
    assert {v["directory"] for v in views.values()} == {stack["directories"]["a"], stack["directories"]["b"]}
    now = datetime.now(timezone.utc)
    assert_practitioner(net, eva, views["a-lead"], "lead", now)
    s = assert_practitioner(net, sanne, views["a-nurse"], "practitioner", now)
    k = assert_practitioner(net, karim, views["b-gp"], "practitioner", now)
    assert (views["a-lead"]["function"], views["a-nurse"]["function"], views["b-gp"]["function"]) == \
        ("Klinisch geriater", "Verpleegkundige", "Huisarts"), "the seeded roles changed"
    assert (s["organisation"], k["organisation"]) == ("Ziekenhuis Aurora", "Huisartsenpraktijk Bosrand"), net.why()

    # Karim is on holiday now; Sanne has a course ahead of her, and is here.
    assert k["awayNow"] is True, net.why()
    [holiday] = k["absences"]
    assert holiday["description"] == "Vakantie" and holiday["current"] is True, net.why()
    assert s["awayNow"] is False, net.why()
    [course] = s["absences"]
    assert course["description"] == "Cursus" and course["current"] is False and instant(course["start"]) > now, net.why()

    # The mantelzorger: a relation, no function, no organisation, no directory.
    mk = net[marieke["mxid"]]
    assert (mk["kind"], mk["role"], mk["joined"], mk["relation"]) == ("related_person", "related_person", True,
                                                                     "mantelzorger"), net.why()
    assert (mk["function"], mk["organisation"], mk["absences"], mk["awayNow"], mk["stale"]) == \
        (None, None, [], False, False), net.why()
    assert mk["checkedAt"] is None, f"no directory was asked about a related person{net.why()}"

    checked = {u["mxid"]: assert_fresh(net, u["mxid"]) for u in (eva, sanne, karim)}

    # Without --refresh, the same network from Kring's cache.
    cached = network(stack, lead, space)
    for u in (eva, sanne, karim, marieke):
        fresh, kept = net[u["mxid"]], cached[u["mxid"]]
        for key in ("name", "role", "kind", "function", "organisation", "relation", "awayNow", "stale"):
            assert kept[key] == fresh[key], f"{u['key']}.{key} from the cache{cached.why()}"
        assert absence_periods(kept["absences"]) == absence_periods(fresh["absences"]), cached.why()
        if u["mxid"] in checked:
            assert instant(kept["checkedAt"]) == checked[u["mxid"]], f"a cached read is no new check{cached.why()}"


# ---------------------------------------------------------------- b. an absence added in the directory

def test_an_absence_added_in_the_directory_shows_after_a_refresh(stack, cli, matrix_as):
    eva, ruben = person(stack, "a-lead"), person(stack, "a-internist")
    lead, space, _ = care_team(stack, cli, eva, [(ruben, "practitioner", None)], "net-b")
    net = network(stack, lead, space, refresh=True)
    before = net[ruben["mxid"]]
    assert before["awayNow"] is False and before["absences"] == [], net.why()

    view = directory_view(matrix_as(eva), ruben["mxid"])
    original = view["role"]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    sick = {"description": "Ziek", "during": {"start": (now - timedelta(hours=2)).isoformat(),
                                              "end": (now + timedelta(days=3)).isoformat()}}
    try:
        put_role(view["role_url"], {**original, "notAvailable": [sick]})
        assert requests.get(view["role_url"], timeout=10).json()["notAvailable"] == [sick]

        # From the cache: still the state of the last refresh.
        cached = network(stack, lead, space)[ruben["mxid"]]
        assert cached["awayNow"] is False and cached["absences"] == [], cached

        after = network(stack, lead, space, refresh=True)
        r = after[ruben["mxid"]]
        assert r["awayNow"] is True and r["stale"] is False, after.why()
        [absence] = r["absences"]
        assert absence["description"] == "Ziek" and absence["current"] is True, after.why()
        assert (instant(absence["start"]), instant(absence["end"])) == (instant(sick["during"]["start"]),
                                                                       instant(sick["during"]["end"])), after.why()
        assert instant(r["checkedAt"]) > instant(before["checkedAt"]), after.why()
    finally:
        put_role(view["role_url"], original)
    assert "notAvailable" not in requests.get(view["role_url"], timeout=10).json()


# ---------------------------------------------------------------- c. a directory that is away

def stack_dir(stack):
    if stack.get("stack_dir"):
        return Path(stack["stack_dir"])
    return Path(os.environ.get("KRING_STACK_JSON", TARGET / "stack" / "stack.json")).parent


def directory_pid(stack, name):
    """The PID of the stack's directory service (pidfile: pid, then its command line)."""
    pidfile = stack_dir(stack) / "run" / f"{name}.pid"
    assert pidfile.exists(), f"{pidfile} missing: is the stack running?"
    lines = pidfile.read_text().split("\n")
    pid = int(lines[0])
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0")[:-1]]
    assert argv == json.loads(lines[1]), f"pid {pid} is not the stack's {name}: {argv}"
    return pid


def answers(base):
    try:
        return requests.get(f"{base}/Organization?_count=1", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def bring_back_the_stack(stack):
    """`stackctl up` restarts what is not running and re-seeds the in-memory directory."""
    port_base = stack.get("port_base") or int(stack["homeservers"]["a"]["base_url"].rsplit(":", 1)[1]) - 1
    env = dict(os.environ, KRING_STACK_PORT_BASE=str(port_base), KRING_STACK_DIR=str(stack_dir(stack)))
    p = subprocess.run([str(REPO / "tests" / "stack" / "stackctl"), "up"], env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, f"stackctl up failed:\n{p.stdout}\n{p.stderr}"


@pytest.mark.parametrize("outage", ["stopped", "hanging"])
def test_an_unreachable_directory_leaves_the_cached_network_marked_stale(stack, cli, outage):
    """Directory B stopped (connection refused) or hanging (SIGSTOP: it accepts, never answers)."""
    eva, sanne, karim = person(stack, "a-lead"), person(stack, "a-nurse"), person(stack, "b-gp")
    lead, space, _ = care_team(stack, cli, eva, [(sanne, "practitioner", None), (karim, "practitioner", None)],
                               f"net-c-{outage}")
    first = network(stack, lead, space, refresh=True)
    cached_karim = first[karim["mxid"]]
    assert cached_karim["function"] and cached_karim["awayNow"] is True, first.why()
    karim_checked = assert_fresh(first, karim["mxid"])
    dir_b = stack["directories"]["b"]

    pid = directory_pid(stack, "dir-b")
    try:
        if outage == "stopped":
            os.kill(pid, signal.SIGTERM)
            wait_for("directory B to stop", lambda: not answers(dir_b), timeout=15)
        else:
            os.kill(pid, signal.SIGSTOP)

        net = network(stack, lead, space, refresh=True, timeout=NO_HANG)
        k = net[karim["mxid"]]
        for key in ("name", "function", "organisation", "awayNow"):
            assert k[key] == cached_karim[key], f"karim's cached {key} must stay visible{net.why()}"
        assert absence_periods(k["absences"]) == absence_periods(cached_karim["absences"]), net.why()
        assert k["stale"] is True, net.why()
        assert instant(k["checkedAt"]) == karim_checked, f"checkedAt is when B last answered{net.why()}"
        assert net.doc["stale"] is True, net.why()
        assert [d.rstrip("/") for d in net.doc["unreachableDirectories"]] == [dir_b], net.why()
        for u in (eva, sanne):  # directory A answered
            assert_fresh(net, u["mxid"])

        # The cache remembers it: a plain read (no directory asked) still says "possibly out of date".
        again = network(stack, lead, space, timeout=NO_HANG)
        assert again[karim["mxid"]]["stale"] is True and again[karim["mxid"]]["function"] == cached_karim["function"], \
            again.why()
        assert again.doc["stale"] is True and again[sanne["mxid"]]["stale"] is False, again.why()
    finally:
        if outage == "stopped":
            bring_back_the_stack(stack)
        else:
            os.kill(pid, signal.SIGCONT)
    assert answers(dir_b), "directory B is not back"

    # Back again: the next refresh clears the mark.
    back = network(stack, lead, space, refresh=True)
    assert back.doc["stale"] is False and back.doc["unreachableDirectories"] == [], back.why()
    assert assert_fresh(back, karim["mxid"]) > karim_checked, back.why()
    assert back[karim["mxid"]]["function"] == cached_karim["function"], back.why()


# ---------------------------------------------------------------- d. searching the directories

def test_directory_search_by_name_role_and_organisation(stack, cli, matrix_as):
    eva, karim, lotte = person(stack, "a-lead"), person(stack, "b-gp"), person(stack, "b-nurse")
    c = cli("net-search")
    c.login(stack, eva)
    # Kring learns directory B from a binding it reads (the config names only the vendor's own A).
    c.json("identity", "--user", karim["mxid"])
    m = matrix_as(eva)

    found, err = search(stack, c, "--name", "Jansen")
    assert found and all("jansen" in f["name"].lower() for f in found), (found, err)
    hits = [f for f in found if f["userId"] == lotte["mxid"]]
    assert len(hits) == 1, f"lotte found {len(hits)} times: {found}\n{err}"
    hit = hits[0]
    view = directory_view(m, lotte["mxid"])
    assert (hit["name"], hit["function"], hit["organisation"]) == (view["name"], view["function"], view["organisation"])
    assert hit["organisation"] == "Huisartsenpraktijk Bosrand" and hit["directory"].rstrip("/") == stack["directories"]["b"]
    assert hit["awayNow"] is False and hit["absences"] == [], hit

    found, err = search(stack, c, "--organisation", "Aurora")
    assert found and {f["organisation"] for f in found} == {"Ziekenhuis Aurora"}, (found, err)
    # Everyone directory A lists (read there directly), with the MXID where it publishes one.
    listed = requests.get(f"{stack['directories']['a']}/Practitioner", params={"_count": 100}, timeout=10).json()
    assert {f["name"] for f in found} == {e["resource"]["name"][0]["text"] for e in listed["entry"]}, (found, err)
    assert [f["userId"] for f in found if f["name"] == eva["display_name"]] == [eva["mxid"]], found

    found, err = search(stack, c, "--role", "Huisarts")
    assert found and {f["function"] for f in found} == {"Huisarts"}, (found, err)
    [k] = [f for f in found if f["userId"] == karim["mxid"]]
    assert k["organisation"] == "Huisartsenpraktijk Bosrand" and k["awayNow"] is True, k
    assert [a["description"] for a in k["absences"] if a["current"]] == ["Vakantie"], k

    assert search(stack, c, "--name", f"Niemand{uuid.uuid4().hex[:6]}")[0] == []


# ---------------------------------------------------------------- e. bad input

def test_network_of_a_space_that_is_no_care_team(stack, cli):
    c = cli("net-bad")
    c.login(stack, person(stack, "a-lead"))
    assert c.error("care-team", "network", "--space", "!nope:x")["code"] in ("not_a_care_team", "unknown_room")
    # A room this account is in, but no care team of a client on this device.
    assert c.error("care-team", "network", "--space", stack["demo_room_id"])["code"] in ("not_a_care_team",
                                                                                         "unknown_room")
