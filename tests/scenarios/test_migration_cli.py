"""Vendor migration (UC4, issue 16) from the CLI, on three real homeservers: A is the old vendor
of Ziekenhuis Aurora, N the new one (homeserver "C" of the issue; "c" names the pharmacy in the
demo data), B the other organisation in the same care teams. A's directory names the
practitioner's new MXID; the identity services of A and N vouch for the same UZI, URA and role.

The mover is Joost Verhuizer, an IdP account of Aurora (`x-mover` in demo.json). Each test makes
his accounts on A and N afresh and writes his directory entries itself, and takes them away
again: the directory and both identity services are as before when it ends.
"""
import json
import sys
import time
import uuid

import pytest
import requests

from conftest import REPO, fresh_user, user
from test_cli import cli  # noqa: F401  (fixture)
from test_care_team_cli import wait_for

sys.path.insert(0, str(REPO / "tests" / "stack" / "seed"))
import seed  # noqa: E402

PY = sys.executable
BROWSER = f"{PY} {REPO / 'tests' / 'support' / 'idp_browser.py'}"
ROLE_SYSTEM = "http://fhir.nl/fhir/NamingSystem/uzi-rolcode"


def mover(stack):
    return next(u for u in stack["idp_only_users"] if u["key"] == "x-mover")


def bind(c, stack, person, tmp_path):
    """Binds what the organisation IdP vouches for about `person` to c's account."""
    c.env.update(KRING_TEST_IDP_USER=person["localpart"], KRING_TEST_IDP_PASSWORD=person["password"],
                 KRING_TEST_BROWSER_LOG=str(tmp_path / f"browser-{c.env['KRING_PROFILE']}.log"))
    return c.json("identity-service", "bind", "--config", stack["onboarding_config"], "--browser", BROWSER,
                  timeout=120)["bound"]


class Directory:
    """The mover's Practitioner and PractitionerRole in A's directory."""

    def __init__(self, stack, person):
        self.base, self.person = stack["directories"]["a"], person
        self.pid = seed.rid("a", "Practitioner", "x-mover")
        self.prid = seed.rid("a", "PractitionerRole", "x-mover")

    def lists(self, *mxids):
        p = self.person
        practitioner = {"resourceType": "Practitioner", "id": self.pid, "active": True,
                        "identifier": [{"system": seed.UZI, "value": p["uzi"]}],
                        "name": [{"use": "official", "text": p["display_name"], "family": "Verhuizer",
                                  "given": ["Joost"]}]}
        role = {"resourceType": "PractitionerRole", "id": self.prid, "active": True,
                "practitioner": {"reference": f"Practitioner/{self.pid}"},
                "organization": {"reference": f"Organization/{seed.rid('a', 'Organization', 'a')}"},
                "code": [{"coding": [{"system": ROLE_SYSTEM, "code": p["role_code"], "display": "Internist"}]}]}
        if mxids:
            role["telecom"] = [seed.mxid_telecom(m) for m in mxids]
        bundle = {"resourceType": "Bundle", "type": "transaction",
                  "entry": [seed.put(practitioner), seed.put(role)]}
        seed.must(seed.call("POST", self.base, bundle, content_type="application/fhir+json"))

    def remove(self):
        for path in (f"PractitionerRole/{self.prid}", f"Practitioner/{self.pid}"):
            seed.call("DELETE", f"{self.base}/{path}")


@pytest.fixture
def moving(stack, cli, tmp_path):
    """Joost's old account at A and new one at N, both bound; his directory entry; cleaned up after."""
    person = mover(stack)
    old_u, new_u = fresh_user(stack, "a", "joost"), fresh_user(stack, "n", "joost")
    old, new = cli("mv-old"), cli("mv-new")
    old.login(stack, old_u)
    new.login(stack, new_u)
    directory = Directory(stack, person)
    yield person, old_u, new_u, old, new, directory
    directory.remove()
    for c in (old, new):  # whatever is still bound (the old one unbinds itself when it goes)
        c.run("identity-service", "unbind", check=False)


def member_state(stack, reader, room_id, mxid):
    try:
        return reader.get(f"/rooms/{room_id}/state/m.room.member/{mxid}").get("membership")
    except requests.HTTPError:
        return None


def levels(reader, room_id):
    return reader.get(f"/rooms/{room_id}/state/m.room.power_levels/")["users"]


