#!/usr/bin/env python3
"""A working ward for the demo (issue 12): a small practice, built through Kring itself.

About 12 clients (care teams) led by one practitioner, with colleagues of both organisations and
a mantelzorger; 30 conversations with replies and attachments; one urgent message the lead has
not read; one archived conversation. Karim El Amrani (organisation B) is on holiday in the
directory (demo.json), so the care network shows an absent colleague.

Every step is a `kring-cli` run as the person concerned, so rooms, encryption, power levels and
the client's vault are exactly what Kring makes. The lead's runs use the data dir and profile the
app will open, so the app is that device and reads everything. Reproducible from --seed: the same
seed gives the same clients, teams, subjects and messages (only Matrix ids differ).

  python3 tests/stack/seed/ward.py --stack target/stack/stack.json --data-dir D --profile P [--seed 7]

The lead must already be signed in with that data dir and profile (scripts/demo does so). Other
members get their own profiles under <data-dir>/ward. Run it inside the keyctl session the app
will inherit. All names and numbers are invented.
"""
import argparse
import json
import os
import random
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

FIRST = ["Johan", "Anna", "Wim", "Greet", "Henk", "Truus", "Kees", "Riet", "Piet", "Ans", "Gerrit", "Joke",
         "Bep", "Harm", "Nel", "Klaas"]
LAST = ["de Boer", "Mulder", "Bos", "Vos", "Peters", "Hendriks", "Dekker", "Brouwer", "de Graaf", "van Leeuwen",
        "Kuipers", "Veenstra", "Schouten", "Post", "Kramer", "Prins"]
SUBJECTS = [
    "Wondzorg thuis", "Medicatie na ontslag", "Valrisico en hulpmiddelen", "Voeding en gewicht",
    "Pijnbestrijding", "Bloeddruk controleren", "Glucosewaarden", "Fysiotherapie na opname",
    "Slaapproblemen", "Benauwdheid 's nachts", "Ontslag uit het ziekenhuis", "Huidletsel hiel",
    "Katheterzorg", "Oedeem onderbenen", "Inhalatiemedicatie",
]
OPENINGS = [
    "Kunnen we deze week afstemmen wie wat oppakt?",
    "Graag jullie blik hierop voor het MDO van donderdag.",
    "Ik heb vanochtend gekeken; verslag en foto in de bijlage.",
    "De huisarts vraagt om een update. Wie was er het laatst?",
    "Nieuwe afspraak gepland; zie de brief.",
]
REPLIES = [
    "Ik ga er morgen langs en laat het weten.",
    "Gezien. Ik pas het zorgplan aan.",
    "Dank je, ik neem het mee in het overleg.",
    "Klopt, dat zag ik gisteren ook.",
    "Goed plan. Ik bel de apotheek.",
]
RELATED = "mantelzorger"


def png(rgb):
    """A small valid PNG of one colour (stdlib only), so the app shows a real thumbnail."""
    w = h = 16
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Kring:
    """One person's kring-cli."""

    def __init__(self, binary, data_dir, profile):
        self.binary, self.env = binary, dict(os.environ, KRING_DATA_DIR=str(data_dir), KRING_PROFILE=profile)

    def run(self, *args, input=None):
        return subprocess.run([str(self.binary), "--json", *args], env=self.env, input=input,
                              capture_output=True, text=True, timeout=120)

    def json(self, *args, input=None, tries=5):
        # A seeder, not a test: a run that meets a homeserver still catching up (an invite not yet
        # federated) is tried again.
        for attempt in range(tries):
            p = self.run(*args, input=input)
            if p.returncode == 0:
                return json.loads(p.stdout.strip().splitlines()[-1])
            if attempt + 1 < tries:
                time.sleep(1 + attempt)
        raise SystemExit(f"kring-cli {' '.join(args[:2])} failed: {p.stderr.strip().splitlines()[-1:]}")


