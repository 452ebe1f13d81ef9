#!/usr/bin/env python3
"""A real desktop-notification path for tests, with a recording of everything said on it.

`DesktopNotifications` starts, each on its own and stopped by PID:
  - a private D-Bus session bus (dbus-daemon with its own config: no service activation, so
    nothing on the machine is started behind the test's back, and nothing outside sees it);
  - Xvfb on a free display (-displayfd) for the notification daemon;
  - dunst, a real org.freedesktop.Notifications server (Debian's dunst), with a config that keeps
    every notification on screen until it is closed (no expiry, no stacking of duplicates), so
    its default action can be invoked the way a click would (`dunstctl action`);
  - dbus-monitor --pcap on that bus, recording every message; this module decodes the D-Bus wire
    format itself (dbus-monitor's text output does not quote strings, a body with a quote or a
    newline would be ambiguous), with the time dbus-monitor saw each message.

The program under test gets `env` (DBUS_SESSION_BUS_ADDRESS of the private bus). What it did is
in `events()`, one dict per notification happening, oldest first:
  {"kind": "notify", "t", "serial", "sender", "app_name", "replaces_id", "app_icon", "summary",
   "body", "actions": [(key, label)], "hints": {name: value}, "urgency": 0|1|2|None,
   "sound_name", "expire_timeout", "id": the id the daemon returned (None before it answered),
   "error": error name if the daemon refused}
  {"kind": "close", "t", "sender", "id"}            CloseNotification call
  {"kind": "closed", "t", "id", "reason", "destination"}  NotificationClosed signal (1 expired,
                                                    2 dismissed, 3 CloseNotification, 4 other)
  {"kind": "action", "t", "id", "action_key", "destination"}  ActionInvoked signal (dunst sends
                                                    both to the connection that sent the Notify)
  {"kind": "activation_token", "t", "id", "token"}  ActivationToken signal (spec 1.2)
  {"kind": "disconnected", "t", "name"}             a connection that sent a Notify left the bus
                                                    (it can no longer hear ActionInvoked)

Used by tests/scenarios/test_notifications_cli.py (the `desktop_notifications` fixture there);
runs without a display of its own and without a session bus. Debian packages: dbus, xvfb, dunst
(and libnotify-bin for the self-test below).

Self-test (no Kring needed): python tests/support/notifications.py
"""
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from pathlib import Path

IFACE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
REQUIRED = ("dbus-daemon", "dbus-monitor", "dbus-send", "Xvfb", "dunst", "dunstctl")

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# Everything stays on screen until closed: a test decides when a notification goes away.
DUNSTRC = """[global]
    stack_duplicates = false
    notification_limit = 0
    sticky_history = no
    history_length = 0
    show_age_threshold = -1
    idle_threshold = 0
    always_run_script = false
    dmenu = /bin/false
    browser = /bin/false
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
"""


class Unavailable(RuntimeError):
    pass


# ---------------------------------------------------------------- D-Bus wire format

class _Reader:
    """Unmarshals D-Bus values from one message (alignment is relative to the message start)."""
    ALIGN = {"y": 1, "b": 4, "n": 2, "q": 2, "i": 4, "u": 4, "x": 8, "t": 8, "d": 8, "h": 4,
             "s": 4, "o": 4, "g": 1, "a": 4, "(": 8, "{": 8, "v": 1}
    FIXED = {"y": "B", "b": "I", "n": "h", "q": "H", "i": "i", "u": "I", "x": "q", "t": "Q", "d": "d", "h": "I"}

    def __init__(self, data, endian):
        self.data, self.e, self.pos = data, endian, 0

    def align(self, n):
        self.pos += (-self.pos) % n

    def value(self, sig):
        """Reads one complete type from the front of `sig`; returns (value, rest of sig)."""
        c = sig[0]
        self.align(self.ALIGN[c])
        if c in self.FIXED:
            fmt = self.e + self.FIXED[c]
            (v,) = struct.unpack_from(fmt, self.data, self.pos)
            self.pos += struct.calcsize(fmt)
            return (bool(v) if c == "b" else v), sig[1:]
        if c in "so":
            (n,) = struct.unpack_from(self.e + "I", self.data, self.pos)
            self.pos += 4
            v = self.data[self.pos:self.pos + n].decode("utf-8", "replace")
            self.pos += n + 1
            return v, sig[1:]
        if c == "g":
            n = self.data[self.pos]
            v = self.data[self.pos + 1:self.pos + 1 + n].decode()
            self.pos += n + 2
            return v, sig[1:]
        if c == "v":
            inner, _ = self.value("g")
            v, _ = self.value(inner)
            return v, sig[1:]
        if c == "(":
            end = _close(sig, 0)
            inner, out = sig[1:end], []
            self.align(8)
            while inner:
                v, inner = self.value(inner)
                out.append(v)
            return tuple(out), sig[end + 1:]
        if c == "a":
            (n,) = struct.unpack_from(self.e + "I", self.data, self.pos)
            self.pos += 4
            elem = _one_type(sig[1:])
            self.align(self.ALIGN[elem[0]])
            end, items = self.pos + n, []
            while self.pos < end:
                if elem[0] == "{":
                    self.align(8)
                    k, rest = self.value(elem[1:-1])
                    v, _ = self.value(rest)
                    items.append((k, v))
                else:
                    v, _ = self.value(elem)
                    items.append(v)
            return (dict(items) if elem[0] == "{" else items), sig[1 + len(elem):]
        raise ValueError(f"unknown D-Bus type {c!r} in {sig!r}")