def test_a_practitioner_moves_to_the_new_vendor_with_every_care_team(stack, cli, matrix_as, moving, tmp_path):
    person, old_u, new_u, old, new, directory = moving
    karim, sanne = user(stack, "b", 0), user(stack, "a", 1)
    gp, nurse = cli("mv-karim"), cli("mv-sanne")
    gp.login(stack, karim)
    nurse.login(stack, sanne)
    assert bind(old, stack, person, tmp_path)["uzi"] == person["uzi"]
    assert bind(new, stack, person, tmp_path)["uzi"] == person["uzi"]

    # Four care teams, five conversations; Karim (organisation B) in some of them.
    # Teams 3 and 4 are Sanne's: Joost is a senior (75) in 3, a practitioner (50) in 4.
    bsn = lambda: "9" + str(uuid.uuid4().int)[:10]  # noqa: E731
    t1 = old.json("care-team", "create", "--client-name", "Mevr. A. Verhuis", "--pseudo-bsn", bsn())["spaceId"]
    t2 = old.json("care-team", "create", "--client-name", "Dhr. B. Verhuis", "--pseudo-bsn", bsn())["spaceId"]
    t3 = nurse.json("care-team", "create", "--client-name", "Mevr. C. Verhuis", "--pseudo-bsn", bsn())["spaceId"]
    t4 = nurse.json("care-team", "create", "--client-name", "Dhr. D. Verhuis", "--pseudo-bsn", bsn())["spaceId"]
    old.json("care-team", "invite", "--space", t1, "--user", karim["mxid"], "--role", "practitioner")
    old.json("care-team", "invite", "--space", t2, "--user", sanne["mxid"], "--role", "practitioner")
    nurse.json("care-team", "invite", "--space", t3, "--user", old_u["mxid"], "--role", "senior")
    nurse.json("care-team", "invite", "--space", t3, "--user", karim["mxid"], "--role", "practitioner")
    nurse.json("care-team", "invite", "--space", t4, "--user", old_u["mxid"], "--role", "practitioner")
    for c, space in ((gp, t1), (nurse, t2), (old, t3), (gp, t3), (old, t4)):
        wait_for(f"the invite to {space}", lambda: [i for i in c.json("care-team", "invites") if i["spaceId"] == space])
        c.json("care-team", "accept", "--space", space)

    def start(c, space, subject, to, body):
        return c.json("conversation", "start", "--space", space, "--subject", subject, "--to", to, body)["roomId"]
    rooms = {
        "c1a": start(old, t1, "Medicatie", karim["mxid"], "Eerste bericht over medicatie"),
        "c1b": start(old, t1, "Ontslag", karim["mxid"], "Ontslag gepland vrijdag"),
        "c2a": start(old, t2, "Wondzorg", sanne["mxid"], "Wond ziet er goed uit"),
        "c3a": start(nurse, t3, "Pijnbeleid", old_u["mxid"], "Pijnscore 6 vannacht"),
        "c3b": start(nurse, t3, "Voeding", karim["mxid"], "Eetlust matig"),
    }
    for key in ("c3a",):
        wait_for("Joost's invite to Sanne's conversation",
                 lambda: old.run("conversation", "join", "--room", rooms[key], check=False).returncode == 0)
    for key in ("c1a", "c1b"):
        wait_for("Karim's conversation invite",
                 lambda: gp.run("conversation", "join", "--room", rooms[key], check=False).returncode == 0)
    wait_for("Sanne's conversation invite",
             lambda: nurse.run("conversation", "join", "--room", rooms["c2a"], check=False).returncode == 0)
    expected = {t1, t2, t3, t4, rooms["c1a"], rooms["c1b"], rooms["c2a"], rooms["c3a"]}

    reader_new = matrix_as(new_u)
    reader_a = matrix_as(sanne)

    # Before the directory says anything: no move.
    directory.lists(old_u["mxid"])
    assert old.json("migrate", "plan", "--directory", stack["directories"]["a"])["newUserId"] is None

    # The transition: the directory names both the old and the new MXID.
    directory.lists(new_u["mxid"], old_u["mxid"])
    plan = old.json("migrate", "plan", "--directory", stack["directories"]["a"])
    assert plan["newUserId"] == new_u["mxid"] and plan["oldStillListed"] is True, plan
    assert plan["verification"]["verified"] is True, plan
    assert {r["roomId"] for r in plan["rooms"]} == expected, plan
    by_room = {r["roomId"]: r["level"] for r in plan["rooms"]}
    assert by_room[t1] == 100 and by_room[t3] == 75 and by_room[t4] == 50, plan
    # A dry run changes nothing: checked on the servers.
    dry = old.json("migrate", "run", "--dry-run", "--directory", stack["directories"]["a"])
    assert dry["newUserId"] == new_u["mxid"]
    assert all(member_state(stack, reader_a, room, new_u["mxid"]) is None for room in (t2, rooms["c2a"]))
    assert new.json("care-team", "invites") == []

    # Killed between a notice's send and its record: the rerun sends it again with the same
    # transaction id, and the homeserver keeps one (counted below).
    p = old.run("migrate", "run", "--directory", stack["directories"]["a"], "--abort-at", "notice_sent", check=False)
    assert p.returncode not in (0, 1, 2), f"the job was not killed after its first notice: {p.returncode} {p.stderr}"
    # Then killed right after each of its steps, and run again, until a run gets through:
    # 8 rooms of 3 steps each (level, invite, notice), less the first room's two done above.
    kills = 0
    while True:
        p = old.run("migrate", "run", "--directory", stack["directories"]["a"], "--abort-after", "1", check=False)
        if p.returncode == 0:
            break
        assert p.returncode not in (1, 2), f"the job failed instead of being killed: {p.returncode} {p.stderr}"
        kills += 1
        assert kills <= 30, "the job does not get further when run again"
    assert kills == 22, kills
    report = old.json("migrate", "status")[0]
    assert report["rooms"] == 8 and report["invited"] == 8 and report["failed"] == 0, report
    # At 50 Joost may invite but not set levels: the room says a lead must.
    assert report["levelPending"] == 1, report
    assert report["deactivated"] is False

    # At the new vendor: the invites are from Joost's own old identity; accepted.
    wait_for("all eight invites at N", lambda: len(reader_new.get("/sync", timeout=0)["rooms"].get("invite", {})) >= 8,
             timeout=60)
    accepted = new.json("migrate", "accept")
    assert set(accepted["accepted"]) == expected and accepted["refused"] == [], accepted
    teams = {t["spaceId"]: t["clientName"] for t in new.json("care-team", "list")}
    assert teams == {t1: "Mevr. A. Verhuis", t2: "Dhr. B. Verhuis", t3: "Mevr. C. Verhuis",
                     t4: "Dhr. D. Verhuis"}, teams

    # The same levels, once each; the history readable; one notice per room, also at B.
    for room, level in by_room.items():
        assert levels(reader_new, room).get(new_u["mxid"]) == (None if room == t4 else level), room
    for room, said in ((rooms["c1a"], "Eerste bericht over medicatie"), (rooms["c3a"], "Pijnscore 6 vannacht")):
        history = [json.loads(line) for line in new.run("tail", "--from-start", "--room", room).stdout.splitlines()]
        raw = [(e["type"], e.get("state_key")) for e in reader_new.get(f"/rooms/{room}/messages", dir="b", limit=50)["chunk"]]
        assert said in [h["content"].get("body") for h in history], (history, raw)
    seen_at_b = [json.loads(line) for line in gp.run("tail", "--room", rooms["c1a"]).stdout.splitlines()]
    notices = [s for s in seen_at_b if new_u["mxid"] in json.dumps(s) and "stapt over" in json.dumps(s)]
    assert len(notices) == 1, seen_at_b
    for room in expected:  # killed 23 times, and still one notice and one join per room
        seen = [json.loads(line) for line in new.run("tail", "--from-start", "--room", room).stdout.splitlines()]
        assert [json.dumps(x).count("stapt over") for x in seen].count(1) == 1, (room, seen)
        assert ("Regievoerder: geef het nieuwe account de rol practitioner (50)" in json.dumps(seen)) == (room == t4)
        chunk = reader_new.get(f"/rooms/{room}/messages", dir="b", limit=100)["chunk"]
        joins = [e for e in chunk if e["type"] == "m.room.member" and e["state_key"] == new_u["mxid"]
                 and e["content"]["membership"] == "join" and "nl.kring.invite_context_consumed" not in e["content"]]
        assert len(joins) == 1, (room, joins)

    # The directory still lists the old MXID: the old account stays.
    report = old.json("migrate", "run", "--deactivate", "--directory", stack["directories"]["a"],
                      input=old_u["password"] + "\n")
    assert report["accepted"] == 8 and report["deactivated"] is False, report
    assert any("directory" in b for b in report["blocked"]), report

    # Once the directory names only the new one, the old account goes, its binding with it.
    directory.lists(new_u["mxid"])
    report = old.json("migrate", "run", "--deactivate", "--directory", stack["directories"]["a"],
                      input=old_u["password"] + "\n")
    assert report["deactivated"] is True and report["state"] == "deactivated", report
    r = requests.post(f"{stack['homeservers']['a']['base_url']}/_matrix/client/v3/login", timeout=10, json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": old_u["localpart"]},
        "password": old_u["password"]})
    assert r.status_code == 403 and r.json()["errcode"] in ("M_USER_DEACTIVATED", "M_FORBIDDEN"), r.text
    looked_up = nurse.json("identity-service", "lookup", "--user", old_u["mxid"])
    assert looked_up["verified"] is None, looked_up
    kinds = [e["kind"] for e in new.json("audit")]
    assert kinds.count("accept_migration_invite") == 8, kinds


