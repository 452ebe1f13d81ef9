"""Retention (issue 15, UC8) from the CLI against the real stack.

A care team made with the organisation's default (`retention_days` in onboarding.json) carries
it as m.room.retention, and its conversations inherit it. A team given a lifetime of seconds:
the homeserver's purge job deletes an expired message (checked in Synapse's own database), and
Kring purges it from this device's caches (the SDK's event cache), where it was before.
"""
import json
import sqlite3
import time
import uuid
from pathlib import Path

from conftest import user
from test_care_team_cli import wait_for
from test_cli import cli  # noqa: F401  (fixture)

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
