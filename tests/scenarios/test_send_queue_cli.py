"""The offline send queue (issue #6) under faults, against the real stack.

"Every message (with its attachments) is persisted the moment the user sends it and survives the
app being killed (SIGKILL) at any point: before upload, during upload, after upload before send,
while the homeserver is down. After restart it is sent exactly once, in order." And: a message the
homeserver refuses for good, between messages that must still go out: zero lost, zero duplicated,
order kept; the refused one stays visible as unsent.

The sender (a care-team lead) signs in through tests/support/faultproxy.py, a fault injector in
front of the real homeserver A (refused connections, requests held before Synapse sees them,
answers held after Synapse processed them). One test stops homeserver A itself.

  kring-cli --json send --room R [--attach F] TEXT   {"queued":…} once persisted, then the event id
  kring-cli --json send --room R --lines             every stdin line one message
  kring-cli --json flush                             {"flushed":{"count":N,…}}; {"unsent":[…]} + exit 2
  kring-cli --json queue                             {"unsent":[…]}

What arrived is counted without the sender's Kring: the recipient's plain-HTTP /messages gives
every m.room.encrypted event of the sender in the homeserver's order (exactly once, order kept);
the recipient's own device (a second kring-cli profile, signed in directly) decrypts them to the
bodies, which carry a run id and a sequence number.
"""
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid

import pytest

from conftest import REPO, Matrix, fresh_user
from test_care_team_cli import wait_for
from test_cli import cli  # noqa: F401  (fixture)

sys.path.insert(0, str(REPO / "tests" / "support"))
from faultproxy import FaultProxy  # noqa: E402

STACKCTL = REPO / "tests" / "stack" / "stackctl"
ROOM_SEND = r"/rooms/[^/]+/send/m\.room\.encrypted/"
SYNC = r"/sync(\?|$)"
UPLOAD = r"^/_matrix/(media/v3|client/v1/media)/upload"
# `queued` comes as soon as the message is persisted, also while the homeserver cannot be reached
# (the sends below would wait SEND_TIMEOUT seconds for the homeserver after that).
QUEUED_WITHIN = 20
SEND_TIMEOUT = "120"
TOO_BIG = 70_000  # characters: the event exceeds Synapse's 65,536-byte limit (413 M_TOO_LARGE)


def docs(text):
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


def doc(found, key):
    """The value under `key` of the first JSON line that has it."""
    return next((d[key] for d in found if key in d), None)