def _close(sig, i):
    """Index of the bracket that closes the one at sig[i]."""
    depth, pairs = 0, {"(": ")", "{": "}"}
    opener = sig[i]
    for j in range(i, len(sig)):
        if sig[j] == opener:
            depth += 1
        elif sig[j] == pairs[opener]:
            depth -= 1
            if depth == 0:
                return j
    raise ValueError(f"unbalanced signature {sig!r}")


def _one_type(sig):
    if sig[0] == "a":
        return "a" + _one_type(sig[1:])
    if sig[0] in "({":
        return sig[:_close(sig, 0) + 1]
    return sig[0]


TYPES = {1: "method_call", 2: "method_return", 3: "error", 4: "signal"}
FIELDS = {1: "path", 2: "interface", 3: "member", 4: "error_name", 5: "reply_serial",
          6: "destination", 7: "sender", 8: "signature", 9: "unix_fds"}


def decode_message(data):
    e = "<" if data[:1] == b"l" else ">"
    r = _Reader(data, e)
    _, mtype, flags, _version = struct.unpack_from("BBBB", data, 0)
    body_len, serial = struct.unpack_from(e + "II", data, 4)
    r.pos = 12
    fields, _ = r.value("a(yv)")
    msg = {"type": TYPES.get(mtype, mtype), "serial": serial, "flags": flags}
    for code, value in fields:
        msg[FIELDS.get(code, code)] = value
    r.align(8)
    body, sig = [], msg.get("signature", "")
    r.data = data[:r.pos + body_len]
    while sig:
        v, sig = r.value(sig)
        body.append(v)
    msg["body"] = body
    return msg


def pcap_records(data):
    """(timestamp, message bytes) for every complete record of a pcap stream (linktype DBUS)."""
    if len(data) < 24:
        return
    magic = data[:4]
    e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack_from(e + "IIII", data, off)
        if off + 16 + incl > len(data):
            return  # dbus-monitor is still writing this one
        yield sec + frac / (1e9 if nano else 1e6), data[off + 16:off + 16 + incl]
        off += 16 + incl


def notification_events(messages):
    """The org.freedesktop.Notifications happenings among decoded messages (see the module doc)."""
    events, calls, senders = [], {}, set()
    for t, m in messages:
        member, body = m.get("member"), m["body"]
        if m["type"] == "method_call" and m.get("interface") == IFACE and member == "Notify" and len(body) == 8:
            app_name, replaces_id, icon, summary, text, actions, hints, expire = body
            ev = {"kind": "notify", "t": t, "serial": m["serial"], "sender": m.get("sender"),
                  "app_name": app_name, "replaces_id": replaces_id, "app_icon": icon, "summary": summary,
                  "body": text, "actions": list(zip(actions[0::2], actions[1::2])), "hints": hints,
                  "urgency": hints.get("urgency"), "sound_name": hints.get("sound-name"),
                  "expire_timeout": expire, "id": None, "error": None}
            calls[(m.get("sender"), m["serial"])] = ev
            senders.add(m.get("sender"))
            events.append(ev)
        elif m["type"] == "method_call" and m.get("interface") == IFACE and member == "CloseNotification":
            events.append({"kind": "close", "t": t, "sender": m.get("sender"), "id": body[0] if body else None})
        elif m["type"] in ("method_return", "error") and (m.get("destination"), m.get("reply_serial")) in calls:
            ev = calls.pop((m.get("destination"), m.get("reply_serial")))
            if m["type"] == "error":
                ev["error"] = m.get("error_name")
            elif body:
                ev["id"] = body[0]
        elif m["type"] == "signal" and m.get("member") == "NameOwnerChanged" and m.get("sender") == "org.freedesktop.DBus":
            name, old, new = body
            if name.startswith(":") and old and not new and name in senders:
                events.append({"kind": "disconnected", "t": t, "name": name})
        elif m["type"] == "signal" and m.get("interface") == IFACE:
            if member == "NotificationClosed":
                events.append({"kind": "closed", "t": t, "id": body[0], "reason": body[1],
                               "destination": m.get("destination")})
            elif member == "ActionInvoked":
                events.append({"kind": "action", "t": t, "id": body[0], "action_key": body[1],
                               "destination": m.get("destination")})
            elif member == "ActivationToken":
                events.append({"kind": "activation_token", "t": t, "id": body[0], "token": body[1]})
    return events


