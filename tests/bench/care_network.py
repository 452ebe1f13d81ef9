#!/usr/bin/env python3
"""Benchmark: the care network of a client with N participants across 3 directories (UC1).

Starts its own stack on a spare port base (default 7570, state in target/stack-7570), so the
demo and test stacks are untouched, then:
  1. seeds N practitioners (Practitioner + PractitionerRole + one Organization per directory,
     every fifth one with a current absence) into the stack's three FHIR servers,
  2. registers N Matrix accounts (two thirds on homeserver A, a third on B) and publishes each
     one's identity binding on their profile, as a first login would,
  3. lets a lead create a care team and invite them all,
  4. runs `kring-cli care-team network --refresh --stats` on a fresh data dir (cold) and again
     (warm), and, in the same run, a baseline: a plain HTTP client that reads each binding from
     the homeserver and the Practitioner, PractitionerRole and Organization from the directory,
     one request after the other.
Prints one table. Run:  tests/bench/care_network.py [--participants 50] [--keep]
"""
import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "target" / "debug" / "kring-cli"
sys.path.insert(0, str(REPO / "tests" / "support"))
import synapse_accounts  # noqa: E402


def register(hs, localpart, password):
    answer = synapse_accounts.register(hs, localpart, password)
    return answer["user_id"], answer["access_token"]


def seed_directories(stack, n, run):
    """N practitioners spread over the three FHIR servers; returns [(directory, practitioner, role)]."""
    dirs = [stack["directories"][k] for k in ("a", "b", "lrza")]
    out, bundles = [], {d: [] for d in dirs}
    for d_i, d in enumerate(dirs):
        oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{run}/org/{d_i}"))
        bundles[d].append({"resource": {"resourceType": "Organization", "id": oid, "name": f"Bench organisatie {d_i + 1}",
                                        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/ura", "value": f"9{d_i}9{run % 100000:05d}"}]},
                           "request": {"method": "PUT", "url": f"Organization/{oid}"}})
    today = time.strftime("%Y-%m-%d")
    for i in range(n):
        d = dirs[i % 3]
        oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{run}/org/{i % 3}"))
        pid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{run}/p/{i}"))
        rid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{run}/r/{i}"))
        uzi = f"8{run % 1000:03d}{i:05d}"
        role = {"resourceType": "PractitionerRole", "id": rid, "active": True,
                "practitioner": {"reference": f"Practitioner/{pid}"}, "organization": {"reference": f"Organization/{oid}"},
                "code": [{"coding": [{"system": "http://fhir.nl/fhir/NamingSystem/uzi-rolcode", "code": "30.000",
                                      "display": "Verpleegkundige"}]}]}
        if i % 5 == 0:
            role["notAvailable"] = [{"description": "Vakantie", "during": {"start": today, "end": today}}]
        bundles[d] += [
            {"resource": {"resourceType": "Practitioner", "id": pid, "name": [{"text": f"Bench Zorgverlener {i}"}],
                          "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers", "value": uzi}]},
             "request": {"method": "PUT", "url": f"Practitioner/{pid}"}},
            {"resource": role, "request": {"method": "PUT", "url": f"PractitionerRole/{rid}"}},
        ]
        out.append((d, pid, rid, oid, uzi))
    for d, entries in bundles.items():
        r = requests.post(d, json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
                          headers={"Content-Type": "application/fhir+json"}, timeout=60)
        r.raise_for_status()
    return out