def build(stack, lead, kring_for, rng, clients, conversations, files, log):
    users = {u["key"]: u for u in stack["users"]}
    lead_u = users[lead]
    pool = [k for k in ("a-nurse", "b-gp", "b-nurse", "a-internist") if k in users and k != lead]
    caregiver = users.get("a-caregiver")
    me = kring_for(lead_u)

    teams = []
    names = rng.sample([(f, l) for f in FIRST for l in LAST], clients)
    for i, (first, last) in enumerate(names):
        title = "Mevr." if i % 2 else "Dhr."
        name = f"{title} {first[0]}. {last}"
        bsn = "9" + "".join(str(rng.randrange(10)) for _ in range(10))
        space = me.json("care-team", "create", "--client-name", name, "--pseudo-bsn", bsn)["spaceId"]
        members = [users[k] for k in rng.sample(pool, rng.randint(1, min(3, len(pool))))]
        if "a-nurse" in pool and users["a-nurse"] not in members:
            members.insert(0, users["a-nurse"])  # the ward nurse is in every team
        for u in members:
            me.json("care-team", "invite", "--space", space, "--user", u["mxid"], "--role", "practitioner")
        related = caregiver if caregiver and i % 4 == 0 else None
        if related:
            me.json("care-team", "invite", "--space", space, "--user", related["mxid"], "--role", "related_person",
                    "--relation", RELATED)
        teams.append({"space": space, "name": name, "members": members, "related": related})
    log(f"{len(teams)} care teams made")

    # Everyone accepts in their own Kring (invites to organisation B travel over federation).
    invited = {}
    for t in teams:
        for u in t["members"] + ([t["related"]] if t["related"] else []):
            invited.setdefault(u["key"], (u, []))[1].append(t["space"])
    for key, (u, spaces) in invited.items():
        k = kring_for(u)
        for space in spaces:
            k.json("care-team", "accept", "--space", space, tries=10)
    log(f"{sum(len(s) for _, s in invited.values())} invites accepted by {len(invited)} people")

    rooms = []
    for n in range(conversations):
        t = teams[n % len(teams)]
        subject = SUBJECTS[(n * 7 + rng.randrange(len(SUBJECTS))) % len(SUBJECTS)]
        to = t["members"] + ([t["related"]] if t["related"] and n % 3 == 0 else [])
        args = ["conversation", "start", "--space", t["space"], "--subject", subject]
        if t["related"] in to:
            args += ["--kind", "client_inclusive"]
        for u in to:
            args += ["--to", u["mxid"]]
        for f in (files[: 1 + n % 2] if n % 3 == 1 else []):
            args += ["--attach", str(f)]
        room = me.json(*args, rng.choice(OPENINGS))["roomId"]
        rooms.append({"room": room, "team": t, "to": to, "subject": subject})
    log(f"{len(rooms)} conversations started")

    # Replies: two of every three conversations get an answer, some with a photo.
    joined = set()
    for n, r in enumerate(rooms):
        if n % 3 == 2:
            continue
        u = r["to"][n % len(r["to"])]
        k = kring_for(u)
        if (u["key"], r["room"]) not in joined:
            k.json("conversation", "join", "--room", r["room"], tries=10)
            joined.add((u["key"], r["room"]))
        args = ["send", "--room", r["room"]]
        if n % 5 == 0:
            args += ["--attach", str(files[0])]
        k.json(*args, rng.choice(REPLIES))
    log(f"{len(joined)} replies sent")

    # One conversation is finished and archived; the last one gets an urgent message the lead
    # has not read yet.
    me.json("conversation", "archive", "--room", rooms[1]["room"])
    urgent = rooms[-1]
    u = urgent["to"][0]
    k = kring_for(u)
    if (u["key"], urgent["room"]) not in joined:
        k.json("conversation", "join", "--room", urgent["room"], tries=10)
    k.json("send", "--room", urgent["room"], "--urgent", "Spoed: graag vandaag nog terugbellen over de medicatie.")
    log("one conversation archived, one urgent message waiting")
    return {"careTeams": [t["space"] for t in teams], "conversations": [r["room"] for r in rooms],
            "archived": rooms[1]["room"], "urgent": urgent["room"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stack", type=Path, default=REPO / "target" / "stack" / "stack.json")
    ap.add_argument("--data-dir", type=Path, required=True, help="the lead's (and the app's) KRING_DATA_DIR")
    ap.add_argument("--profile", required=True, help="the lead's (and the app's) KRING_PROFILE")
    ap.add_argument("--lead", default="a-lead", help="the lead's key in demo.json")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--clients", type=int, default=12)
    ap.add_argument("--conversations", type=int, default=30)
    ap.add_argument("--cli", type=Path, default=REPO / "target" / "debug" / "kring-cli")
    ap.add_argument("--demo", action="store_true",
                    help="scripts/demo: sign the lead in afresh; build the ward once per stack, and on later starts "
                         "let the new device read it with the recovery key kept next to the data dir")
    args = ap.parse_args()
    stack = json.loads(args.stack.read_text())
    rng = random.Random(args.seed)
    work = args.data_dir / "ward"
    work.mkdir(parents=True, exist_ok=True)
    files = [work / "wond.png", work / "brief.txt"]
    files[0].write_bytes(png((200, 120, 110)))
    files[1].write_text("Ontslagbrief (demo, fictief): controle over twee weken.\n")
    started = time.monotonic()

    def log(msg):
        print(f"  ward: {msg} ({time.monotonic() - started:.0f}s)", file=sys.stderr, flush=True)

    people = {}

    def kring_for(u):
        if u["key"] == args.lead:
            return Kring(args.cli, args.data_dir, args.profile)
        if u["key"] not in people:
            k = Kring(args.cli, work / u["key"], f"ward-{u['key']}")
            k.json("login", "--homeserver", stack["homeservers"][u["org"]]["base_url"], "--user", u["localpart"],
                   "--password-stdin", input=u["password"] + "\n")
            people[u["key"]] = k
        return people[u["key"]]

    if args.demo:
        demo(stack, args, kring_for, lambda: build(stack, args.lead, kring_for, rng, args.clients,
                                                   args.conversations, files, log), log)
        return
    made = build(stack, args.lead, kring_for, rng, args.clients, args.conversations, files, log)
    print(json.dumps(dict(made, seed=args.seed)))


def demo(stack, args, kring_for, build_ward, log):
    """The demo's sign-in: each start has a new kernel keyring, so a new device. The ward is built
    once per stack (stack.json's demo room tells stacks apart); later devices recover the history
    with the demo account's recovery key (demo data only: kept in a file next to the data dir)."""
    lead = next(u for u in stack["users"] if u["key"] == args.lead)
    mark, key_file = args.data_dir.parent / "ward.json", args.data_dir.parent / "ward-recovery-key"
    me = Kring(args.cli, args.data_dir, args.profile)
    me.run("logout")
    me.json("login", "--homeserver", stack["homeservers"][lead["org"]]["base_url"], "--user", lead["localpart"],
            "--password-stdin", input=lead["password"] + "\n")
    state = json.loads(mark.read_text()) if mark.exists() else {}
    if state.get("demoRoom") == stack["demo_room_id"]:
        # Built once per stack: a second build would give every client a second care team.
        if key_file.exists():
            me.json("recovery", "recover", input=key_file.read_text())
            log("the ward is there already; this device reads its history with the recovery key")
        else:
            log("the ward is there already, but without its recovery key this device cannot read its history")
        return
    log(f"building the demo ward for {lead['localpart']} (a few minutes, once per stack)")
    setup = me.run("recovery", "setup")
    if setup.returncode == 0:
        answer = json.loads(setup.stdout.strip().splitlines()[-1])
        key = next((v for k, v in answer.items() if "key" in k.lower() and isinstance(v, str)), None)
        if key:
            key_file.write_text(key + "\n")
            key_file.chmod(0o600)
    else:
        log("recovery was set up before (not by this demo): the ward is readable on this device only")
    made = build_ward()
    mark.write_text(json.dumps(dict(made, demoRoom=stack["demo_room_id"], seed=args.seed)))
    log("ward ready")


if __name__ == "__main__":
    main()