def test_a_move_to_an_account_of_someone_else_is_refused(stack, cli, moving, tmp_path):
    person, old_u, new_u, old, new, directory = moving
    stranger = next(u for u in stack["idp_only_users"] if u["key"] == "x-not-in-directory")
    bind(old, stack, person, tmp_path)
    bound = bind(new, stack, stranger, tmp_path)
    assert bound["uzi"] == stranger["uzi"]
    bsn = "9" + str(uuid.uuid4().int)[:10]
    space = old.json("care-team", "create", "--client-name", "Mevr. D. Weigering", "--pseudo-bsn", bsn)["spaceId"]
    directory.lists(new_u["mxid"])

    plan = old.json("migrate", "plan", "--directory", stack["directories"]["a"])
    assert plan["verification"]["verified"] is False and "UZI" in plan["verification"]["reason"], plan
    error = old.error("migrate", "run", "--directory", stack["directories"]["a"])
    assert error["code"] == "migration_refused", error
    # Nothing went out.
    time.sleep(1)
    assert new.json("care-team", "invites") == []
    assert old.json("migrate", "status")[0]["state"] == "refused"
    assert "migration_refused" in [e["kind"] for e in old.json("audit")]
    assert any(t["spaceId"] == space for t in old.json("care-team", "list"))


