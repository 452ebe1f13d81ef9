#!/usr/bin/env python3
"""Benchmark: 1,000 messages queued while offline, then sent when the connection is back (issue #6).

Uses a stack on a spare port base (default 7570, state in target/stack-7570; a stack already
running there is reused and left running), then:
  1. a lead signs in through tests/support/faultproxy.py (a fault injector in front of the real
     homeserver A) and starts an encrypted care-team conversation with a second practitioner;
  2. the proxy refuses connections (offline); `kring-cli send --lines` gets N stdin lines and
     prints `queued` once all are persisted;
  3. the proxy opens: the time from opening to `flushed`, and the CLI's own seconds, are measured;
     every message is counted on the homeserver over plain HTTP (N events, none twice).
     --mode live (default): the same `send --lines` process is still waiting when the proxy opens.
     --mode restart: `send --lines --timeout 5` gives up offline (exit 2, messages stay queued);
     then the proxy opens and `kring-cli flush` starts at once: the app restarted when the
     connection is back (includes restoring the session);
  4. baseline in the same run: a plain HTTP client (requests, one keep-alive session, the same
     account's token from its own login) doing N sequential PUT /send m.room.message into the same
     room, directly to Synapse and through the proxy.
Prints one table. Run:  tests/bench/send_queue.py [--messages 1000] [--port-base 7570] [--keep]
(inside `keyctl session -`: kring-cli keeps the session in the kernel keyring).
"""
import argparse
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "target" / "debug" / "kring-cli"
sys.path.insert(0, str(REPO / "tests" / "support"))
from faultproxy import FaultProxy  # noqa: E402
import synapse_accounts  # noqa: E402

ROOM_SEND = r"/rooms/[^/]+/send/m\.room\.encrypted/"


def register(hs, prefix):
    localpart, password = f"{prefix}-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    mxid = synapse_accounts.register(hs, localpart, password)["user_id"]
    return {"localpart": localpart, "password": password, "mxid": mxid}


class Kring:
    def __init__(self, data_dir, profile):
        self.env = dict(os.environ, KRING_DATA_DIR=str(data_dir), KRING_PROFILE=profile)

    def run(self, *args, input=None, timeout=120):
        p = subprocess.run([str(CLI), "--json", *args], env=self.env, input=input, capture_output=True, text=True,
                           timeout=timeout)
        if p.returncode != 0:
            sys.exit(f"kring-cli {' '.join(args)[:80]} failed ({p.returncode}): {p.stderr[-2000:]}")
        return json.loads(p.stdout.strip().splitlines()[-1])

    def login(self, homeserver, u):
        return self.run("login", "--homeserver", homeserver, "--user", u["localpart"], "--password-stdin",
                        input=u["password"] + "\n")


def until(what, fn, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.5)
    sys.exit(f"timed out waiting for {what}")


def sender_event_ids(base_url, token, room, sender):
    """Every m.room.encrypted event of `sender` in the room (plain HTTP, paginated)."""
    ids, start = [], None
    s = requests.Session()
    while True:
        params = {"dir": "b", "limit": 1000, **({"from": start} if start else {})}
        page = s.get(f"{base_url}/_matrix/client/v3/rooms/{room}/messages", params=params,
                     headers={"Authorization": f"Bearer {token}"}, timeout=60).json()
        ids += [e["event_id"] for e in page["chunk"] if e["type"] == "m.room.encrypted" and e["sender"] == sender]
        start = page.get("end")
        if not start or not page["chunk"]:
            return ids


