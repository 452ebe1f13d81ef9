"""The audit trail (issue 15, NEN 7513) from the CLI against the real stack.

Every event type comes from a real action against Synapse: a care team made, someone invited
and given a role, a conversation started with an attachment, read (tail), the attachment
downloaded, the care team and its network opened, a message redacted, the conversation archived.
The trail is checked for what it holds (C/R/U/D/E, outcome, UZI, device, the client only as the
care team's space id, never text or name); exported as FHIR AuditEvents and delivered to the
organisation's information system (the stack's FHIR server, which validates what it takes),
read back there; the delivery survives an endpoint that is down; and an edit made to the
database file around its append-only triggers is found when the hash chain is verified.
"""
import json
import socket
import sqlite3
import sys
import uuid
from pathlib import Path

import requests

from conftest import REPO, user
from test_care_team_cli import wait_for
from test_cli import cli  # noqa: F401  (fixture)

BROWSER = f"{sys.executable} {REPO / 'tests' / 'support' / 'idp_browser.py'}"


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_each_access_is_audited_exported_as_fhir_and_tampering_shows(stack, cli, tmp_path):
    eva, sanne = user(stack, "a", 0), user(stack, "a", 1)
    lead, nurse = cli("audit-eva"), cli("audit-sanne")
    lead.login(stack, eva)
    nurse.login(stack, sanne)
    # Eva's UZI and role come from her binding: bound at A's identity service first.
    lead.env.update(KRING_TEST_IDP_USER=eva["localpart"], KRING_TEST_IDP_PASSWORD=eva["password"],
                    KRING_TEST_BROWSER_LOG=str(tmp_path / "browser.log"))
    lead.json("identity-service", "bind", "--config", stack["onboarding_config"], "--browser", BROWSER, timeout=120)

    name, bsn = f"Mevr. A. Audit {uuid.uuid4().hex[:4]}", "9" + str(uuid.uuid4().int)[:10]
    space = lead.json("care-team", "create", "--client-name", name, "--pseudo-bsn", bsn)["spaceId"]
    lead.json("care-team", "invite", "--space", space, "--user", sanne["mxid"], "--role", "practitioner")
    wait_for("the invite", lambda: [i for i in nurse.json("care-team", "invites") if i["spaceId"] == space])
    nurse.json("care-team", "accept", "--space", space)
    lead.json("care-team", "set-role", "--space", space, "--user", sanne["mxid"], "--role", "senior")
    note = tmp_path / "wondfoto.txt"
    note.write_text("geen echte foto")
    text = f"Wond rustig {uuid.uuid4().hex[:6]}"
    room = lead.json("conversation", "start", "--space", space, "--subject", "Wondzorg", "--to", sanne["mxid"],
                     "--attach", str(note), text)["roomId"]
    lead.json("conversation", "list", "--space", space)
    lead.json("care-team", "network", "--space", space, "--config", stack["onboarding_config"])
    items = [json.loads(line)["content"] for line in lead.run("tail", "--room", room).stdout.splitlines()]
    with_file = next(i for i in items if i.get("attachments"))
    lead.json("download", "--room", room, "--event", with_file["eventId"], "--out", str(tmp_path / "out.txt"))
    lead.json("send", "--room", room, "Vergissing, negeer dit")
    lead.json("conversation", "archive", "--room", room)

    trail = lead.json("audit", "--limit", "100")
    kinds = {e["kind"]: e for e in reversed(trail)}  # the first of each kind
    want = {"login": "E", "bind_care_identity": "C", "create_care_team": "C", "invite_to_care_team": "C",
            "set_role": "U", "start_conversation": "C", "open_care_team": "R", "open_care_network": "R",
            "open_conversation": "R", "download_attachment": "R", "send": "C", "archive_conversation": "U"}
    for kind, action in want.items():
        assert kind in kinds, f"no {kind} in the trail: {[e['kind'] for e in trail]}"
        assert kinds[kind]["action"] == action and kinds[kind]["outcome"] == 0, kinds[kind]
    # The client by pseudonym (the care team's space), for everything that touched the client.
    for kind in ("create_care_team", "set_role", "open_care_team", "open_care_network", "open_conversation",
                 "download_attachment", "archive_conversation"):
        assert kinds[kind]["clientRef"] == space, kinds[kind]
    me = lead.json("whoami")
    for e in trail:
        assert e["userId"] == eva["mxid"] and e["device"] == me["deviceId"], e
    assert kinds["open_conversation"]["userUzi"] == eva["uzi"] and kinds["open_conversation"]["userRole"] == eva["role_code"]
    dump = json.dumps(trail, ensure_ascii=False)
    for secret in (text, name, bsn, "geen echte foto"):
        assert secret not in dump, f"{secret!r} in the audit trail"
    # The UI polls; the trail records one read per object and window, not one per poll.
    lead.json("conversation", "list", "--space", space)  # another process: a new session, a new read
    assert c_reads(lead, "open_care_team", space) >= 1
    # Sanne's own trail has her accepting.
    assert "accept_care_team_invite" in [e["kind"] for e in nurse.json("audit")]

    # Delivery to the information system: down first (nothing lost), then up.
    down = f"http://127.0.0.1:{closed_port()}/fhir"
    assert lead.error("audit", "--deliver", down)["code"] == "audit_endpoint_unreachable"
    ecd = stack["information_systems"]["a"]["fhir_base"]
    before = lead.json("audit", "--limit", "1")[0]
    assert before["kind"] == "deliver_audit" and before["outcome"] == 4, before  # the failed try, audited
    delivered = lead.json("audit", "--deliver", ecd)["delivered"]
    assert delivered == before["seq"], (delivered, before)  # everything, the failed try included
    total = lead.json("audit", "--limit", "1")[0]["seq"]
    ours = {e["eventId"]: e for e in lead.json("audit", "--limit", "1000")}
    for event_id, e in list(ours.items())[-5:]:
        back = requests.get(f"{ecd}/AuditEvent/{event_id}", timeout=10)
        assert back.status_code == 200, back.text
        got = back.json()
        assert got["action"] == e["action"] and got["outcome"] == str(e["outcome"]), got
        assert got["agent"][0]["who"]["identifier"]["value"] in (eva["uzi"], eva["mxid"]), got
        assert any(s["code"] == e["kind"] for s in got["subtype"]), got
    read = requests.get(f"{ecd}/AuditEvent/{kinds['open_conversation']['eventId']}", timeout=10).json()
    assert read["entity"][0]["what"]["identifier"]["value"] == space and read["entity"][0]["role"]["code"] == "1"
    # Again: only what came since (the delivery's own event), never twice.
    assert lead.json("audit", "--deliver", ecd)["delivered"] == 1

    # The export validates as FHIR R4 at a real FHIR engine: a bundle it refuses would fail above;
    # one AuditEvent broken on purpose (an element R4 does not have) is refused.
    bundle = lead.json("audit", "--export", "--after", str(total - 3))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction" and bundle["entry"]
    broken = dict(bundle["entry"][0]["resource"], patientName="niet in R4")
    refused = requests.put(f"{ecd}/AuditEvent/{broken['id']}", json=broken, timeout=10,
                           headers={"Content-Type": "application/fhir+json"})
    assert refused.status_code >= 400, refused.text

    # Tampering: the triggers refuse edits; an edit around them shows in the chain.
    assert lead.json("audit", "--verify") == {"events": lead.json("audit", "--limit", "1")[0]["seq"],
                                              "firstBroken": None}
    db = next(Path(lead.env["KRING_DATA_DIR"]).glob("profiles/*/kring.db"))
    victim = kinds["download_attachment"]["seq"]
    con = sqlite3.connect(db)
    try:
        try:
            con.execute("UPDATE audit_trail SET user_id = '@iemand:anders' WHERE seq = ?", (victim,))
            raise AssertionError("the audit trail took an UPDATE")
        except sqlite3.DatabaseError as e:
            assert "append-only" in str(e)
        con.execute("DROP TRIGGER audit_trail_append_only_update")
        con.execute("UPDATE audit_trail SET user_id = '@iemand:anders' WHERE seq = ?", (victim,))
        con.commit()
    finally:
        con.close()
    assert lead.json("audit", "--verify")["firstBroken"] == victim


def c_reads(c, kind, obj):
    return len([e for e in c.json("audit", "--limit", "1000") if e["kind"] == kind and e["object"] == obj])
