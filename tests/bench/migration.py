#!/usr/bin/env python3
"""Benchmark: the vendor migration of one practitioner in N rooms (UC4, issue 16).

On the running test stack (KRING_STACK_JSON, default target/stack-9470/stack.json):
  1. makes the mover's old account on homeserver A and new one on N, each bound at its
     homeserver's identity service through the organisation IdP (the scripted browser user),
  2. has the old account create N care teams with the CLI (N rooms),
  3. lists the new MXID in A's directory and times `kring-cli migrate run` at A (levels, invites
     with the invite context, a notice per room) and `kring-cli migrate accept` at N (verified
     joins, client links),
  4. in the same run, a baseline on the same rooms: a plain HTTP client that invites a second
     new account on N to each room and joins it there, one request after the other.
Prints one table. Run:  keyctl session - tests/bench/migration.py [--rooms 100]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "target" / "debug" / "kring-cli"
sys.path.insert(0, str(REPO / "tests" / "support"))
sys.path.insert(0, str(REPO / "tests" / "stack" / "seed"))
import seed  # noqa: E402
import synapse_accounts  # noqa: E402

BROWSER = f"{sys.executable} {REPO / 'tests' / 'support' / 'idp_browser.py'}"


class Cli:
    def __init__(self, data_dir, profile, env=None):
        self.env = dict(os.environ, KRING_DATA_DIR=str(data_dir), KRING_PROFILE=f"{profile}-{uuid.uuid4().hex[:6]}",
                        **(env or {}))

    def json(self, *args, input=None, timeout=600):
        p = subprocess.run([str(CLI), "--json", *args], env=self.env, input=input, capture_output=True, text=True,
                           timeout=timeout)
        if p.returncode != 0:
            raise SystemExit(f"kring-cli {' '.join(args[:2])} failed: {p.stderr}")
        return json.loads(p.stdout.strip().splitlines()[-1])


def login(hs, localpart, password):
    r = requests.post(f"{hs['base_url']}/_matrix/client/v3/login", timeout=10, json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart}, "password": password})
    r.raise_for_status()
    return r.json()["access_token"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rooms", type=int, default=100)
    args = ap.parse_args()
    stack = json.loads(Path(os.environ.get("KRING_STACK_JSON", REPO / "target" / "stack-9470" / "stack.json")).read_text())
    mover = next(u for u in stack["idp_only_users"] if u["key"] == "x-mover")
    hs_a, hs_n = stack["homeservers"]["a"], stack["homeservers"]["n"]
    tag = uuid.uuid4().hex[:6]
    accounts = {}
    for key, hs in (("old", hs_a), ("new", hs_n), ("plain", hs_n)):
        localpart, password = f"bench-mv-{key}-{tag}", uuid.uuid4().hex
        accounts[key] = (synapse_accounts.register(hs, localpart, password)["user_id"], localpart, password)
    data = Path(tempfile.mkdtemp(prefix="kring-bench-mv-"))
    idp = {"KRING_TEST_IDP_USER": mover["localpart"], "KRING_TEST_IDP_PASSWORD": mover["password"]}
    old, new = Cli(data, "old", idp), Cli(data, "new", idp)
    directory = stack["directories"]["a"]
    pid, prid = seed.rid("a", "Practitioner", "x-mover"), seed.rid("a", "PractitionerRole", "x-mover")
    try:
        for c, (mxid, localpart, password), hs in ((old, accounts["old"], hs_a), (new, accounts["new"], hs_n)):
            c.json("login", "--homeserver", hs["base_url"], "--user", localpart, "--password-stdin", input=password + "\n")
            c.json("identity-service", "bind", "--config", stack["onboarding_config"], "--browser", BROWSER)
        t = time.monotonic()
        spaces = [old.json("care-team", "create", "--client-name", f"Bench cliënt {i}",
                           "--pseudo-bsn", f"9{tag}{i:04d}")["spaceId"] for i in range(args.rooms)]
        print(f"set-up: {args.rooms} care teams in {time.monotonic() - t:.1f} s", file=sys.stderr)
        practitioner = {"resourceType": "Practitioner", "id": pid, "active": True,
                        "identifier": [{"system": seed.UZI, "value": mover["uzi"]}]}
        role = {"resourceType": "PractitionerRole", "id": prid, "active": True,
                "practitioner": {"reference": f"Practitioner/{pid}"},
                "organization": {"reference": f"Organization/{seed.rid('a', 'Organization', 'a')}"},
                "code": [{"coding": [{"system": "http://fhir.nl/fhir/NamingSystem/uzi-rolcode",
                                      "code": mover["role_code"]}]}],
                "telecom": [seed.mxid_telecom(accounts["new"][0])]}
        seed.must(seed.call("POST", directory, {"resourceType": "Bundle", "type": "transaction",
                                                "entry": [seed.put(practitioner), seed.put(role)]},
                            content_type="application/fhir+json"))

        t = time.monotonic()
        report = old.json("migrate", "run", "--directory", directory)
        run_s = time.monotonic() - t
        assert report["invited"] == args.rooms, report
        t = time.monotonic()
        accepted = new.json("migrate", "accept")
        accept_s = time.monotonic() - t
        assert len(accepted["accepted"]) == args.rooms, accepted

        # Baseline: the same rooms, a plain client, one request after the other.
        old_token = login(hs_a, accounts["old"][1], accounts["old"][2])
        plain_token = login(hs_n, accounts["plain"][1], accounts["plain"][2])
        t = time.monotonic()
        for space in spaces:
            requests.post(f"{hs_a['base_url']}/_matrix/client/v3/rooms/{space}/invite", timeout=30,
                          headers={"Authorization": f"Bearer {old_token}"},
                          json={"user_id": accounts["plain"][0]}).raise_for_status()
        invite_s = time.monotonic() - t
        t = time.monotonic()
        for space in spaces:
            requests.post(f"{hs_n['base_url']}/_matrix/client/v3/join/{space}", timeout=60,
                          headers={"Authorization": f"Bearer {plain_token}"}, json={}).raise_for_status()
        join_s = time.monotonic() - t
    finally:
        for path in (f"PractitionerRole/{prid}", f"Practitioner/{pid}"):
            seed.call("DELETE", f"{directory}/{path}")
        for c in (old, new):
            subprocess.run([str(CLI), "identity-service", "unbind"], env=c.env, capture_output=True)
            subprocess.run([str(CLI), "logout"], env=c.env, capture_output=True)

    n = args.rooms
    base = invite_s + join_s
    print(f"\nVendor migration of one practitioner in {n} rooms (care teams), A -> N; "
          f"{os.cpu_count()} cores")
    print("| what | seconds | ms per room |")
    print("|---|---:|---:|")
    for what, s in (("kring `migrate run` at A (level, invite + context, notice)", run_s),
                    ("kring `migrate accept` at N (verify, join, client link)", accept_s),
                    ("kring total", run_s + accept_s),
                    ("baseline: plain HTTP invite, sequential", invite_s),
                    ("baseline: plain HTTP join over federation, sequential", join_s),
                    ("baseline total", base)):
        print(f"| {what} | {s:.1f} | {1000 * s / n:.0f} |")
    print(f"| kring / baseline | {(run_s + accept_s) / base:.2f}x | |")


if __name__ == "__main__":
    main()