def baseline(base_url, token, room, n, run, label):
    s = requests.Session()
    h = {"Authorization": f"Bearer {token}"}
    t = time.monotonic()
    for i in range(n):
        r = s.put(f"{base_url}/_matrix/client/v3/rooms/{room}/send/m.room.message/{run}-{label}-{i}", headers=h,
                  json={"msgtype": "m.text", "body": f"baseline {label} {run} #{i:04d}"}, timeout=30)
        r.raise_for_status()
    return time.monotonic() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--port-base", default="7570")
    ap.add_argument("--keep", action="store_true", help="leave a bench stack that this run started running")
    ap.add_argument("--flush-timeout", type=int, default=900, help="seconds to wait for `flushed`")
    ap.add_argument("--mode", choices=("live", "restart"), default="live")
    args = ap.parse_args()
    if not CLI.exists():
        sys.exit("build first: cargo build --workspace --all-targets")
    env = dict(os.environ, KRING_STACK_PORT_BASE=args.port_base)
    stackctl = REPO / "tests" / "stack" / "stackctl"
    was_running = subprocess.run([str(stackctl), "status"], env=env, capture_output=True).returncode == 0
    subprocess.run([str(stackctl), "up"], env=env, check=True, stdout=subprocess.DEVNULL)
    stack_dir = REPO / "target" / f"stack-{args.port_base}"
    stack = json.loads((stack_dir / "stack.json").read_text())
    hs = stack["homeservers"]["a"]
    run = uuid.uuid4().hex[:8]
    data = stack_dir / f"bench-send-queue-{run}"
    proxy = FaultProxy(hs["base_url"]).start()
    lead = peer = None
    try:
        lead_u, peer_u = register(hs, "bench-sq-lead"), register(hs, "bench-sq-peer")
        lead, peer = Kring(data / "lead", f"bench-sq-lead-{run}"), Kring(data / "peer", f"bench-sq-peer-{run}")
        lead.login(proxy.url, lead_u)
        peer.login(hs["base_url"], peer_u)
        space = lead.run("care-team", "create", "--client-name", "Bench cliënt",
                         "--pseudo-bsn", "9" + str(uuid.uuid4().int)[:10])["spaceId"]
        lead.run("care-team", "invite", "--space", space, "--user", peer_u["mxid"], "--role", "practitioner")
        until("the invite", lambda: any(i["spaceId"] == space for i in _list(peer.run("care-team", "invites"))))
        peer.run("care-team", "accept", "--space", space)
        room = lead.run("conversation", "start", "--space", space, "--subject", "Bench wachtrij",
                        "--to", peer_u["mxid"], "Start.")["roomId"]
        until("the conversation at the peer", lambda: any(
            c["roomId"] == room for c in _list(peer.run("conversation", "list", "--space", space))))
        peer.run("conversation", "join", "--room", room)
        token = requests.post(f"{hs['base_url']}/_matrix/client/v3/login", json={
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": lead_u["localpart"]},
            "password": lead_u["password"], "initial_device_display_name": "bench baseline"},
            timeout=10).json()["access_token"]
        before = set(sender_event_ids(hs["base_url"], token, room, lead_u["mxid"]))

        # Offline: queue N messages in one process.
        proxy.refuse()
        lines = "".join(f"{run} bericht {i:04d}\n" for i in range(args.messages))
        send_timeout = args.flush_timeout if args.mode == "live" else 5
        t_start = time.monotonic()
        p, next_doc = spawn(lead, ["--timeout", str(send_timeout), "send", "--room", room, "--lines"], lines)
        queued = next_doc("queued", 180)  # (a send that waits for a sync before queueing ends here)
        t_queued = time.monotonic()
        assert queued["count"] == args.messages, queued
        if args.mode == "restart":
            p.wait(send_timeout + 120)
            assert p.returncode == 2, f"send --lines offline: expected exit 2 (homeserver_unreachable), got {p.returncode}"
        else:
            time.sleep(2)  # offline for a moment: the queue has met the refused connection
        m = proxy.mark()
        t_open = time.monotonic()
        proxy.open()
        if args.mode == "restart":
            p, next_doc = spawn(lead, ["--timeout", str(args.flush_timeout), "flush"], None)
        flushed = next_doc("flushed", args.flush_timeout + 60)
        t_flushed = time.monotonic()
        during = proxy.records(since=m)  # what the client asked while flushing (before the baselines)
        p.wait(60)
        sends = [r for r in proxy.records(ROOM_SEND, since=m) if r.status == 200]
        ids = [i for i in sender_event_ids(hs["base_url"], token, room, lead_u["mxid"]) if i not in before]
        assert flushed["count"] == args.messages, flushed
        assert len(ids) == args.messages and len(set(ids)) == len(ids), \
            f"{len(ids)} events ({len(set(ids))} distinct) on the homeserver for {args.messages} messages"

        direct = baseline(hs["base_url"], token, room, args.messages, run, "direct")
        proxied = baseline(proxy.url, token, room, args.messages, run, "proxy")

        n = args.messages
        first_put = (sends[0].arrived - t_open) if sends else float("nan")
        print(f"send queue: {n} messages queued offline in one encrypted conversation, then the connection back "
              f"(mode {args.mode})")
        print(f"{'':44} {'seconds':>8} {'ms/message':>11}")
        print(f"{'kring: queue N offline (send --lines -> queued)':44} {t_queued - t_start:8.2f} "
              f"{(t_queued - t_start) * 1000 / n:11.1f}")
        print(f"{'kring: connection back -> flushed (wall)':44} {t_flushed - t_open:8.2f} "
              f"{(t_flushed - t_open) * 1000 / n:11.1f}")
        print(f"{'kring: flushed, the CLI`s own seconds':44} {flushed['seconds']:8.2f} "
              f"{flushed['seconds'] * 1000 / n:11.1f}")
        print(f"{'kring: connection back -> first event PUT':44} {first_put:8.2f}")
        print(f"{'baseline: plain HTTP PUT, sequential, direct':44} {direct:8.2f} {direct * 1000 / n:11.1f}")
        print(f"{'baseline: plain HTTP PUT, through the proxy':44} {proxied:8.2f} {proxied * 1000 / n:11.1f}")
        if len(sends) > 1:
            import statistics
            server = statistics.median((r.done - r.arrived) * 1000 for r in sends)
            client = statistics.median((b.arrived - a.done) * 1000 for a, b in zip(sends, sends[1:]))
            print(f"{'  per event PUT: at Synapse (median ms)':44} {'':8} {server:11.1f}")
            print(f"{'  per event PUT: answer -> next PUT (median ms)':44} {'':8} {client:11.1f}")
            others = [r for r in during if not re.search(ROOM_SEND, r.path)]
            print(f"other requests during the flush: {len(others)} "
                  f"({', '.join(f'{k} {v}' for k, v in _kinds(others).most_common(4))})")
        print(f"events on the homeserver: {len(ids)} (distinct {len(set(ids))}); event PUTs through the proxy "
              f"after opening: {len(sends)}")
    finally:
        proxy.open()
        for k in (lead, peer):
            if k is not None:
                subprocess.run([str(CLI), "logout"], env=k.env, capture_output=True, timeout=60)
        proxy.stop()
        if not args.keep and not was_running:
            subprocess.run([str(stackctl), "down"], env=env, check=False, stdout=subprocess.DEVNULL)


