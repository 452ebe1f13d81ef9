"""Privacy by default (issue 15, PRODUCT.md), checked on the wire against the real homeserver.

Sanne writes to Eva; Eva reads it in Kring. What Sanne's client receives from the homeserver
(plain HTTP /sync) holds no read receipt and no typing notification from Eva: Kring sends the
receipt as m.read.private, which only Eva's own devices see (her own /sync has it, so her
other devices still withdraw their notifications). An organisation that turns public receipts
on (`privacy.public_read_receipts` in its onboarding.json) gets m.read.
"""
import json
import uuid

from conftest import user
from test_care_team_cli import wait_for
from test_cli import cli  # noqa: F401  (fixture)


def ephemeral(m, room):
    """The room's ephemeral events in a fresh /sync of this account (receipts, typing)."""
    flt = json.dumps({"room": {"rooms": [room], "timeline": {"limit": 1}}, "presence": {"types": []}})
    body = m.get("/sync", filter=flt, timeout="0")
    return body.get("rooms", {}).get("join", {}).get(room, {}).get("ephemeral", {}).get("events", [])


def receipts_by(events, mxid):
    """{receipt type: [event ids]} that mxid holds in these m.receipt events."""
    out = {}
    for e in events:
        if e["type"] != "m.receipt":
            continue
        for event_id, kinds in e["content"].items():
            for kind, users in kinds.items():
                if mxid in users:
                    out.setdefault(kind, []).append(event_id)
    return out


def test_reading_and_writing_stay_private_unless_the_organisation_turns_receipts_on(stack, cli, matrix_as,
                                                                                   tmp_path):
    eva, sanne = user(stack, "a", 0), user(stack, "a", 1)
    lead, nurse = cli("privacy-eva"), cli("privacy-sanne")
    lead.login(stack, eva)
    nurse.login(stack, sanne)
    space = lead.json("care-team", "create", "--client-name", f"Dhr. P. Privé {uuid.uuid4().hex[:4]}",
                      "--pseudo-bsn", "9" + str(uuid.uuid4().int)[:10])["spaceId"]
    lead.json("care-team", "invite", "--space", space, "--user", sanne["mxid"], "--role", "practitioner")
    wait_for("the invite", lambda: [i for i in nurse.json("care-team", "invites") if i["spaceId"] == space])
    nurse.json("care-team", "accept", "--space", space)
    room = lead.json("conversation", "start", "--space", space, "--subject", "Medicatie", "--to", sanne["mxid"],
                     "Start")["roomId"]
    wait_for("the conversation at Sanne", lambda: [
        c for c in nurse.json("conversation", "list", "--space", space) if c["roomId"] == room])
    nurse.json("conversation", "join", "--room", room)
    sent = nurse.json("send", "--room", room, f"Graag even kijken {uuid.uuid4().hex[:4]}")["eventId"]

    as_sanne, as_eva = matrix_as(sanne), matrix_as(eva)
    assert lead.json("read", "--room", room)["read"] == room
    mine = wait_for("Eva's own receipt", lambda: receipts_by(ephemeral(as_eva, room), eva["mxid"]).get("m.read.private"))
    assert sent in mine, mine
    seen = ephemeral(as_sanne, room)
    assert "m.read" not in receipts_by(seen, eva["mxid"]), f"Sanne sees that Eva read it: {seen}"
    assert "m.read.private" not in receipts_by(seen, eva["mxid"]), seen
    assert not [e for e in seen if e["type"] == "m.typing" and eva["mxid"] in e["content"].get("user_ids", [])], seen

    # An organisation that wants receipts turns them on; then Sanne sees them (in a conversation
    # Eva had not read privately: the SDK does not send a public receipt behind a private one).
    config = json.loads(open(stack["onboarding_config"]).read())
    config["privacy"] = {"public_read_receipts": True}
    public = tmp_path / "onboarding-public-receipts.json"
    public.write_text(json.dumps(config))
    room2 = lead.json("conversation", "start", "--space", space, "--subject", "Wondzorg", "--to", sanne["mxid"],
                      "Start")["roomId"]
    wait_for("the second conversation at Sanne", lambda: [
        c for c in nurse.json("conversation", "list", "--space", space) if c["roomId"] == room2])
    nurse.json("conversation", "join", "--room", room2)
    again = nurse.json("send", "--room", room2, "Nog een vraag")["eventId"]
    wait_for("the new message at Eva", lambda: again in lead.run("tail", "--room", room2, check=False).stdout)
    lead.json("read", "--room", room2, "--config", str(public))
    shown = wait_for("the public receipt", lambda: receipts_by(ephemeral(as_sanne, room2), eva["mxid"]).get("m.read"))
    assert again in shown, shown
