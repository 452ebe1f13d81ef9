"""Urgent messages, desktop notifications, repeat-until-read and push (issue #6), through the CLI
against the real stack.

Two practitioners of organisation A share an encrypted care-team conversation: the lead sends,
the nurse's Kring runs `kring-cli --json notifications watch` on a private D-Bus session bus with a
real notification daemon (tests/support/notifications.py: dbus-daemon, Xvfb, dunst, and a
dbus-monitor recording of every org.freedesktop.Notifications call and signal). So what is checked
is what the desktop was told, not what Kring says it did:

  watch  -> {"watching":true}, then {"notification":{"kind":"shown"|"repeated"|"withdrawn"|"activated",
            "room","eventId","urgent","repeat"}} per happening
  bus    -> Notify(app_name, replaces_id, icon, summary, body, actions, hints{urgency, sound-name}, timeout),
            CloseNotification(id), NotificationClosed(id, reason), ActionInvoked(id, key)

Push is checked at the other end: the stack's recording push gateway (what Synapse sent, content-free
event_id_only) and the recipient's own GET /notifications over plain HTTP (the homeserver's push
rule evaluation: an urgent message is highlighted, a normal one is not).
"""
import contextvars
import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests

from conftest import REPO, Matrix, fresh_user
from test_cli import Cli

sys.path.insert(0, str(REPO / "tests" / "support"))
from faultproxy import FaultProxy  # noqa: E402
from notifications import DesktopNotifications, Unavailable  # noqa: E402

LEAD_NAME = "Dr. Noor Bakker"
SHOWN_WITHIN = 30      # seconds from `sent` to the notification on the bus
WATCH_LIMIT = "150"    # every watch ends by itself (--seconds) even if a test forgets it
QUIET = 4              # seconds to wait for something that must not come


def docs(text):
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def desktop(tmp_path):
    """A private session bus with dunst on its own Xvfb, recorded by dbus-monitor."""
    dn = DesktopNotifications(tmp_path / "desktop")
    try:
        dn.start()
    except Unavailable as e:
        pytest.fail(f"no desktop-notification path: {e}")
    yield dn
    dn.stop()


class Team:
    """The lead (sender) and the nurse (recipient), both signed in with kring-cli, in one care team.
    Each test gets its own conversation(s) in it."""

    def __init__(self, stack, cli_bin, tmp):
        self.stack, self.cli_bin, self.tmp = stack, cli_bin, tmp
        self.hs = stack["homeservers"]["a"]["base_url"]
        tag = uuid.uuid4().hex[:6]
        self.lead_u, self.nurse_u = fresh_user(stack, "a", f"nt-lead-{tag}"), fresh_user(stack, "a", f"nt-nurse-{tag}")
        # The sender's display name, set before any room exists, is what a notification must name.
        Matrix(self.hs, self.lead_u["localpart"], self.lead_u["password"]).put(
            f"/profile/{self.lead_u['mxid']}/displayname", {"displayname": LEAD_NAME})
        self.profiles = []
        self.lead, self.nurse = self.device(self.lead_u, "lead"), self.device(self.nurse_u, "nurse")
        self.space = self.lead.json("care-team", "create", "--client-name", "Mw. L. Jansen",
                                    "--pseudo-bsn", "9" + str(uuid.uuid4().int)[:10])["spaceId"]
        self.lead.json("care-team", "invite", "--space", self.space, "--user", self.nurse_u["mxid"],
                       "--role", "practitioner")
        wait_for("the care-team invite", lambda: [i for i in self.nurse.json("care-team", "invites")
                                                  if i["spaceId"] == self.space])
        self.nurse.json("care-team", "accept", "--space", self.space)
        self._http = None
        self._other = None

    def device(self, u, name):
        """A kring-cli profile signed in as `u` (one more device of that account)."""
        c = Cli(self.cli_bin, self.tmp, f"{name}-{len(self.profiles)}")
        c.login(self.stack, u)
        self.profiles.append(c)
        return c

    @property
    def nurse_http(self):
        """The recipient's account over plain HTTP (its own device, no Kring)."""
        if self._http is None:
            self._http = Matrix(self.hs, self.nurse_u["localpart"], self.nurse_u["password"])
        return self._http

    @property
    def nurse_other_device(self):
        """The recipient's second Kring device (say, the laptop at the ward)."""
        if self._other is None:
            self._other = self.device(self.nurse_u, "nurse-other")
        return self._other

    def conversation(self, subject, sensitive=False):
        """A new encrypted conversation lead -> nurse; the nurse has joined and read it."""
        room = self.lead.json("conversation", "start", "--space", self.space, "--subject", subject,
                              "--to", self.nurse_u["mxid"], *(["--sensitive"] if sensitive else []),
                              "Start van het gesprek.")["roomId"]
        wait_for("the conversation at the nurse", lambda: [
            c for c in self.nurse.json("conversation", "list", "--space", self.space) if c["roomId"] == room])
        self.nurse.json("conversation", "join", "--room", room)
        enc = self.nurse_http.get(f"/rooms/{room}/state/m.room.encryption/")
        assert enc["algorithm"] == "m.megolm.v1.aes-sha2", enc
        # Nothing unread before the test starts: every notification afterwards is the test's.
        wait_for("the nurse's read receipt", lambda: self.nurse.run("read", "--room", room, check=False).returncode == 0)
        return room

    def send(self, room, text, urgent=False, by=None):
        args = ["send", "--room", room, *(["--urgent"] if urgent else []), text]
        event_id = (by or self.lead).json(*args)["eventId"]
        assert event_id.startswith("$")
        return event_id

    def watch(self, desktop, *args, device=None):
        return Watch(device or self.nurse, desktop, *args)

    def close(self):
        for c in self.profiles:
            c.run("logout", check=False)