def cli(*args, data_dir, profile="bench"):
    t = time.monotonic()
    p = subprocess.run([str(CLI), "--json", "--data-dir", str(data_dir), "--profile", profile, *args],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        sys.exit(f"kring-cli {' '.join(args)} failed: {p.stderr}")
    if os.environ.get("KRING_LOG"):
        sys.stderr.write(p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1]), time.monotonic() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=50)
    ap.add_argument("--port-base", default="7570")
    ap.add_argument("--keep", action="store_true", help="leave the bench stack running")
    args = ap.parse_args()
    if not CLI.exists():
        sys.exit("build first: cargo build --workspace --all-targets")
    env = dict(os.environ, KRING_STACK_PORT_BASE=args.port_base)
    stackctl = REPO / "tests" / "stack" / "stackctl"
    subprocess.run([str(stackctl), "up"], env=env, check=True, stdout=subprocess.DEVNULL)
    stack_dir = REPO / "target" / f"stack-{args.port_base}"
    stack = json.loads((stack_dir / "stack.json").read_text())
    try:
        run = int(time.time())
        people = seed_directories(stack, args.participants, run)
        eva = next(u for u in stack["users"] if u["key"] == "a-lead")
        hs_a, hs_b = stack["homeservers"]["a"], stack["homeservers"]["b"]
        lead_token = requests.post(f"{hs_a['base_url']}/_matrix/client/v3/login", json={
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": eva["localpart"]},
            "password": eva["password"]}, timeout=10).json()["access_token"]
        auth = {"Authorization": f"Bearer {lead_token}"}
        data_dir = stack_dir / f"bench-{run}"
        p = subprocess.run([str(CLI), "--data-dir", str(data_dir), "--profile", "bench", "login", "--homeserver",
                            hs_a["base_url"], "--user", eva["localpart"], "--password-stdin"],
                           input=eva["password"], capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            sys.exit(p.stderr)
        team, _ = cli("care-team", "create", "--client-name", "Bench cliënt", "--pseudo-bsn", f"9{run % 10**10:010d}",
                      data_dir=data_dir)
        space = team["spaceId"]
        members = []
        for i, (d, pid, rid, oid, uzi) in enumerate(people):
            hs = hs_b if i % 3 == 1 else hs_a
            mxid, token = register(hs, f"bench{run}-{i}", uuid.uuid4().hex)
            binding = {"uzi": uzi, "ura": "0", "role_codes": ["30.000"], "practitioner": f"{d}/Practitioner/{pid}",
                       "practitioner_role": f"{d}/PractitionerRole/{rid}", "organization": None}
            requests.put(f"{hs['base_url']}/_matrix/client/v3/profile/{mxid}/nl.kring.practitioner",
                         headers={"Authorization": f"Bearer {token}"}, json={"nl.kring.practitioner": binding},
                         timeout=10).raise_for_status()
            requests.post(f"{hs_a['base_url']}/_matrix/client/v3/rooms/{space}/invite", headers=auth, timeout=30,
                          json={"user_id": mxid}).raise_for_status()
            members.append((mxid, hs, d, pid, rid, oid))
        # Everyone invited is a practitioner (level 50), as `care-team invite` makes them; one
        # power-levels event instead of N CLI invocations.
        levels_url = f"{hs_a['base_url']}/_matrix/client/v3/rooms/{space}/state/m.room.power_levels/"
        levels = requests.get(levels_url, headers=auth, timeout=10).json()
        levels.setdefault("users", {}).update({m[0]: 50 for m in members})
        requests.put(levels_url, headers=auth, json=levels, timeout=10).raise_for_status()
        cold, cold_wall = cli("care-team", "network", "--space", space, "--refresh", "--stats", data_dir=data_dir)
        warm, warm_wall = cli("care-team", "network", "--space", space, "--refresh", "--stats", data_dir=data_dir)
        cached, cached_wall = cli("care-team", "network", "--space", space, "--stats", data_dir=data_dir)
        got = [x for x in cold["network"]["participants"] if x["function"]]
        assert len(got) >= args.participants, \
            f"only {len(got)} of {args.participants} participants have details: {json.dumps(cold['network'])[:3000]}"
        away = sum(1 for x in warm["network"]["participants"] if x["awayNow"])

        # Baseline: the same data with a plain HTTP client, one request after the other.
        t, base_requests = time.monotonic(), 0
        session = requests.Session()
        for mxid, hs, d, pid, rid, oid in members:
            session.get(f"{hs_a['base_url']}/_matrix/client/v3/profile/{mxid}/nl.kring.practitioner",
                        headers=auth, timeout=10).raise_for_status()
            for path in (f"PractitionerRole/{rid}", f"Practitioner/{pid}", f"Organization/{oid}"):
                session.get(f"{d}/{path}", timeout=10).raise_for_status()
            base_requests += 3
        baseline = time.monotonic() - t

        print(f"care network: {args.participants} participants across 3 directories "
              f"({sum(1 for m in members if m[1] is hs_b)} on the other homeserver), {away} away now")
        print(f"{'':34} {'time (ms)':>10} {'process (ms)':>13} {'directory requests':>19}")
        print(f"{'kring cold (empty cache)':34} {cold['stats']['millis']:10.0f} {cold_wall * 1000:13.0f} {cold['stats']['directoryRequests']:19}")
        print(f"{'kring warm (_lastUpdated)':34} {warm['stats']['millis']:10.0f} {warm_wall * 1000:13.0f} {warm['stats']['directoryRequests']:19}")
        print(f"{'kring from cache (no refresh)':34} {cached['stats']['millis']:10.0f} {cached_wall * 1000:13.0f} {0:19}")
        print(f"{'baseline: plain HTTP, sequential':34} {baseline * 1000:10.0f} {'-':>13} {base_requests:19}"
              f"   (+{len(members)} profile reads)")
    finally:
        if not args.keep:
            subprocess.run([str(stackctl), "down"], env=env, check=False, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
