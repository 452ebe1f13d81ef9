"""Retention (issue 15, UC8) from the CLI against the real stack.

A care team made with the organisation's default (`retention_days` in onboarding.json) carries
it as m.room.retention, and its conversations inherit it. A team given a lifetime of seconds:
the homeserver's purge job deletes an expired message (checked in Synapse's own database), and
Kring purges it from this device's caches (the SDK's event cache), where it was before.
"""
import json
import os
import sqlite3
import time
import uuid
from pathlib import Path

from conftest import Matrix, user
from test_archive_cli import tail
from test_care_network_cli import care_team, network, person
from test_care_team_cli import wait_for
from test_cli import cli  # noqa: F401  (fixture)
from test_notifications_cli import desktop  # noqa: F401  (fixture)

DAY_MS = 24 * 3600 * 1000


def synapse_has(stack, event_id):
    db = Path(stack["stack_dir"]) / "hs-a" / "homeserver.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute("SELECT 1 FROM events WHERE event_id = ?", (event_id,)).fetchone() is not None
    finally:
        con.close()


def test_the_organisation_default_and_a_short_lifetime_purged_on_the_server_and_on_the_device(
        stack, cli, tmp_path):
    eva, sanne = user(stack, "a", 0), user(stack, "a", 1)
    lead = cli("retention-eva")
    lead.login(stack, eva)
    config = json.loads(Path(stack["onboarding_config"]).read_text())
    config["retention_days"] = 7300  # 20 years, as the WGBO keeps a medical record
    org = tmp_path / "onboarding-retention.json"
    org.write_text(json.dumps(config))

    team = lead.json("care-team", "create", "--client-name", f"Mevr. R. Bewaar {uuid.uuid4().hex[:4]}",
                     "--pseudo-bsn", "9" + str(uuid.uuid4().int)[:10], "--config", str(org))["spaceId"]
    assert lead.json("care-team", "retention", "--room", team)["maxLifetimeMs"] == 7300 * DAY_MS
    lead.json("care-team", "invite", "--space", team, "--user", sanne["mxid"], "--role", "practitioner")
    room = lead.json("conversation", "start", "--space", team, "--subject", "Bewaren", "--to", sanne["mxid"],
                     "Eerste bericht")["roomId"]
    assert lead.json("care-team", "retention", "--room", room)["maxLifetimeMs"] == 7300 * DAY_MS

    # Seconds: the team and its conversation, set by the lead.
    lead.json("care-team", "retention", "--room", team, "--seconds", "6")
    assert lead.json("care-team", "retention", "--room", room)["maxLifetimeMs"] == 6000
    old = lead.json("send", "--room", room, f"Verloopt zo {uuid.uuid4().hex[:4]}")["eventId"]
    wait_for("the message in Kring's cache", lambda: old in lead.run("tail", "--room", room, check=False).stdout)
    assert lead.json("care-team", "retention", "--room", room, "--holds", old)["held"] is True
    assert synapse_has(stack, old)
    time.sleep(7)
    lead.json("send", "--room", room, "Nieuwer bericht")  # the latest event is never purged

    wait_for("the homeserver's purge job", lambda: not synapse_has(stack, old), timeout=45)
    purged = lead.json("care-team", "retention", "--purge")
    assert room in purged["rooms"] and purged["expiredEvents"] >= 1, purged
    assert lead.json("care-team", "retention", "--room", room, "--holds", old)["held"] is False
    kinds = [e["kind"] for e in lead.json("audit", "--limit", "20")]
    assert "set_retention" in kinds and "purge_expired" in kinds, kinds


def kring_db(c):
    return Path(c.env["KRING_DATA_DIR"]) / "profiles" / c.env["KRING_PROFILE"] / "kring.db"


def rows(path, query, *args):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


def media_rows(c):
    [db] = (Path(c.env["KRING_DATA_DIR"]) / "profiles" / c.env["KRING_PROFILE"]).rglob("matrix-sdk-media.sqlite3")
    return rows(db, "SELECT count(*) FROM media")[0][0]