class Running:
    """A kring-cli process in the background whose JSON lines are read as they come."""

    def __init__(self, c, *args, stdin=None):
        self.args = args
        self.name = "kring-cli " + " ".join(a if len(a) < 40 else a[:12] + "…" for a in args[:6])
        self.p = subprocess.Popen([str(c.binary), "--json", *args], env=c.env, text=True,
                                  stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines, self.seen, self.err = queue.Queue(), [], []
        threading.Thread(target=self._pump, args=(self.p.stdout, self.lines), daemon=True).start()
        threading.Thread(target=lambda: self.err.extend(self.p.stderr), daemon=True).start()
        if stdin is not None:
            def feed():
                try:
                    self.p.stdin.write(stdin)
                    self.p.stdin.close()
                except OSError:
                    pass
            threading.Thread(target=feed, daemon=True).start()

    @staticmethod
    def _pump(stream, q):
        for line in stream:
            q.put(line)
        q.put(None)

    def wait_doc(self, key, timeout=60):
        """Blocks until a JSON line with `key` was printed; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            found = doc(self.seen, key)
            if found is not None:
                return found
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None:
                self.p.wait(10)
                raise AssertionError(f"{self.name} exited ({self.p.returncode}) without {key!r}: "
                                     f"stdout {self.seen} stderr {''.join(self.err)[-2000:]}")
            if line:
                self.seen += docs(line)
            elif time.monotonic() >= deadline:
                raise AssertionError(f"{self.name} printed no {key!r} within {timeout}s: "
                                     f"stdout {self.seen} stderr {''.join(self.err)[-2000:]}")

    def finish(self, timeout=120):
        self.p.wait(timeout)
        while True:
            line = self.lines.get(timeout=10)
            if line is None:
                break
            self.seen += docs(line)
        return self.p.returncode, self.seen, "".join(self.err)

    def sigkill(self):
        self.p.kill()  # SIGKILL: no destructors, no flush, no goodbye
        self.p.wait(10)
        assert self.p.returncode == -9, self.p.returncode

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)


class Conversation:
    """An encrypted care-team conversation: `lead` sends (through the proxy), `peer` receives."""

    def __init__(self, stack, cli, homeserver, tag):
        hs = stack["homeservers"]["a"]
        self.lead_u, self.peer_u = fresh_user(stack, "a", f"sq-lead-{tag}"), fresh_user(stack, "a", f"sq-peer-{tag}")
        self.lead, self.peer = cli(f"sq-lead-{tag}"), cli(f"sq-peer-{tag}")
        self.lead.json("login", "--homeserver", homeserver, "--user", self.lead_u["localpart"], "--password-stdin",
                       input=self.lead_u["password"] + "\n")
        self.peer.json("login", "--homeserver", hs["base_url"], "--user", self.peer_u["localpart"],
                       "--password-stdin", input=self.peer_u["password"] + "\n")
        bsn = "9" + str(uuid.uuid4().int)[:10]
        space = self.lead.json("care-team", "create", "--client-name", "Mw. J. de Wit", "--pseudo-bsn", bsn)["spaceId"]
        self.lead.json("care-team", "invite", "--space", space, "--user", self.peer_u["mxid"], "--role", "practitioner")
        wait_for("the care-team invite", lambda: [i for i in self.peer.json("care-team", "invites")
                                                  if i["spaceId"] == space])
        self.peer.json("care-team", "accept", "--space", space)
        self.room = self.lead.json("conversation", "start", "--space", space, "--subject", "Wachtrij",
                                   "--to", self.peer_u["mxid"], "Start van het gesprek.")["roomId"]
        wait_for("the conversation invite at the peer", lambda: [
            c for c in self.peer.json("conversation", "list", "--space", space) if c["roomId"] == self.room])
        self.peer.json("conversation", "join", "--room", self.room)
        # The test's own view: the recipient over plain HTTP.
        self.http = Matrix(hs["base_url"], self.peer_u["localpart"], self.peer_u["password"])
        enc = self.http.get(f"/rooms/{self.room}/state/m.room.encryption/")
        assert enc["algorithm"] == "m.megolm.v1.aes-sha2", enc
        self.before = {e["event_id"] for e in self.sender_events()}
        self.run = uuid.uuid4().hex[:8]

    def body(self, n, label=""):
        return f"{self.run} #{n:03d}{(' ' + label) if label else ''}"

    def sender_events(self):
        """The sender's encrypted events in the homeserver's order (oldest first), over plain HTTP."""
        events, start = [], None
        for _ in range(50):
            params = {"dir": "b", "limit": 100, **({"from": start} if start else {})}
            page = self.http.get(f"/rooms/{self.room}/messages", **params)
            events += page["chunk"]
            start = page.get("end")
            if not start or not page["chunk"]:
                break
        return [e for e in reversed(events) if e["type"] == "m.room.encrypted" and e["sender"] == self.lead_u["mxid"]]

    def new_events(self):
        return [e for e in self.sender_events() if e["event_id"] not in self.before]

    def received(self, expected_count, timeout=60):
        """The new events as the recipient reads them: [(event_id, body, attachments)] in server order.
        Waits until `expected_count` new events are on the homeserver and all of them decrypted at the
        recipient; returns what is there after the timeout otherwise (the assertions then say what)."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.new_events()
            p = self.peer.run("tail", "--room", self.room, check=False)
            shown = {m["content"].get("eventId"): m["content"] for m in docs(p.stdout) if p.returncode == 0}
            out = [(e["event_id"], shown.get(e["event_id"], {}).get("body"),
                    shown.get(e["event_id"], {}).get("attachments", [])) for e in events]
            if (len(events) >= expected_count and all(b is not None for _, b, _ in out)) \
                    or time.monotonic() > deadline:
                return out
            time.sleep(1)

    def assert_received(self, expected, timeout=60):
        got = self.received(len(expected), timeout)
        bodies = [b for _, b, _ in got]
        assert None not in bodies, f"the recipient could not read {bodies.count(None)} of {len(got)} events: {got}"
        mine = [b for b in bodies if b.startswith(self.run)]
        lost = [b for b in expected if b not in mine]
        dup = sorted({b for b in mine if mine.count(b) > 1})
        assert not lost, f"lost: {lost}; arrived (server order): {mine}"
        assert not dup, f"duplicated: {dup}; arrived (server order): {mine}"
        assert mine == expected, f"order: expected {expected}, arrived {mine}"
        assert len(got) == len(expected), f"{len(got)} events on the homeserver for {len(expected)} messages: {got}"
        return got


@pytest.fixture
def proxy(stack):
    with FaultProxy(stack["homeservers"]["a"]["base_url"]) as p:
        yield p


@pytest.fixture
def conversation(stack, proxy, cli):
    """A conversation whose lead talks to homeserver A through the proxy. Afterwards the proxy
    passes everything again (so the lead can log out) and stray processes are killed."""
    running = []
    made = Conversation(stack, cli, proxy.url, uuid.uuid4().hex[:4])
    made.background = lambda *a, **kw: running.append(Running(*a, **kw)) or running[-1]
    yield made
    for r in running:
        r.stop()
    proxy.release()
    proxy.open()


def stackctl(*args, stack):
    env = dict(os.environ, KRING_STACK_PORT_BASE=str(stack["port_base"]), KRING_STACK_DIR=stack["stack_dir"])
    p = subprocess.run([sys.executable, str(STACKCTL), *args], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"stackctl {' '.join(args)} failed ({p.returncode}): {p.stdout} {p.stderr}"


def flush(c, timeout=90):
    p = c.run("--timeout", str(timeout), "flush", check=False, timeout=timeout + 30)
    return p.returncode, docs(p.stdout), p.stderr


def assert_flushed(c, count, timeout=90):
    rc, out, err = flush(c, timeout)
    assert rc == 0, f"flush failed ({rc}): {out} {err[-2000:]}"
    flushed = doc(out, "flushed")
    assert flushed is not None, f"flush printed no 'flushed': {out}"
    assert flushed["count"] == count, f"flush says {flushed['count']} were waiting, expected {count}: {out}"
    return flushed


def unsent(c):
    return doc(docs(c.run("--timeout", "10", "queue").stdout), "unsent")


def event_id_of(sent):
    """`send` prints {"roomId", "eventId"}."""
    return sent["eventId"]


def attachment_file(tmp_path, name, size=200_000):
    path = tmp_path / name
    path.write_bytes((f"{name} regel\n" * (size // 12 + 1)).encode()[:size])
    return path


def check_attachment(conv, event_id, original, tmp_path):
    out = tmp_path / f"received-{original.name}"
    saved = conv.peer.json("download", "--room", conv.room, "--event", event_id, "--out", str(out))
    assert saved["filename"] == original.name
    assert out.read_bytes() == original.read_bytes(), "the attachment did not arrive intact"


# ---------------------------------------------------------------- the cases

def test_killed_while_the_homeserver_is_unreachable(conversation, proxy):
    """(a) The server refuses connections; messages are queued (one process with --lines, one
    single send), each process SIGKILLed right after `queued`. The server comes back: `flush`
    sends them exactly once, in order."""
    conv = conversation
    proxy.refuse()
    first = [conv.body(1), conv.body(2), conv.body(3)]
    p = conv.background(conv.lead, "--timeout", SEND_TIMEOUT, "send", "--room", conv.room, "--lines",
                        stdin="".join(b + "\n" for b in first))
    assert p.wait_doc("queued", QUEUED_WITHIN)["count"] == 3
    p.sigkill()
    p = conv.background(conv.lead, "--timeout", SEND_TIMEOUT, "send", "--room", conv.room, conv.body(4))
    assert p.wait_doc("queued", QUEUED_WITHIN)["count"] == 1
    p.sigkill()
    assert conv.new_events() == [], "nothing may reach the homeserver while it is unreachable"
    assert len(unsent(conv.lead) or []) == 4, "the four messages are waiting"

    proxy.open()
    assert_flushed(conv.lead, 4)
    conv.assert_received(first + [conv.body(4)])
    assert not unsent(conv.lead)


def test_killed_during_the_upload(conversation, proxy, tmp_path):
    """(b) The attachment's upload has reached the proxy but not Synapse when the app is killed.
    After restart the message with its file is sent once, before the next message."""
    conv = conversation
    f = attachment_file(tmp_path, "wondfoto-b.txt")
    proxy.hold(UPLOAD, "request")
    m = proxy.mark()
    p = conv.background(conv.lead, "--timeout", SEND_TIMEOUT, "send", "--room", conv.room, "--attach", str(f), conv.body(1))
    p.wait_doc("queued", QUEUED_WITHIN)
    held = proxy.wait_for(UPLOAD, timeout=60, since=m, held="request")
    p.sigkill()
    proxy.wait_for(UPLOAD, timeout=10, since=held.n, done=True)
    assert "dropped" in held.outcome, f"the held upload must never reach Synapse: {held}"
    proxy.release()
    assert conv.new_events() == []

    assert_flushed(conv.lead, 1)
    sent = conv.lead.json("send", "--room", conv.room, conv.body(2))
    got = conv.assert_received([conv.body(1), conv.body(2)])
    assert got[1][0] == event_id_of(sent)
    assert len(got[0][2]) == 1 and got[0][2][0]["filename"] == f.name, got[0]
    check_attachment(conv, got[0][0], f, tmp_path)


def test_killed_after_the_upload_before_the_send(conversation, proxy, tmp_path):
    """(c) The file is on the homeserver; the event's PUT has reached the proxy, not Synapse, when
    the app is killed. After restart the event goes out once, with the file."""
    conv = conversation
    f = attachment_file(tmp_path, "verslag-c.txt")
    proxy.hold(ROOM_SEND, "request")
    m = proxy.mark()
    p = conv.background(conv.lead, "--timeout", SEND_TIMEOUT, "send", "--room", conv.room, "--attach", str(f), conv.body(1))
    p.wait_doc("queued", QUEUED_WITHIN)
    held = proxy.wait_for(ROOM_SEND, timeout=60, since=m, held="request")
    uploads = [r for r in proxy.records(UPLOAD, since=m)]
    assert uploads and all(r.status == 200 for r in uploads), f"the upload must be done first: {uploads}"
    p.sigkill()
    proxy.wait_for(ROOM_SEND, timeout=10, since=held.n, done=True)
    assert "dropped" in held.outcome, held
    proxy.release()
    assert conv.new_events() == []

    m2 = proxy.mark()
    assert_flushed(conv.lead, 1)
    got = conv.assert_received([conv.body(1)])
    assert len(got[0][2]) == 1, got
    check_attachment(conv, got[0][0], f, tmp_path)
    reuploads = proxy.records(UPLOAD, since=m2)
    print(f"uploads before the kill: {len(uploads)}, after the restart: {len(reuploads)}")


def test_killed_after_synapse_has_the_event_but_before_the_client_knows(conversation, proxy):
    """(d) Synapse has stored the event, its answer is held back (and so is every sync answer,
    which would bring the remote echo), the app is killed. After restart the queue may send the
    same transaction again, never a new one: the homeserver has one event."""
    conv = conversation
    proxy.hold(ROOM_SEND, "request")
    m = proxy.mark()
    p = conv.background(conv.lead, "--timeout", SEND_TIMEOUT, "send", "--room", conv.room, conv.body(1))
    p.wait_doc("queued", QUEUED_WITHIN)
    held = proxy.wait_for(ROOM_SEND, timeout=60, since=m, held="request")
    # From here on the client learns nothing: neither the PUT's answer nor a sync answer.
    proxy.hold(SYNC, "response")
    proxy.hold(ROOM_SEND, "response")
    proxy.release(ROOM_SEND, "request")
    proxy.wait_for(ROOM_SEND, timeout=30, since=held.n, held="response")
    assert held.status == 200, held
    wait_for("the event on the homeserver", lambda: len(conv.new_events()) == 1, timeout=10)
    p.sigkill()
    proxy.wait_for(ROOM_SEND, timeout=10, since=held.n, done=True)
    assert "withheld" in held.outcome, held
    proxy.release()

    m2 = proxy.mark()
    assert_flushed(conv.lead, 1)
    conv.lead.json("send", "--room", conv.room, conv.body(2))
    conv.assert_received([conv.body(1), conv.body(2)])
    later = [r.path for r in proxy.records(ROOM_SEND, since=m2)]
    assert len(set(later) - {held.path}) == 1, \
        f"message 1 may only be retried under its own transaction id {held.path}; event PUTs after restart: {later}"
    print(f"after restart: {later.count(held.path)} retry of the same transaction, {len(later)} event PUTs")


def test_homeserver_stopped_and_started(stack, cli, tmp_path):
    """(e) The real homeserver A is stopped (no proxy): a send gives up with
    homeserver_unreachable and keeps the message; another is killed after `queued`; a third
    waits. When A is back the waiting process sends all three, in order, once."""
    conv = Conversation(stack, cli, stack["homeservers"]["a"]["base_url"], uuid.uuid4().hex[:4])
    waiting = None
    stackctl("stop", "hs-a", stack=stack)
    try:
        p = conv.lead.run("--timeout", "5", "send", "--room", conv.room, conv.body(1), check=False, timeout=120)
        assert p.returncode == 2, f"expected exit 2 while the homeserver is down: {p.stdout} {p.stderr[-1500:]}"
        assert doc(docs(p.stdout), "queued") == {"room": conv.room, "count": 1}, p.stdout
        assert json.loads(p.stderr.strip().splitlines()[-1])["error"]["code"] == "homeserver_unreachable"
        k = Running(conv.lead, "--timeout", SEND_TIMEOUT, "send", "--room", conv.room, conv.body(2))
        k.wait_doc("queued", QUEUED_WITHIN)
        k.sigkill()
        waiting = Running(conv.lead, "--timeout", "180", "send", "--room", conv.room, conv.body(3))
        waiting.wait_doc("queued", QUEUED_WITHIN)
        time.sleep(3)  # a few failed attempts while it is down
    finally:
        stackctl("start", "hs-a", stack=stack)
    rc, out, err = waiting.finish(timeout=200)
    assert rc == 0, f"the waiting send did not go out after the homeserver came back ({rc}): {out} {err[-2000:]}"
    conv.assert_received([conv.body(1), conv.body(2), conv.body(3)], timeout=90)
    assert not unsent(conv.lead)


def test_permanent_rejection_does_not_block_later_messages(conversation, proxy):
    """(f) Queued offline: a normal message, one whose event is too large for the homeserver
    (413 M_TOO_LARGE), two more. Online again, every normal one arrives in order, once; the
    refused one is reported by `flush` and stays listed as unsent, also in a new process."""
    conv = conversation
    proxy.refuse()
    big = conv.body(2, "groot " + "x" * TOO_BIG)
    lines = [conv.body(1), big, conv.body(3), conv.body(4)]
    p = conv.background(conv.lead, "--timeout", SEND_TIMEOUT, "send", "--room", conv.room, "--lines",
                        stdin="".join(b + "\n" for b in lines))
    assert p.wait_doc("queued", QUEUED_WITHIN)["count"] == 4
    p.sigkill()

    proxy.open()
    m = proxy.mark()
    rc, out, err = flush(conv.lead)
    assert rc == 2, f"flush must fail with exit 2 when a message is refused: {rc} {out} {err[-1500:]}"
    assert json.loads(err.strip().splitlines()[-1])["error"]["code"] == "send_rejected", err[-1500:]
    refused = doc(out, "unsent")
    assert refused and len(refused) == 1, f"exactly the large message is unsent: {out}"
    assert refused[0]["room"] == conv.room and refused[0]["body"].startswith(conv.body(2)), refused
    assert refused[0]["code"] == "tooLarge", refused
    too_large = [r for r in proxy.records(ROOM_SEND, since=m) if r.status == 413]
    assert too_large, f"Synapse itself must have refused it: {proxy.records(ROOM_SEND, since=m)}"

    conv.assert_received([conv.body(1), conv.body(3), conv.body(4)])
    # Later messages still go out, the refused one stays visible as unsent until discarded.
    conv.lead.json("send", "--room", conv.room, conv.body(5))
    conv.assert_received([conv.body(1), conv.body(3), conv.body(4), conv.body(5)])
    listed = unsent(conv.lead)
    assert listed and len(listed) == 1, f"queue must list the refused message: {listed}"
    state = listed[0]["state"]  # "failed", or {"state": "failed", …} as in the plan's wording
    assert listed[0]["body"].startswith(conv.body(2)), listed
    assert (state.get("state") if isinstance(state, dict) else state) == "failed", listed
    assert listed[0]["room"] == conv.room and listed[0]["item"], listed