def test_the_only_lead_stays_until_the_new_account_leads_and_the_leads_are_told_after_the_timeout(
        stack, cli, moving, tmp_path):
    """Past the timeout with the invite unanswered: the care team gets its notice for the lead,
    once, and the old account stays, because it leads that team alone. Once the new account
    joined (at 100), the old one may go."""
    person, old_u, new_u, old, new, directory = moving
    bind(old, stack, person, tmp_path)
    bind(new, stack, person, tmp_path)
    bsn = "9" + str(uuid.uuid4().int)[:10]
    space = old.json("care-team", "create", "--client-name", "Mevr. E. Alleen", "--pseudo-bsn", bsn)["spaceId"]
    directory.lists(new_u["mxid"])
    args = ["migrate", "run", "--directory", stack["directories"]["a"], "--deactivate", "--timeout-days", "0"]
    report = old.json(*args, input=old_u["password"] + "\n")
    assert report["deactivated"] is False and report["leadsTold"] is True, report
    assert any("no other lead" in b for b in report["blocked"]), report
    report = old.json(*args, input=old_u["password"] + "\n")  # told once, not at every run
    seen = [json.loads(line) for line in old.run("tail", "--all", "--room", space).stdout.splitlines()]
    assert sum("is niet afgerond" in json.dumps(x) for x in seen) == 1, seen
    assert "migration_leads_told" in [e["kind"] for e in old.json("audit")]

    wait_for("the invite at N", lambda: new.json("migrate", "accept")["accepted"] == [space])
    report = old.json(*args, input=old_u["password"] + "\n")
    assert report["deactivated"] is True, report