@pytest.fixture(scope="module")
def team(stack, cli_bin, tmp_path_factory):
    t = Team(stack, cli_bin, tmp_path_factory.mktemp("notifications"))
    yield t
    t.close()


class Watch:
    """`kring-cli --json notifications watch ...` in the background, on the test's desktop bus."""

    def __init__(self, c, desktop, *args):
        self.args = ["notifications", "watch", "--seconds", WATCH_LIMIT, *args]
        env = dict(c.env, **desktop.env)
        self.p = subprocess.Popen([str(c.binary), "--json", *self.args], env=env, text=True,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.seen, self.err, self.lock = [], [], threading.Lock()
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=lambda: self.err.extend(self.p.stderr), daemon=True).start()
        self.wait("watching", lambda d: d.get("watching") is True, timeout=60)

    def _pump(self):
        for line in self.p.stdout:
            with self.lock:
                self.seen += [(time.time(), d) for d in docs(line)]

    def notifications(self, kind=None, event_id=None):
        with self.lock:
            found = [d["notification"] for _, d in self.seen if "notification" in d]
        return [n for n in found if (kind is None or n.get("kind") == kind)
                and (event_id is None or n.get("eventId") == event_id)]

    def wait(self, what, pred, timeout=SHOWN_WITHIN):
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                hit = [d for _, d in self.seen if pred(d)]
            if hit:
                return hit[0]
            if self.p.poll() is not None or time.monotonic() > deadline:
                time.sleep(0.2)  # the last lines
                raise AssertionError(f"watch printed no {what} within {timeout}s (exit {self.p.poll()}): "
                                     f"stdout {[d for _, d in self.seen]} stderr {''.join(self.err)[-2000:]}")
            time.sleep(0.1)

    def wait_notification(self, kind, event_id, timeout=SHOWN_WITHIN, **more):
        def pred(d):
            n = d.get("notification") or {}
            return n.get("kind") == kind and n.get("eventId", event_id) == event_id and \
                all(n.get(k) == v for k, v in more.items())
        return self.wait(f"{kind} {more or ''} for {event_id}", pred, timeout)["notification"]

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
        return [d for _, d in self.seen]


@pytest.fixture
def watches():
    """Starts watches for a test and stops every one of them (by PID) afterwards."""
    running = []

    def start(team, desktop, *args, device=None):
        w = team.watch(desktop, *args, device=device)
        running.append(w)
        return w
    yield start
    for w in running:
        w.stop()