def test_before_messages_expire_a_reminder_offers_the_archive_then_files_and_the_network_go_too(
        stack, cli, tmp_path, desktop):
    """A care team whose messages live 45 s. Kring lists the conversation as expiring, shows one
    desktop reminder that names no one (and not twice), and after archiving to the ECD says it is
    archived. When the messages are gone from Synapse, Kring's purge also drops the attachment
    from its media cache and the directory details of the care network (read from Kring's own
    databases on disk); the network refills from the directory. A member who left forgets the
    client on their device."""
    eva, sanne = person(stack, "a-lead"), person(stack, "a-nurse")
    lead, space, clis = care_team(stack, cli, eva, [(sanne, "practitioner", None)], f"ret-{uuid.uuid4().hex[:4]}")
    nurse = clis[sanne["mxid"]]
    net = network(stack, lead, space, refresh=True)
    asked = time.time()  # when the directory last answered for this network
    assert net[sanne["mxid"]]["function"], net.why()
    cached = lambda: {u for (u,) in rows(kring_db(lead), "SELECT user_id FROM directory_cache")}  # noqa: E731
    assert sanne["mxid"] in cached()

    lead.json("care-team", "retention", "--room", space, "--seconds", "45")
    photo = tmp_path / "wond.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    room = lead.json("conversation", "start", "--space", space, "--subject", "Wondfoto's", "--to", sanne["mxid"],
                     "--attach", str(photo), "Foto van vanochtend")["roomId"]
    first = wait_for("the first message at Eva", lambda: [
        i for i in tail(lead, room) if i.get("attachments") and i.get("eventId")])[0]
    lead.json("download", "--room", room, "--event", first["eventId"], "--out", str(tmp_path / "terug.png"))
    assert (tmp_path / "terug.png").read_bytes() == photo.read_bytes()
    assert media_rows(lead) >= 1, "the downloaded file is in Kring's media cache"

    # Before deletion: listed as expiring, and one reminder that names no one.
    [soon] = lead.json("care-team", "retention", "--expiring", "--room", space)
    assert soon["roomId"] == room and soon["archived"] is False, soon
    assert soon["expiresMs"] - soon["oldestMessageMs"] == 45000, soon
    long_kept = lead.json("care-team", "create", "--client-name", "Dhr. Lang Bewaard",
                          "--pseudo-bsn", "9" + str(uuid.uuid4().int)[:10])["spaceId"]
    assert lead.json("care-team", "retention", "--expiring", "--room", long_kept) == []
    lead.env.update(desktop.env)  # the reminder goes to this desktop's notification daemon
    reminded = lead.json("care-team", "retention", "--remind")
    assert [r["roomId"] for r in reminded] == [room], reminded
    [n] = desktop.wait_for("the reminder on the bus", lambda ev: [e for e in ev if e["kind"] == "notify"] or None)
    assert n["summary"] == "Bewaartermijn verloopt" and "1 gesprek" in n["body"] and "ECD" in n["body"], n
    for secret in ("Wondfoto", "Lang Bewaard", "Netwerk", eva["localpart"]):
        assert secret not in n["summary"] + n["body"], f"{secret!r} in the reminder: {n}"
    assert lead.json("care-team", "retention", "--remind") == [], "reminded once"
    assert len(desktop.notifies()) == 1, desktop.describe()

    receipt = lead.json("conversation", "export", "--room", room, "--config", stack["onboarding_config"])
    assert receipt["files"] == 1, receipt
    [archived] = lead.json("care-team", "retention", "--expiring", "--room", space)
    assert archived["archived"] is True, archived

    # The lifetime passes: gone from Synapse, then from this device's caches.
    time.sleep(max(0, soon["expiresMs"] / 1000 - time.time()) + 1)
    lead.json("send", "--room", room, "Nieuwer bericht")  # the latest event is never purged
    wait_for("the homeserver's purge job", lambda: not synapse_has(stack, first["eventId"]), timeout=45)
    time.sleep(max(0, asked + 46 - time.time()))  # the directory's answer is older than the lifetime, too
    purged = lead.json("care-team", "retention", "--purge")
    assert room in purged["rooms"] and purged["mediaFiles"] >= 1 and purged["networkEntries"] >= 1, purged
    assert media_rows(lead) == 0, "the expired message's file left the media cache"
    assert sanne["mxid"] not in cached(), "the care network's cache forgot what expired with the team"
    again = network(stack, lead, space, refresh=True)
    assert again[sanne["mxid"]]["function"] == net[sanne["mxid"]]["function"], again.why()
    assert sanne["mxid"] in cached()

    # A member who left forgets the client on the next purge.
    linked = lambda: rows(kring_db(nurse), "SELECT count(*) FROM client_links WHERE space_id = ?", space)[0][0]  # noqa: E731
    assert linked() == 1
    Matrix(stack["homeservers"]["a"]["base_url"], sanne["localpart"], sanne["password"]).post(
        f"/rooms/{space}/leave", {})
    assert nurse.json("care-team", "retention", "--purge")["clientsForgotten"] == 1
    assert linked() == 0