# ---------------------------------------------------------------- the running path

class DesktopNotifications:
    def __init__(self, workdir=None, log=None):
        self.own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="kring-notify-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        # A unix socket path must stay under 108 bytes: the bus lives in a short /tmp directory.
        self.sock_dir = Path(tempfile.mkdtemp(prefix="kring-bus-", dir="/tmp"))
        self.pcap = self.dir / "bus.pcap"
        self.log = log
        self.procs = []  # (name, Popen), in start order
        self.address = self.display = None

    # -- lifecycle

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=15):
        missing = [b for b in REQUIRED if not shutil.which(b)]
        if missing:
            raise Unavailable(f"missing {', '.join(missing)}: run scripts/setup (Debian: dbus, xvfb, dunst)")
        try:
            self._start_bus(timeout)
            self._start_monitor(timeout)
            self._start_display(timeout)
            self._start_daemon(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name, argv, **kw):
        out = open(self.dir / f"{name}.log", "wb")
        kw.setdefault("stdout", out)
        p = subprocess.Popen(argv, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        self.procs.append((name, p))
        return p

    def _start_bus(self, timeout):
        conf = self.dir / "bus.conf"
        conf.write_text(BUS_CONFIG.format(socket=self.sock_dir / "bus"))
        r, w = os.pipe()
        try:
            self._spawn("dbus-daemon", ["dbus-daemon", "--nofork", "--nopidfile", f"--config-file={conf}",
                                        f"--print-address={w}"], pass_fds=(w,))
        finally:
            os.close(w)
        self.address = _read_line(r, timeout, "dbus-daemon's address").strip()
        os.close(r)

    def _start_monitor(self, timeout):
        self._spawn("dbus-monitor", ["dbus-monitor", "--address", self.address, "--pcap"],
                    stdout=open(self.pcap, "wb"))
        # dbus-monitor's first message is its own NameAcquired: from then on nothing is missed.
        _until(lambda: self.messages(), timeout, "dbus-monitor to be recording", self)

    def _start_display(self, timeout):
        r, w = os.pipe()
        try:
            self._spawn("Xvfb", ["Xvfb", "-displayfd", str(w), "-screen", "0", "800x600x24", "-nolisten", "tcp",
                                 "-noreset"], pass_fds=(w,))
        finally:
            os.close(w)
        self.display = ":" + _read_line(r, timeout, "Xvfb's display number").strip()
        os.close(r)

    def _start_daemon(self, timeout):
        rc = self.dir / "dunstrc"
        rc.write_text(DUNSTRC)
        env = dict(os.environ, DISPLAY=self.display, DBUS_SESSION_BUS_ADDRESS=self.address)
        env.pop("WAYLAND_DISPLAY", None)
        self._spawn("dunst", ["dunst", "-config", str(rc)], env=env)
        _until(lambda: self.server_information(), timeout, "dunst to own org.freedesktop.Notifications", self)

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in reversed(self.procs):
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        self.procs = []
        shutil.rmtree(self.sock_dir, ignore_errors=True)
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def check_alive(self):
        dead = [f"{n} (exit {p.returncode}): {self.logs(n)[-500:]}" for n, p in self.procs if p.poll() is not None]
        if dead:
            raise AssertionError("notification path broke: " + "; ".join(dead))

    def logs(self, name):
        try:
            return (self.dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""

    # -- what a program under test needs

    @property
    def env(self):
        """Environment additions for the program under test."""
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def _daemon_env(self):
        return dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.address, DISPLAY=self.display)

    # -- the recording

    def messages(self):
        """Every message on the bus so far: [(time, decoded message)]."""
        try:
            data = self.pcap.read_bytes()
        except OSError:
            return []
        return [(t, decode_message(m)) for t, m in pcap_records(data)]

    def events(self):
        return notification_events(self.messages())

    def notifies(self, pred=lambda n: True):
        return [e for e in self.events() if e["kind"] == "notify" and pred(e)]

    def wait_for(self, what, fn, timeout=30, interval=0.2):
        """Polls fn(events) until it returns something truthy; fails after `timeout` seconds with
        the recording so far."""
        deadline = time.monotonic() + timeout
        while True:
            value = fn(self.events())
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                     f"notifications on the bus: {self.describe()}")
            self.check_alive()
            time.sleep(interval)

    def describe(self, events=None):
        """The recording in short, for failure messages."""
        return [{k: (round(v, 2) if k == "t" else v) for k, v in e.items() if k not in ("app_icon", "serial")}
                for e in (self.events() if events is None else events)]

    # -- the daemon, the way a person uses it

    def server_information(self):
        p = subprocess.run(["dbus-send", f"--bus={self.address}", "--print-reply=literal", f"--dest={IFACE}",
                            PATH, f"{IFACE}.GetServerInformation"], capture_output=True, text=True, timeout=10)
        return p.stdout.split() if p.returncode == 0 else None

    def dunstctl(self, *args):
        p = subprocess.run(["dunstctl", *args], env=self._daemon_env(), capture_output=True, text=True, timeout=10)
        if p.returncode != 0:
            raise AssertionError(f"dunstctl {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p.stdout.strip()

    def displayed(self):
        """How many notifications dunst shows now."""
        return int(self.dunstctl("count", "displayed"))

    def click(self, position=0):
        """Invokes the default action of the notification at `position` on screen (0 = the top),
        what clicking it does ("dunstctl action")."""
        self.dunstctl("action", str(position))

    def close_all(self):
        self.dunstctl("close-all")


def _read_line(fd, timeout, what):
    import select
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise Unavailable(f"no {what} within {timeout}s")
        chunk = os.read(fd, 256)
        if not chunk:
            raise Unavailable(f"no {what}: the process ended")
        buf += chunk
    return buf.decode()


def _until(fn, timeout, what, path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return
        path.check_alive()
        time.sleep(0.05)
    raise Unavailable(f"timed out waiting for {what}")


# ---------------------------------------------------------------- self-test with notify-send

def _self_test():
    if not shutil.which("notify-send"):
        raise SystemExit("notify-send missing (Debian: libnotify-bin)")
    t0 = time.monotonic()
    with DesktopNotifications() as dn:
        print(f"up in {time.monotonic() - t0:.2f}s: bus {dn.address}, display {dn.display}, "
              f"server {dn.server_information()}")
        env = dict(os.environ, **dn.env)
        body = 'Nieuw "bericht"\nregel 2 & <b>'
        subprocess.run(["notify-send", "-a", "kring-selftest", "-u", "normal", "Anna in Wondzorg", "gewoon"],
                       env=env, check=True, timeout=10)
        waiter = subprocess.Popen(["notify-send", "-a", "kring-selftest", "-u", "critical", "-A", "default=Openen",
                                   "-h", "string:sound-name:message-new-instant", "-t", "0",
                                   "Urgent: Anna in Wondzorg", body], env=env, stdout=subprocess.PIPE, text=True)
        urgent = dn.wait_for("the urgent notification", lambda ev: [
            e for e in ev if e["kind"] == "notify" and e["urgency"] == 2 and e["id"]], timeout=10)[0]
        normal = dn.notifies(lambda e: e["summary"] == "Anna in Wondzorg")[0]
        assert normal["urgency"] == 1 and normal["body"] == "gewoon", normal
        assert urgent["body"] == body and urgent["sound_name"] == "message-new-instant", urgent
        assert urgent["actions"] == [("default", "Openen")] and urgent["expire_timeout"] == 0, urgent
        assert dn.displayed() == 2, dn.displayed()
        dn.click(0)  # critical sorts first
        out, _ = waiter.communicate(timeout=10)
        assert out.strip() == "default", out
        dn.wait_for("ActionInvoked", lambda ev: [e for e in ev if e["kind"] == "action" and e["id"] == urgent["id"]
                                                 and e["action_key"] == "default"], timeout=5)
        # CloseNotification through the daemon's own interface, as an app withdrawing one would.
        subprocess.run(["dbus-send", f"--bus={dn.address}", "--print-reply", f"--dest={IFACE}", PATH,
                        f"{IFACE}.CloseNotification", f"uint32:{normal['id']}"], check=True, capture_output=True)
        dn.wait_for("NotificationClosed 3", lambda ev: [e for e in ev if e["kind"] == "closed"
                                                        and e["id"] == normal["id"] and e["reason"] == 3], timeout=5)
        for e in dn.describe():
            print(e)
        pids = [p.pid for _, p in dn.procs]
    alive = [pid for pid in pids if os.path.exists(f"/proc/{pid}") and
             Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"]
    assert not alive, f"left running: {alive}"
    print(f"self-test passed in {time.monotonic() - t0:.2f}s")


if __name__ == "__main__":
    _self_test()
