"""Every device of a person (issue 13) when the key backup cannot be reached.

The lead's first device signs in through tests/support/faultproxy.py in front of the real
homeserver A. While every key-backup request (`/room_keys/`) is held (the backup "hangs"),
the lead starts a conversation and writes in it: Kring keeps working (the messages go out and
the colleague reads them). When the backup answers again, the next run of the first device
uploads the room keys it kept back, and a new device that only has the recovery key reads the
messages written during the outage.
"""
import json
import sys
import time
import uuid

from conftest import REPO, fresh_user
from test_care_team_cli import wait_for
from test_cli import Cli, cli  # noqa: F401  (fixture)

sys.path.insert(0, str(REPO / "tests" / "support"))
from faultproxy import FaultProxy  # noqa: E402

BACKUP = r"/_matrix/client/v3/room_keys/"


def login_via(c, base_url, u):
    return c.json("login", "--homeserver", base_url, "--user", u["localpart"], "--password-stdin",
                  input=u["password"] + "\n")


WRITTEN = ["Tijdens de storing geschreven", "Nog een bericht tijdens de storing"]


def timeline(c, room_id):
    return [json.loads(l) for l in c.run("tail", "--all", "--room", room_id).stdout.splitlines() if l.strip()]


def reads_all(c, room_id):
    """The timeline once it holds every message written during the outage, decrypted."""
    lines = timeline(c, room_id)
    got = [l["content"].get("body") for l in lines if l["content"].get("type") == "message"]
    blanks = [l for l in lines if l["content"].get("type") == "notice"
              and l["content"].get("notice", {}).get("kind") == "undecryptable"]
    return lines if all(w in got for w in WRITTEN) and not blanks else None


def test_an_unreachable_key_backup_loses_nothing(stack, cli):
    lead_u, nurse_u = fresh_user(stack, "a", "bk-lead"), fresh_user(stack, "a", "bk-nurse")
    hs = stack["homeservers"]["a"]["base_url"]
    with FaultProxy(hs) as proxy:
        first, nurse = cli("bk-first"), cli("bk-nurse")
        login_via(first, proxy.url, lead_u)
        nurse.login(stack, nurse_u)
        key = first.json("recovery", "setup")["recoveryKey"]
        space = first.json("care-team", "create", "--client-name", "Dhr. K. Smit",
                           "--pseudo-bsn", "9" + str(uuid.uuid4().int)[:10])["spaceId"]
        first.json("care-team", "invite", "--space", space, "--user", nurse_u["mxid"], "--role", "practitioner")
        wait_for("the invite", lambda: [i for i in nurse.json("care-team", "invites") if i["spaceId"] == space])
        nurse.json("care-team", "accept", "--space", space)

        # The backup hangs: the conversation and its messages still go out.
        proxy.hold(BACKUP, "request")
        started = time.monotonic()
        room = first.json("conversation", "start", "--space", space, "--subject", "Storing", "--to", nurse_u["mxid"],
                          "--kind", "professional", "Tijdens de storing geschreven")["roomId"]
        first.json("send", "--room", room, "Nog een bericht tijdens de storing")
        assert time.monotonic() - started < 60, "sending waited for the backup"
        assert any(r.held for r in proxy.records(BACKUP)), "the backup upload was tried and held"
        nurse.json("conversation", "join", "--room", room)
        wait_for("the colleague reading both messages", lambda: reads_all(nurse, room), timeout=60)

        # The backup answers again: the first device's next run uploads what it kept back.
        proxy.release()
        status = first.json("recovery", "status")
        assert status["backupEnabled"] and status["verified"], status
        assert any(m == "PUT" and s == 200 for m, p, s in proxy.log if "/room_keys/keys" in p), \
            "the kept-back room keys reached the backup"

    # A new device with only the recovery key reads what was written during the outage.
    second = cli("bk-second")
    second.login(stack, lead_u)
    second.json("recovery", "recover", input=key + "\n")
    wait_for("the new device reading the outage's messages", lambda: reads_all(second, room), timeout=60)