def wait_for(what, fn, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def notified(desktop, n, what):
    """Waits until the daemon answered `n` Notify calls; returns all of them."""
    return desktop.wait_for(what, lambda ev: (lambda ns: ns if len(ns) >= n and all(x["id"] for x in ns[:n]) else None)(
        [e for e in ev if e["kind"] == "notify"]), timeout=SHOWN_WITHIN)


# ---------------------------------------------------------------- normal and urgent

def test_a_normal_message_notifies_sender_and_conversation_but_not_the_text(team, desktop, watches):
    room = team.conversation("Wondzorg")
    watch = watches(team, desktop, "--repeat-after", "600", "--repeat-count", "3")
    text = f"Verband vervangen om 14:00 {uuid.uuid4().hex[:6]}"
    event_id = team.send(room, text)

    shown = watch.wait_notification("shown", event_id)
    assert shown == {"kind": "shown", "room": room, "eventId": event_id, "urgent": False, "repeat": 0}, shown
    [n] = notified(desktop, 1, "the Notify call")
    time.sleep(QUIET)
    assert len(desktop.notifies()) == 1, f"one message, one notification: {desktop.describe()}"
    assert n["urgency"] == 1, f"a normal message has normal urgency (byte 1): {n}"
    assert n["sound_name"] is None, f"only urgent messages ask for a sound: {n}"
    assert LEAD_NAME in n["summary"] and "Wondzorg" in n["summary"], f"summary names sender and conversation: {n}"
    assert not n["summary"].startswith("Urgent"), n
    assert text not in n["body"] and text not in n["summary"] and "14:00" not in n["body"], \
        f"by default the text stays off the screen: {n}"
    assert n["body"], f"the body still says there is a message: {n}"
    assert "default" in dict(n["actions"]), f"a default action, so clicking opens the conversation: {n}"
    assert n["error"] is None, n


def test_with_show_text_the_notification_carries_the_text(team, desktop, watches):
    room = team.conversation("Medicatie")
    # Watch options are saved as the profile's settings: a device of its own keeps the other tests clean.
    device = team.device(team.nurse_u, "nurse-show-text")
    watch = watches(team, desktop, "--show-text", "--repeat-after", "600", device=device)
    text = f"Paracetamol 1 g gegeven {uuid.uuid4().hex[:6]}"
    event_id = team.send(room, text)
    watch.wait_notification("shown", event_id, urgent=False)
    [n] = notified(desktop, 1, "the Notify call")
    assert text in n["body"], f"--show-text puts the message text in the body: {n}"
    assert n["urgency"] == 1 and LEAD_NAME in n["summary"], n


def test_while_locked_a_notification_names_no_one(team, desktop, watches):
    """With a PIN set, a Kring that starts runs locked (quitting is no way around the lock), and
    then a notification names no sender and no conversation, not even with the text turned on."""
    room = team.conversation("Wondzorg thuis")
    device = team.device(team.nurse_u, "nurse-locked")
    assert device.error("app-lock", "set-pin", input="123\n")["code"] == "app_lock_pin_invalid"
    state = device.json("app-lock", "set-pin", input="48291\n")
    assert state["pinSet"] and state["enabled"], state
    assert device.error("app-lock", "unlock", input="11111\n")["code"] == "app_lock_pin_wrong"
    assert device.json("app-lock", "status")["attemptsLeft"] == 2
    assert device.json("app-lock", "unlock", input="48291\n")["attemptsLeft"] == 3, "a right PIN resets the count"
    watch = watches(team, desktop, "--show-text", "--repeat-after", "600", device=device)
    text = f"Verband vervangen {uuid.uuid4().hex[:6]}"
    event_id = team.send(room, text, urgent=True)
    watch.wait_notification("shown", event_id, urgent=True)
    [n] = notified(desktop, 1, "the Notify call")
    for secret in (LEAD_NAME, "Wondzorg", text):
        assert secret not in n["summary"] and secret not in n["body"], f"{secret!r} shown while locked: {n}"
    assert n["summary"] == "Urgent bericht in Kring" and n["urgency"] == 2, n


def test_a_sensitive_conversation_keeps_its_subject_and_text_off_lists_and_notifications(team, desktop, watches):
    """A senior or lead marks a conversation sensitive (m.room.topic, so every device knows it with
    the room list): lists say "Vertrouwelijk gesprek", and so does a notification, without the text
    even where the text is turned on. Lifting the mark brings the subject back."""
    subject = "Vermoeden huiselijk geweld"
    room = team.conversation(subject, sensitive=True)
    [listed] = [c for c in team.nurse.json("conversation", "list", "--space", team.space) if c["roomId"] == room]
    assert listed["sensitive"] is True and listed["subject"] == subject, listed
    rooms = wait_for("the sensitive room in the room list",
                     lambda: [r for r in team.nurse.json("rooms") if r["roomId"] == room and r["sensitive"]])
    assert rooms, rooms
    # A practitioner (50) may not lift it: the topic needs a senior (75).
    assert team.nurse.error("conversation", "sensitive", "--room", room, "--off")["code"] == "not_permitted"

    device = team.device(team.nurse_u, "nurse-sensitive")
    watch = watches(team, desktop, "--show-text", "--repeat-after", "600", device=device)
    text = f"Blauwe plekken gezien {uuid.uuid4().hex[:6]}"
    event_id = team.send(room, text)
    watch.wait_notification("shown", event_id, urgent=False)
    [n] = notified(desktop, 1, "the Notify call")
    assert n["summary"] == f"{LEAD_NAME} in Vertrouwelijk gesprek", n
    for secret in (subject, "huiselijk", text):
        assert secret not in n["summary"] and secret not in n["body"], f"{secret!r} shown: {n}"

    assert team.lead.json("conversation", "sensitive", "--room", room, "--off") == {"roomId": room, "sensitive": False}
    wait_for("the mark lifted at the nurse", lambda: [
        c for c in team.nurse.json("conversation", "list", "--space", team.space)
        if c["roomId"] == room and not c["sensitive"]])
    event_id = team.send(room, f"Gesprek gehad {uuid.uuid4().hex[:6]}")
    watch.wait_notification("shown", event_id, urgent=False)
    n = notified(desktop, 2, "the second Notify call")[1]
    assert subject in n["summary"], f"no longer sensitive, the subject is back: {n}"


def test_an_urgent_message_is_critical_with_a_sound(team, desktop, watches):
    room = team.conversation("Decubitus")
    watch = watches(team, desktop, "--repeat-after", "600", "--repeat-count", "3")
    text = f"Bloeding, kom direct {uuid.uuid4().hex[:6]}"
    event_id = team.send(room, text, urgent=True)

    shown = watch.wait_notification("shown", event_id)
    assert shown["urgent"] is True and shown["room"] == room and shown["repeat"] == 0, shown
    [n] = notified(desktop, 1, "the Notify call")
    assert n["urgency"] == 2, f"urgent means urgency critical (byte 2): {n}"
    assert n["sound_name"], f"urgent asks for a sound: {n}"
    assert LEAD_NAME in n["summary"] and "Decubitus" in n["summary"], n
    assert "urgent" in n["summary"].lower(), f"the summary says it is urgent: {n}"
    assert text not in n["body"], f"the text stays off the screen for urgent messages too: {n}"
    assert n["expire_timeout"] in (0, -1), f"an urgent notification does not time out by Kring's doing: {n}"

    # The wire format: the homeserver sees the urgent flag (for its push rule), never the text.
    ev = team.nurse_http.get(f"/rooms/{room}/event/{event_id}")
    assert ev["type"] == "m.room.encrypted", ev
    assert ev["content"].get("m.relates_to", {}).get("nl.kring.urgent") is True, \
        f"the urgent flag must be in the cleartext m.relates_to: {ev['content']}"
    assert text not in json.dumps(ev), ev


# ---------------------------------------------------------------- repeat until read

def test_an_unread_urgent_message_is_notified_again_until_the_repeat_count(team, desktop, watches):
    room = team.conversation("Valrisico")
    watch = watches(team, desktop, "--repeat-after", "3", "--repeat-count", "2")
    event_id = team.send(room, f"Patiënt gevallen {uuid.uuid4().hex[:6]}", urgent=True)

    watch.wait_notification("shown", event_id)
    watch.wait_notification("repeated", event_id, repeat=1, timeout=20)
    watch.wait_notification("repeated", event_id, repeat=2, timeout=20)
    calls = notified(desktop, 3, "three Notify calls")
    time.sleep(3 + QUIET)  # another repeat would be due by now
    calls = desktop.notifies()
    assert len(calls) == 3, f"shown once and repeated twice, then no more: {desktop.describe()}"
    assert all(c["urgency"] == 2 and c["sound_name"] for c in calls), f"every repeat is loud: {desktop.describe()}"
    gaps = [round(b["t"] - a["t"], 2) for a, b in zip(calls, calls[1:])]
    assert all(g >= 3 for g in gaps), f"repeats come after --repeat-after 3 s, gaps {gaps}"
    assert all(g < 3 + 10 for g in gaps), f"repeats come near --repeat-after 3 s, gaps {gaps}"
    assert watch.notifications("withdrawn") == [], watch.notifications()


@pytest.mark.parametrize("reader", ["kring-cli read", "plain HTTP receipt"])
def test_an_urgent_message_read_on_another_device_is_withdrawn_and_not_repeated(team, desktop, watches, reader):
    repeat_after = 8
    room = team.conversation("Sondevoeding" if reader == "kring-cli read" else "Infuus")
    if reader == "kring-cli read":
        team.nurse_other_device.json("read", "--room", room)  # its first run syncs; not timed below
    watch = watches(team, desktop, "--repeat-after", str(repeat_after), "--repeat-count", "2")
    event_id = team.send(room, f"Sonde eruit {uuid.uuid4().hex[:6]}", urgent=True)

    watch.wait_notification("shown", event_id)
    [first] = notified(desktop, 1, "the first Notify call")
    # The nurse reads it elsewhere.
    if reader == "kring-cli read":
        assert team.nurse_other_device.json("read", "--room", room)["read"] == room
    else:
        team.nurse_http.post(f"/rooms/{room}/receipt/m.read/{event_id}", {})
    read_at = time.time()
    assert read_at - first["t"] < repeat_after - 1, \
        f"the test was too slow: read {read_at - first['t']:.1f}s after the notification (repeat after {repeat_after})"

    withdrawn = watch.wait_notification("withdrawn", event_id, timeout=20)
    assert withdrawn["room"] == room, withdrawn
    closes = desktop.wait_for("CloseNotification", lambda ev: [e for e in ev if e["kind"] == "close"], timeout=10)
    assert [c["id"] for c in closes] == [first["id"]], \
        f"the open notification (id {first['id']}) is closed: {desktop.describe()}"
    desktop.wait_for("NotificationClosed (reason 3)", lambda ev: [
        e for e in ev if e["kind"] == "closed" and e["id"] == first["id"] and e["reason"] == 3], timeout=5)

    time.sleep(max(0, first["t"] + repeat_after + QUIET - time.time()))
    assert len(desktop.notifies()) == 1, f"read, so no repeat: {desktop.describe()}"
    assert watch.notifications("repeated") == [], watch.notifications()
    assert desktop.displayed() == 0, "nothing left on screen"


# ---------------------------------------------------------------- activation

def test_clicking_a_notification_opens_its_conversation(team, desktop, watches):
    room = team.conversation("Thuiszorg")
    watch = watches(team, desktop, "--repeat-after", "600")
    event_id = team.send(room, f"Graag terugbellen {uuid.uuid4().hex[:6]}")
    watch.wait_notification("shown", event_id)
    [n] = notified(desktop, 1, "the Notify call")
    assert desktop.displayed() == 1, "one notification on screen"

    desktop.click(0)
    desktop.wait_for("ActionInvoked", lambda ev: [e for e in ev if e["kind"] == "action" and e["id"] == n["id"]
                                                  and e["action_key"] == "default"], timeout=5)
    activated = watch.wait_notification("activated", event_id, timeout=10)
    assert activated["room"] == room, activated


def test_clicking_a_repeated_urgent_notification_opens_its_conversation(team, desktop, watches):
    room = team.conversation("Nachtdienst")
    watch = watches(team, desktop, "--repeat-after", "3", "--repeat-count", "1")
    event_id = team.send(room, f"Kom even kijken {uuid.uuid4().hex[:6]}", urgent=True)
    watch.wait_notification("repeated", event_id, repeat=1, timeout=SHOWN_WITHIN + 10)
    calls = notified(desktop, 2, "two Notify calls")
    assert desktop.displayed() == 1, f"the repeat replaces the first one on screen: {desktop.describe()}"

    desktop.click(0)
    desktop.wait_for("ActionInvoked", lambda ev: [e for e in ev if e["kind"] == "action"
                                                  and e["id"] == calls[-1]["id"]], timeout=5)
    try:
        activated = watch.wait_notification("activated", event_id, timeout=10)
    except AssertionError as e:
        raise AssertionError(f"{e}\non the bus: {desktop.describe()}") from None
    assert activated["room"] == room, activated


# ---------------------------------------------------------------- what stays quiet

def test_own_and_muted_messages_stay_quiet_but_urgent_gets_through(team, desktop, watches):
    muted, other = team.conversation("Logistiek"), team.conversation("Overdracht")
    set_output = team.nurse.json("conversation", "notifications", "--room", muted, "--mode", "mute")
    assert team.nurse.json("conversation", "notifications", "--room", muted)["mode"] == "mute"
    assert team.nurse.json("conversation", "notifications", "--room", other)["mode"] == "all"
    watch = watches(team, desktop, "--repeat-after", "600")

    quiet_muted = team.send(muted, "Bestelling verbandmiddelen is binnen.")
    quiet_own = team.send(other, "Ik neem de overdracht vanavond.", by=team.nurse_other_device)  # the nurse herself
    urgent_muted = team.send(muted, "Voorraad morfine op, nu bestellen!", urgent=True)
    normal_other = team.send(other, "Dank je, tot vanavond.")

    watch.wait_notification("shown", urgent_muted, urgent=True)
    watch.wait_notification("shown", normal_other, urgent=False)
    notified(desktop, 2, "two Notify calls")
    time.sleep(QUIET)
    shown = [n["eventId"] for n in watch.notifications("shown")]
    assert quiet_muted not in shown, "a normal message in a muted conversation must not notify"
    assert quiet_own not in shown, "the user's own message (from another device) must not notify"
    calls = desktop.notifies()
    assert [c["urgency"] for c in calls] == [2, 1], \
        f"only the urgent one in the muted conversation and the normal one elsewhere: {desktop.describe()}"
    assert "Logistiek" in calls[0]["summary"] and "Overdracht" in calls[1]["summary"], desktop.describe()
    assert set_output == {"room": muted, "mode": "mute"}, f"setting the mode prints the mode now in effect: {set_output}"


def test_in_mentions_mode_only_a_mention_or_an_urgent_message_notifies(team, desktop, watches):
    room = team.conversation("Medicatieoverleg")
    set_output = team.nurse.json("conversation", "notifications", "--room", room, "--mode", "mentions")
    assert set_output == {"room": room, "mode": "mentionsAndUrgent"}, set_output
    assert team.nurse.json("conversation", "notifications", "--room", room)["mode"] == "mentionsAndUrgent"
    # A mention is the nurse's name in the text, as the conversation knows her (her member event):
    # Kring sends plain text without m.mentions, so the default rule .m.rule.contains_display_name
    # (an override rule, above the room rule that keeps the rest quiet) highlights it.
    nurse_name = team.nurse_http.get(f"/rooms/{room}/state/m.room.member/{team.nurse_u['mxid']}")["displayname"]
    assert nurse_name, "the nurse has a display name in the conversation"
    watch = watches(team, desktop, "--repeat-after", "600")

    normal = team.send(room, f"Het recept ligt klaar bij de apotheek {uuid.uuid4().hex[:6]}.")
    mention = team.send(room, f"{nurse_name}, kun jij de insuline controleren? {uuid.uuid4().hex[:6]}")
    watch.wait_notification("shown", mention, urgent=False)
    calls = notified(desktop, 1, "the Notify call for the mention")
    assert len(calls) == 1, f"the mention notifies, the normal message before it not: {desktop.describe()}"
    n = calls[0]
    assert n["urgency"] == 1 and n["sound_name"] is None, f"a mention is a normal notification: {n}"
    assert LEAD_NAME in n["summary"] and "Medicatieoverleg" in n["summary"], n

    urgent = team.send(room, f"Bloedsuiker 2,1, kom direct {uuid.uuid4().hex[:6]}", urgent=True)
    watch.wait_notification("shown", urgent, urgent=True)
    calls = notified(desktop, 2, "the Notify call for the urgent message")
    time.sleep(QUIET)
    shown = [s["eventId"] for s in watch.notifications("shown")]
    assert normal not in shown, f"a normal message in a mentions-only conversation must not notify: {shown}"
    assert shown == [mention, urgent], shown
    calls = desktop.notifies()
    assert [c["urgency"] for c in calls] == [1, 2], \
        f"the mention (normal) and the urgent message (critical), nothing for the normal one: {desktop.describe()}"
    assert calls[1]["sound_name"] and "Medicatieoverleg" in calls[1]["summary"], desktop.describe()


# ---------------------------------------------------------------- a room key that comes after its message

SLIDING_SYNC = r"/org\.matrix\.simplified_msc3575/sync(\?|$)"


class SyncConnectionProxy(FaultProxy):
    """The fault proxy, able to hold one of a client's two sliding-sync connections: the SDK's
    "room-list" connection brings the rooms and their messages, its "encryption" connection the
    to-device messages, so the room keys. Both are POSTs to the same path; the connection is named
    by `conn_id` in the request body, which FaultProxy's path patterns do not see."""

    def __init__(self, upstream):
        super().__init__(upstream)
        self._body = contextvars.ContextVar("request_body", default=None)
        self._conn_of, self._conn_holds = {}, set()  # record number -> conn_id; {(conn_id, phase)}

    def _client_read_some(self, conn):
        # Called once per request, in the connection's task, to read its body: keep a copy.
        body, read = bytearray(), FaultProxy._client_read_some(conn)
        self._body.set(body)

        async def read_some(n):
            data = await read(n)
            body.extend(data)
            return data
        return read_some

    def _hold_phase(self, rec, phase):
        if phase == "request" and re.search(SLIDING_SYNC, rec.path):
            try:
                conn_id = json.loads(bytes(self._body.get() or b"{}")).get("conn_id")
            except ValueError:
                conn_id = None
            with self._lock:
                self._conn_of[rec.n] = conn_id
        with self._lock:
            if (self._conn_of.get(rec.n), phase) in self._conn_holds:
                return True
        return super()._hold_phase(rec, phase)

    def hold_connection(self, conn_id, phase):
        """Hold that connection's sync requests at `phase` ("response" also catches the long poll
        already waiting at Synapse) until release()."""
        with self._lock:
            self._conn_holds.add((conn_id, phase))

    def release(self, pattern=None, phase=None):
        if pattern is None:
            with self._lock:
                self._conn_holds = {(c, p) for c, p in self._conn_holds if phase is not None and p != phase}
        super().release(pattern, phase)

    def syncs(self, conn_id):
        with self._lock:
            return [r for r in self._records if self._conn_of.get(r.n) == conn_id]


KEY_LATE = 15  # seconds


def test_a_mention_and_an_urgent_message_whose_room_key_comes_later_still_notify(team, desktop, watches):
    """The nurse's Kring gets two messages before their room key: its encryption sync (the to-device
    connection that brings room keys) is held at the proxy, its room-list sync is not. Push rules
    applied to the still-encrypted events say "don't notify" for the mention in a mentions-only
    conversation (the homeserver's own evaluation below shows it); only after the key comes may
    Kring judge them, and then both must notify, each once.

    The key is let through KEY_LATE s after the messages: later than any fixed retry of a few
    seconds (Kring once retried for 10 s and missed such a key); Kring now tries again whenever
    room keys arrive. The sender's side cannot be used for this: the SDK sends the event only
    after its key share (/sendToDevice) is answered, so holding that holds the message too."""
    room = team.conversation("Nachtmedicatie")
    assert team.nurse.json("conversation", "notifications", "--room", room, "--mode", "mentions") == \
        {"room": room, "mode": "mentionsAndUrgent"}
    nurse_name = team.nurse_http.get(f"/rooms/{room}/state/m.room.member/{team.nurse_u['mxid']}")["displayname"]
    with SyncConnectionProxy(team.hs) as proxy:
        # The nurse's Kring on a device of its own, signed in through the proxy. It signs in after
        # the conversation started, so it has no key of the lead's session: the lead's next send
        # shares it with this device, in a to-device message on the held connection.
        device = Cli(team.cli_bin, team.tmp, f"nurse-late-key-{uuid.uuid4().hex[:4]}")
        device.json("login", "--homeserver", proxy.url, "--user", team.nurse_u["localpart"], "--password-stdin",
                    input=team.nurse_u["password"] + "\n")
        watch = None
        try:
            watch = watches(team, desktop, "--repeat-after", "600", device=device)
            # Both connections past their first answer, so the device's keys are up and it is listening.
            wait_for("both sync connections running", lambda: len(proxy.syncs("encryption")) >= 2
                     and len(proxy.syncs("room-list")) >= 2)
            proxy.hold_connection("encryption", "response")

            mention = team.send(room, f"{nurse_name}, wil jij de insuline van 22:00 geven? {uuid.uuid4().hex[:6]}")
            urgent = team.send(room, f"Saturatie 84%, kom direct {uuid.uuid4().hex[:6]}", urgent=True)

            # The room key went to Synapse, which answered the encryption sync; the answer is held.
            wait_for("the encryption sync answer held", lambda: [r for r in proxy.syncs("encryption")
                                                                  if r.held == "response" and r.done is None], 20)
            # The messages went out on the room-list connection: a request sent after both were on the
            # server is answered (it brought them) or already waiting (the one before it brought them).
            # "On the server" is the urgent event's own timestamp (same machine, wall clock), not the
            # moment the sending CLI returned: the nurse's next request may come in between.
            on_server = (team.nurse_http.get(f"/rooms/{room}/event/{urgent}")["origin_server_ts"] / 1000
                         - (time.time() - time.monotonic()))
            wait_for("the room-list sync past both messages", lambda: [
                r for r in proxy.syncs("room-list")
                if r.arrived > on_server and (r.done is not None or time.monotonic() - r.arrived > 1)], 20)
            for eid in (mention, urgent):
                assert team.nurse_http.get(f"/rooms/{room}/event/{eid}")["type"] == "m.room.encrypted"
            # What the push rules make of the encrypted events (the homeserver's evaluation of the same
            # rules the SDK applies during sync): the urgent marker is cleartext and highlights, the
            # mention is inside the ciphertext, so the room's don't-notify rule wins.
            listed = wait_for("the urgent message in the nurse's /notifications", lambda: (lambda ids: ids
                              if urgent in ids else None)([n["event"]["event_id"] for n in
                                                           team.nurse_http.get("/notifications", limit=50)["notifications"]]))
            assert mention not in listed, f"the encrypted mention must not match a notifying rule: {listed}"
            time.sleep(KEY_LATE)  # the sync answer is processed, and the key is late
            assert watch.notifications("shown") == [], \
                f"nothing can be shown before the key: {watch.notifications()} (is the key really held?)"
            held = [r for r in proxy.syncs("encryption") if r.held == "response" and r.done is None]
            assert held, f"the room key must still be held: {proxy.syncs('encryption')[-3:]}"

            released = time.time()
            proxy.release()
            shown_urgent = watch.wait_notification("shown", urgent, timeout=20)
            shown_mention = watch.wait_notification("shown", mention, timeout=20)
            assert shown_urgent == {"kind": "shown", "room": room, "eventId": urgent, "urgent": True, "repeat": 0}, \
                shown_urgent
            assert shown_mention == {"kind": "shown", "room": room, "eventId": mention, "urgent": False,
                                     "repeat": 0}, shown_mention
            calls = notified(desktop, 2, "the two Notify calls")
            time.sleep(QUIET)
            calls = desktop.notifies()
            assert len(calls) == 2 and len(watch.notifications("shown")) == 2, \
                f"each message notifies once, however it reached Kring: {watch.notifications()} {desktop.describe()}"
            assert all(c["t"] >= released - 0.5 for c in calls), f"shown only after the key came: {desktop.describe()}"
            [loud] = [c for c in calls if c["urgency"] == 2]
            [normal] = [c for c in calls if c["urgency"] == 1]
            assert loud["sound_name"] and loud["summary"].lower().startswith("urgent"), loud
            assert normal["sound_name"] is None and not normal["summary"].lower().startswith("urgent"), normal
            for c in calls:
                assert LEAD_NAME in c["summary"] and "Nachtmedicatie" in c["summary"], c
            print(f"shown {max(c['t'] for c in calls) - released:.1f}s after the key was let through")
        finally:
            if watch is not None:
                watch.stop()
            proxy.release()
            device.run("logout", check=False)


# ---------------------------------------------------------------- push

def test_push_is_content_free_and_the_homeserver_highlights_urgent(stack, team):
    gw = stack["push_gateway"]
    room = team.conversation("Mobiel")
    pushkey = f"kring-test-{uuid.uuid4().hex[:10]}"
    team.nurse.json("push", "register", "--url", gw["notify_url"], "--pushkey", pushkey)
    try:
        listed = team.nurse.json("push", "list")
        assert pushkey in json.dumps(listed), f"push list shows the new pusher: {listed}"
        [pusher] = [p for p in team.nurse_http.get("/pushers")["pushers"] if p["pushkey"] == pushkey]
        assert pusher["kind"] == "http" and pusher["app_id"] == "nl.kring.mobile", pusher
        assert pusher["data"]["url"] == gw["notify_url"] and pusher["data"]["format"] == "event_id_only", pusher

        rule = team.nurse_http.get("/pushrules/global/override/nl.kring.urgent")
        assert rule["enabled"] and ({"set_tweak": "highlight"} in rule["actions"]
                                    or {"set_tweak": "highlight", "value": True} in rule["actions"]), \
            f"Kring installed its push rule: {rule}"

        normal_text, urgent_text = f"Gewoon {uuid.uuid4().hex[:6]}", f"Dringend {uuid.uuid4().hex[:6]}"
        normal = team.send(room, normal_text)
        urgent = team.send(room, urgent_text, urgent=True)

        def pushed():
            got = [b["notification"] for b in requests.get(gw["recorded_url"], timeout=10).json()
                   if pushkey in [d.get("pushkey") for d in b["notification"].get("devices", [])]]
            by_id = {n.get("event_id"): n for n in got}
            return by_id if urgent in by_id and normal in by_id else None
        by_id = wait_for("both pushes at the gateway", pushed, timeout=30)
        for eid, text in ((urgent, urgent_text), (normal, normal_text)):
            n = by_id[eid]
            assert n["room_id"] == room, n
            assert text not in json.dumps(n) and LEAD_NAME not in json.dumps(n), f"no text, no name in a push: {n}"
            for field in ("content", "sender", "sender_display_name", "type", "room_name", "room_alias",
                          "membership", "user_is_target"):
                assert field not in n, f"event_id_only push carries {field!r}: {n}"
            [device] = n["devices"]
            assert device["pushkey"] == pushkey and device["data"].get("format") == "event_id_only", n
        # Synapse pushes every m.room.encrypted event with prio high (it cannot know what is inside), so
        # prio does not tell urgent from normal here; the highlight below does.
        assert by_id[urgent]["prio"] == "high", f"an urgent message is pushed with high priority: {by_id[urgent]}"

        # The homeserver's own evaluation, seen by the recipient: urgent highlighted, normal not.
        def actions(eid):
            found = [n for n in team.nurse_http.get("/notifications", limit=50)["notifications"]
                     if n["event"]["event_id"] == eid]
            return found[0]["actions"] if found else None
        urgent_actions, normal_actions = actions(urgent), actions(normal)
        assert urgent_actions is not None and normal_actions is not None, (urgent_actions, normal_actions)
        highlight = lambda acts: [a for a in acts if isinstance(a, dict) and a.get("set_tweak") == "highlight"]
        assert highlight(urgent_actions) and all(a.get("value", True) is True for a in highlight(urgent_actions)), \
            f"the urgent message is highlighted: {urgent_actions}"
        assert all(a.get("value", True) is False for a in highlight(normal_actions)), \
            f"a normal message is not highlighted: {normal_actions}"
        highlighted = [n["event"]["event_id"] for n in
                       team.nurse_http.get("/notifications", only="highlight", limit=50)["notifications"]]
        assert urgent in highlighted and normal not in highlighted, highlighted
    finally:
        team.nurse.run("push", "remove", "--pushkey", pushkey, check=False)
    assert pushkey not in [p["pushkey"] for p in team.nurse_http.get("/pushers")["pushers"]], "push remove removes it"
