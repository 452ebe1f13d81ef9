"""The headless CLI against the real stack: the administrator's and the
scripts' tool, and the driver of scenario tests and benchmarks."""
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import user


class Cli:
    def __init__(self, binary, tmp_path, profile):
        self.binary = binary
        self.env = dict(os.environ, KRING_DATA_DIR=str(tmp_path / profile), KRING_PROFILE=f"{profile}-{uuid.uuid4().hex[:8]}")

    def run(self, *args, input=None, check=True, timeout=90):
        p = subprocess.run([str(self.binary), "--json", *args], env=self.env, input=input,
                           capture_output=True, text=True, timeout=timeout)
        if os.environ.get("KRING_CLI_LOG_DIR"):
            with open(Path(os.environ["KRING_CLI_LOG_DIR"]) / f"{self.env['KRING_PROFILE']}.log", "a") as f:
                f.write(f"==== {time.strftime('%H:%M:%S')} {args[0]} {args[1] if len(args) > 1 else ''} rc={p.returncode}\n{p.stderr}\n-- stdout\n{p.stdout[-3000:]}\n")
        if check and p.returncode != 0:
            raise AssertionError(f"kring-cli {args[0]} failed ({p.returncode}): {p.stderr}")
        return p

    def json(self, *args, **kw):
        return json.loads(self.run(*args, **kw).stdout.strip().splitlines()[-1])

    def error(self, *args, **kw):
        p = self.run(*args, check=False, **kw)
        assert p.returncode == 2, f"expected exit 2, got {p.returncode}: {p.stdout} {p.stderr}"
        return json.loads(p.stderr.strip().splitlines()[-1])["error"]

    def login(self, stack, u):
        return self.json("login", "--homeserver", stack["homeservers"][u["org"]]["base_url"],
                         "--user", u["localpart"], "--password-stdin", input=u["password"] + "\n")


@pytest.fixture
def cli(cli_bin, tmp_path):
    made = []

    def make(profile):
        c = Cli(cli_bin, tmp_path, profile)
        made.append(c)
        return c
    yield make
    for c in made:  # leave no sessions behind in the keychain
        c.run("logout", check=False)


def test_login_rooms_send_and_tail(stack, cli, matrix_as):
    alice = user(stack, "a", 0)
    c = cli("alice")
    info = c.login(stack, alice)
    assert info["userId"] == alice["mxid"]
    assert c.json("whoami")["deviceId"] == info["deviceId"], "whoami must restore the same device"

    rooms = c.json("rooms")
    demo = [r for r in rooms if r["roomId"] == stack["demo_room_id"]]
    assert demo, f"demo room missing from {rooms}"
    assert demo[0]["name"]

    text = f"CLI bericht {uuid.uuid4().hex[:6]}"
    sent = c.json("send", "--room", stack["demo_room_id"], text)
    assert sent["eventId"].startswith("$")

    # An independent client sees it on the homeserver.
    assert text in matrix_as(alice).recent_bodies(stack["demo_room_id"])
    # The CLI's own tail shows it with its sender.
    lines = [json.loads(l) for l in c.run("tail", "--room", stack["demo_room_id"]).stdout.splitlines()]
    mine = [l for l in lines if l["content"]["body"] == text]
    assert mine and mine[0]["content"]["sender"] == alice["mxid"]

    # The audit trail (NEN 7513), newest first: the tail was a read of the conversation.
    audit = c.json("audit")
    kinds = [(e["kind"], e["action"]) for e in audit]
    assert kinds[0] == ("open_conversation", "R"), kinds
    assert kinds.index(("send", "C")) < kinds.index(("login", "E")), kinds
    sent_event = audit[kinds.index(("send", "C"))]
    assert audit[0]["object"] == sent_event["object"] == stack["demo_room_id"]
    assert audit[0]["userId"] == alice["mxid"] and audit[0]["device"] == info["deviceId"], audit[0]
    assert text not in json.dumps(audit), "never message text"
    assert c.json("audit", "--verify") == {"events": audit[0]["seq"], "firstBroken": None}


def test_tail_follow_receives_a_message_from_the_other_organisation(stack, cli, matrix_as):
    reader = user(stack, "a", 1)
    writer = user(stack, "b", 0)
    c = cli("reader")
    c.login(stack, reader)
    text = f"Vanuit organisatie B {uuid.uuid4().hex[:6]}"
    follow = subprocess.Popen([str(c.binary), "--json", "tail", "--room", stack["demo_room_id"], "--follow", "--count", "1"],
                              env=c.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)  # let the follower finish its initial sync before the message is sent
    matrix_as(writer).send_text(stack["demo_room_id"], text)
    out, err = follow.communicate(timeout=60)
    assert follow.returncode == 0, err
    bodies = [json.loads(l)["content"]["body"] for l in out.splitlines()]
    assert text in bodies


def test_errors_have_stable_codes(stack, cli):
    alice = user(stack, "a", 0)
    c = cli("errors")
    assert c.error("rooms")["code"] == "not_logged_in"
    assert c.error("login", "--homeserver", stack["homeservers"]["a"]["base_url"], "--user", alice["localpart"],
                   "--password-stdin", input="definitely-wrong\n")["code"] == "wrong_credentials"
    assert c.error("login", "--homeserver", "http://127.0.0.1:9", "--user", "x",
                   "--password-stdin", input="x\n")["code"] == "homeserver_unreachable"
    assert c.error("login", "--homeserver", "geen-url", "--user", "x",
                   "--password-stdin", input="x\n")["code"] == "invalid_homeserver"
    c.login(stack, alice)
    assert c.error("send", "--room", "!bestaat-niet:localhost", "hallo")["code"] == "unknown_room"
    assert c.error("tail", "--room", "Geen kamer met deze naam")["code"] == "unknown_room"