def test_an_account_without_a_password_goes_with_the_vendors_admin_token(stack, cli, moving, tmp_path):
    """SSO-only accounts have no password for the homeserver's confirmation: the vendor's
    administrator gives a token for Synapse's admin API instead. Someone else's token is
    refused, and the account stays."""
    sys.path.insert(0, str(REPO / "tests" / "support"))
    import synapse_accounts

    person, old_u, new_u, old, new, directory = moving
    bind(old, stack, person, tmp_path)
    bind(new, stack, person, tmp_path)
    bsn = "9" + str(uuid.uuid4().int)[:10]
    space = old.json("care-team", "create", "--client-name", "Dhr. H. Beheer", "--pseudo-bsn", bsn)["spaceId"]
    directory.lists(new_u["mxid"])
    old.json("migrate", "run", "--directory", stack["directories"]["a"])
    wait_for("the invite at N", lambda: new.json("migrate", "accept")["accepted"] == [space])
    args = ["migrate", "run", "--directory", stack["directories"]["a"], "--deactivate", "--admin-token-stdin"]

    hs = stack["homeservers"]["a"]
    not_admin = synapse_accounts.register(hs, f"not-admin-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
    error = old.error(*args, input=not_admin["access_token"] + "\n")
    assert error["code"] == "not_permitted", error
    assert old.json("migrate", "status")[0]["deactivated"] is False

    admin = synapse_accounts.register(hs, f"vendor-admin-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex, admin=True)
    report = old.json(*args, input=admin["access_token"] + "\n")
    assert report["deactivated"] is True and report["state"] == "deactivated", report
    r = requests.post(f"{hs['base_url']}/_matrix/client/v3/login", timeout=10, json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": old_u["localpart"]},
        "password": old_u["password"]})
    assert r.status_code == 403 and r.json()["errcode"] in ("M_USER_DEACTIVATED", "M_FORBIDDEN"), r.text


def test_the_job_runs_as_a_service_that_notices_the_directory_change(stack, cli, moving, tmp_path):
    """`migrate run --watch`: idle while the directory names only the old MXID (asking only what
    changed), then the move as soon as it names the new one, and the end once the old account
    could go."""
    import queue
    import subprocess
    import threading

    person, old_u, new_u, old, new, directory = moving
    bind(old, stack, person, tmp_path)
    bind(new, stack, person, tmp_path)
    bsn = "9" + str(uuid.uuid4().int)[:10]
    space = old.json("care-team", "create", "--client-name", "Dhr. F. Dienst", "--pseudo-bsn", bsn)["spaceId"]
    directory.lists(old_u["mxid"])
    watch = subprocess.Popen([str(old.binary), "--json", "migrate", "run", "--directory", stack["directories"]["a"],
                              "--watch", "1", "--deactivate"], env=old.env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(json.loads(line)) for line in watch.stdout], daemon=True).start()
    try:
        watch.stdin.write(old_u["password"] + "\n")
        watch.stdin.close()
        time.sleep(4)
        assert lines.empty(), "nothing moved, so the service says nothing"
        directory.lists(new_u["mxid"])
        first = lines.get(timeout=60)
        assert first["newUserId"] == new_u["mxid"] and first["invited"] == 1 and not first["deactivated"], first
        wait_for("the invite at N", lambda: new.json("migrate", "accept")["accepted"] == [space])
        while True:
            report = lines.get(timeout=60)
            if report.get("deactivated"):
                break
        assert watch.wait(timeout=30) == 0, watch.stderr.read()
    finally:
        if watch.poll() is None:
            watch.kill()