def spawn(k, args, stdin):
    """kring-cli in the background; returns the process and next_doc(key, timeout)."""
    p = subprocess.Popen([str(CLI), "--json", *args], env=k.env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out_q, err = queue.Queue(), []
    threading.Thread(target=lambda: [out_q.put(line) for line in p.stdout] + [out_q.put(None)], daemon=True).start()
    threading.Thread(target=lambda: err.extend(p.stderr), daemon=True).start()
    if stdin:
        threading.Thread(target=lambda: (p.stdin.write(stdin), p.stdin.close()), daemon=True).start()

    def next_doc(key, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = out_q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                p.kill()
                sys.exit(f"no {key!r} from kring-cli {args[2]} within {timeout}s; stderr: {''.join(err)[-2000:]}")
            if line is None:
                p.wait(10)
                sys.exit(f"kring-cli {args[2]} exited ({p.returncode}) without {key!r}: {''.join(err)[-2000:]}")
            d = json.loads(line) if line.strip().startswith("{") else {}
            if key in d:
                return d[key]
    return p, next_doc


def _kinds(records):
    import collections
    return collections.Counter(re.sub(r"[?].*$", "", re.sub(r"![^/]+|%21[^/]+|@[^/]+|/[0-9a-f]{16,}", "…", r.path))
                               for r in records)


def _list(v):
    return v if isinstance(v, list) else []


if __name__ == "__main__":
    main()