def test_a_lead_moves_a_practitioner_whose_own_session_is_gone(stack, cli, matrix_as, moving, tmp_path):
    """001 §7's last way: Joost's device is gone, so Sanne, who leads his care team, moves him from
    her own Kring. Her device holds the room keys, so the history moves too. Before that, Karim
    (a practitioner, not a lead) sends a marked invite by hand: the new account joins, sees that
    Karim leads nothing there, and leaves again."""
    person, old_u, new_u, old, new, directory = moving
    # A lead of her own: the invite shares the history's keys only from a device its owner
    # verified (the SDK's identity-based sharing), and a first device is verified by itself.
    karim, sanne = user(stack, "b", 0), fresh_user(stack, "a", "sanne")
    gp, nurse = cli("ml-karim"), cli("ml-sanne")
    gp.login(stack, karim)
    nurse.login(stack, sanne)
    bind(old, stack, person, tmp_path)
    bind(new, stack, person, tmp_path)
    bsn = "9" + str(uuid.uuid4().int)[:10]
    space = nurse.json("care-team", "create", "--client-name", "Mevr. G. Leiding", "--pseudo-bsn", bsn)["spaceId"]
    nurse.json("care-team", "invite", "--space", space, "--user", old_u["mxid"], "--role", "senior")
    nurse.json("care-team", "invite", "--space", space, "--user", karim["mxid"], "--role", "practitioner")
    for c in (old, gp):
        wait_for("the care-team invite", lambda: [i for i in c.json("care-team", "invites") if i["spaceId"] == space])
        c.json("care-team", "accept", "--space", space)
    conv = nurse.json("conversation", "start", "--space", space, "--subject", "Pijn", "--to", old_u["mxid"],
                      "Pijnscore 4 vanochtend")["roomId"]
    wait_for("Joost's conversation invite",
             lambda: old.run("conversation", "join", "--room", conv, check=False).returncode == 0)
    reader_a = matrix_as(sanne)
    old_levels = {room: levels(reader_a, room).get(old_u["mxid"]) for room in (space, conv)}
    old.run("logout")  # the old session is gone
    try:
        # Karim's hand-made invite with the marker, in the care team he does not lead.
        karim_raw = matrix_as(karim)
        context = {"version": "1.0", "room.subject": {
            "resourceType": "Patient", "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/pseudo-bsn",
                                                       "value": bsn}], "name": [{"text": "Mevr. G. Leiding"}]}}
        karim_raw.put(f"/rooms/{space}/state/m.room.member/{new_u['mxid']}", {
            "membership": "invite", "nl-ta-chat.invite.context": context,
            "nl.kring.migration": {"from": old_u["mxid"], "to": new_u["mxid"]}})
        reader_new = matrix_as(new_u)
        wait_for("Karim's invite at N", lambda: space in reader_new.get("/sync", timeout=0)["rooms"].get("invite", {}))
        handled = new.json("migrate", "accept")
        assert handled["accepted"] == [], handled
        assert [r["roomId"] for r in handled["refused"]] == [space], handled
        assert "does not lead" in handled["refused"][0]["reason"], handled
        assert member_state(stack, reader_a, space, new_u["mxid"]) == "leave"

        # From a device of Sanne's that she has not verified, the invites could not share the
        # history: the job does not start.
        unverified = cli("ml-sanne-2")
        unverified.login(stack, sanne)
        error = unverified.error("migrate", "lead", "--from", old_u["mxid"], "--to", new_u["mxid"])
        assert error["code"] == "device_not_verified", error
        unverified.run("logout")

        # Sanne's move: a dry run first, checked on the server, then the move, then again.
        plan = nurse.json("migrate", "lead", "--from", old_u["mxid"], "--to", new_u["mxid"], "--dry-run")
        assert plan["verification"]["verified"] is True, plan
        assert {r["roomId"]: r["level"] for r in plan["rooms"]} == old_levels, plan
        assert member_state(stack, reader_a, conv, new_u["mxid"]) is None
        report = nurse.json("migrate", "lead", "--from", old_u["mxid"], "--to", new_u["mxid"])
        assert report["rooms"] == 2 and report["invited"] == 2 and report["failed"] == 0, report
        again = nurse.json("migrate", "lead", "--from", old_u["mxid"], "--to", new_u["mxid"])
        assert again["invited"] == 2 and again["failed"] == 0, again

        accepted = []

        def both_accepted():  # the conversation's invite may come a sync after the care team's
            accepted.extend(new.json("migrate", "accept")["accepted"])
            return len(accepted) == 2
        wait_for("the lead's two invites accepted at N", both_accepted, timeout=60)
        assert set(accepted) == {space, conv}, accepted
        assert [t["spaceId"] for t in new.json("care-team", "list")] == [space]
        for room, level in old_levels.items():
            assert levels(reader_new, room).get(new_u["mxid"]) == level, room
        history = [json.loads(line) for line in new.run("tail", "--from-start", "--room", conv).stdout.splitlines()]
        assert "Pijnscore 4 vanochtend" in [h["content"].get("body") for h in history], history
        notices = [h for h in history if "stapt over" in json.dumps(h)]
        assert len(notices) == 1 and old_u["mxid"] in json.dumps(notices[0]), notices
        assert nurse.json("migrate", "status")[0]["accepted"] == 2
        assert "refuse_migration_invite" in [e["kind"] for e in new.json("audit")]
    finally:
        old.login(stack, old_u)  # so the fixture can unbind the old account
