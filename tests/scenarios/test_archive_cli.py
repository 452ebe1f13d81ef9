"""Archiving to the information system as FHIR (issue 15, UC8), from the CLI against the real stack.

A care team across both organisations with a mantelzorger; a client-inclusive conversation whose
first message carries five files, with replies (one an explicit reply, one with a file). It is
archived at organisation A's information system (the stack's FHIR server with Medplum's R4
validator in front: a bundle it refuses fails the export) and read back there with plain HTTP:
the thread, each reply, the care team with everyone's directory resources, the mantelzorger, the
client only by pseudo-BSN, each file's bytes. The resources are compared with the OZO examples
field by field. Archiving again writes no duplicates. The way back: CommunicationRequests posted
by the information system start a conversation (text, an inline file and one as a Binary), are
written back naming it, and are not taken up twice; bad ones are refused each with its code.

  kring-cli --json conversation export --room R [--config onboarding.json | --deliver URL | --out F]
  kring-cli --json conversation import [--config onboarding.json | --from URL]
"""
import base64
import hashlib
import json
import os
import uuid
from pathlib import Path

import requests

from conftest import REPO
from test_care_network_cli import care_team, network, person
from test_care_team_cli import wait_for
from test_cli import cli  # noqa: F401  (fixture)

PSEUDO_BSN = "http://fhir.nl/fhir/NamingSystem/pseudo-bsn"
CONVERSATION = "urn:kring:conversation"
FHIR = {"Content-Type": "application/fhir+json"}


def fixtures():
    d = Path(os.environ.get("KRING_FIXTURES", REPO.parent / "shared" / "fixtures")) / "ozo"
    return d if d.is_dir() else None


def shape(v, at="", out=None):
    """Every field path with its JSON kind, array positions folded."""
    out = {} if out is None else out
    if isinstance(v, dict):
        for k, child in v.items():
            shape(child, f"{at}.{k}" if at else k, out)
        kind = "object"
    elif isinstance(v, list):
        for child in v:
            shape(child, f"{at}[]", out)
        kind = "array"
    else:
        kind = {str: "string", bool: "boolean", int: "number", float: "number"}.get(type(v), "null")
    if at:
        out[at] = kind
    return out


def like_ozo(example, ours, left_out=("id", "meta", "subject.display")):
    """Each field of the OZO example is in ours, with the same JSON kind."""
    want, got = shape(example), shape(ours)
    missing = {p: k for p, k in want.items()
               if not any(p == l or p.startswith(l + ".") for l in left_out) and got.get(p) != k}
    assert not missing, f"{example['id']}: fields OZO has and ours lacks: {missing}\nours: {json.dumps(ours)[:2000]}"


def search(ecd, query):
    b = requests.get(f"{ecd}/{query}", timeout=10)
    assert b.status_code == 200, b.text
    return [e["resource"] for e in b.json().get("entry", [])]


def tail(c, room):
    return [json.loads(line)["content"] for line in c.run("tail", "--room", room).stdout.splitlines()]


def test_a_conversation_goes_to_the_information_system_as_fhir_and_a_request_comes_back(stack, cli, tmp_path):
    ecd = stack["information_systems"]["a"]["fhir_base"]
    config = stack["onboarding_config"]
    eva, sanne, karim = person(stack, "a-lead"), person(stack, "a-nurse"), person(stack, "b-gp")
    marieke = person(stack, "a-caregiver")
    bsn = "9" + str(uuid.uuid4().int)[:10]
    lead, space, clis = care_team(stack, cli, eva, [(sanne, "practitioner", None), (karim, "practitioner", None),
                                                     (marieke, "related_person", "mantelzorger")], "arch", bsn=bsn)
    # Each practitioner's directory resources, as Kring finds them (cached for the export).
    net = network(stack, lead, space, refresh=True)
    assert not net.doc["stale"], net.why()

    files = []
    for name, data in ([("wond-1.png", b"\x89PNG\r\n\x1a\n" + os.urandom(64)),
                                      ("brief.pdf", b"%PDF-1.4\n" + os.urandom(80)),
                                      ("medicatie.txt", "Paracetamol 500 mg, 3x daags".encode()),
                                      ("wond-2.png", b"\x89PNG\r\n\x1a\n" + os.urandom(32)),
                                      ("notitie.txt", b"notitie")]):
        path = tmp_path / name
        path.write_bytes(data)
        files.append(path)
    first = f"Hoe gaat het met de wond? {uuid.uuid4().hex[:6]}"
    args = ["conversation", "start", "--space", space, "--subject", "Wondzorg thuis", "--kind", "client_inclusive"]
    for u in (sanne, karim, marieke):
        args += ["--to", u["mxid"]]
    for f in files:
        args += ["--attach", str(f)]
    room = lead.json(*args, first)["roomId"]
    for u in (sanne, karim, marieke):
        c = clis[u["mxid"]]
        wait_for(f"the conversation at {u['mxid']}",
                 lambda c=c: [x for x in c.json("conversation", "list", "--space", space) if x["roomId"] == room])
        c.json("conversation", "join", "--room", room)
    opening = wait_for("the first message at Marieke", lambda: [
        i for i in tail(clis[marieke["mxid"]], room) if i.get("body") == first])[0]
    clis[marieke["mxid"]].json("send", "--room", room, "Rustig, wat roder dan gisteren.")
    said = wait_for("Marieke's message at Karim", lambda: [
        i for i in tail(clis[karim["mxid"]], room) if i.get("body") == "Rustig, wat roder dan gisteren."])[0]
    clis[karim["mxid"]].json("send", "--room", room, "--reply-to", said["eventId"], "Ik kom morgen kijken.")
    photo = tmp_path / "wond-3.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(48))
    clis[sanne["mxid"]].json("send", "--room", room, "--attach", str(photo), "Foto van vanochtend")
    wait_for("all four messages at Eva", lambda: len([i for i in tail(lead, room) if i.get("eventId")]) >= 4)

    # Archive at the information system: the FHIR server validates every resource it takes.
    receipt = lead.json("conversation", "export", "--room", room, "--config", config)
    assert (receipt["messages"], receipt["files"], receipt["undecryptable"]) == (4, 6, 0), receipt

    # Read back with plain HTTP.
    [thread] = search(ecd, f"CommunicationRequest?identifier={CONVERSATION}|{room}")
    assert thread["reasonCode"][0]["text"] == "Wondzorg thuis" and thread["status"] == "active", thread
    assert thread["payload"][0]["contentString"] == first
    attached = [p["contentAttachment"] for p in thread["payload"][1:]]
    assert [a["title"] for a in attached] == [f.name for f in files]
    for a, f in zip(attached, files):
        binary = requests.get(f"{ecd}/{a['url']}", timeout=10, headers={"Accept": "application/fhir+json"}).json()
        assert base64.b64decode(binary["data"]) == f.read_bytes(), a["title"]
        assert a["hash"] == base64.b64encode(hashlib.sha1(f.read_bytes()).digest()).decode()
        assert a["size"] == f.stat().st_size
    patient = requests.get(f"{ecd}/{thread['subject']['reference']}", timeout=10).json()
    assert patient["identifier"] == [{"system": PSEUDO_BSN, "value": bsn}], patient
    assert "name" not in patient, "the client goes by pseudonym only"
    assert thread["requester"]["type"] == "Practitioner", thread["requester"]
    assert thread["requester"]["display"] == net[eva["mxid"]]["name"], thread["requester"]
    assert {r["display"] for r in thread["recipient"]} == {net[u["mxid"]]["name"] for u in (sanne, karim, marieke)}

    replies = sorted(search(ecd, f"Communication?part-of=CommunicationRequest/{thread['id']}"), key=lambda c: c["sent"])
    assert [c["payload"][0]["contentString"] for c in replies] == [
        "Rustig, wat roder dan gisteren.", "Ik kom morgen kijken.", "Foto van vanochtend"]
    assert [c["sender"]["type"] for c in replies] == ["RelatedPerson", "Practitioner", "Practitioner"]
    # Karim's explicit reply answers Marieke's; Sanne's answers the one before it.
    assert replies[1]["inResponseTo"][0]["reference"] == f"Communication/{replies[0]['id']}"
    assert replies[2]["inResponseTo"][0]["reference"] == f"Communication/{replies[1]['id']}"
    assert "inResponseTo" not in replies[0], "an answer to the thread itself"
    photo_ref = replies[2]["payload"][1]["contentAttachment"]["url"]
    assert base64.b64decode(requests.get(f"{ecd}/{photo_ref}", timeout=10).json()["data"]) == photo.read_bytes()
    related = requests.get(f"{ecd}/{replies[0]['sender']['reference']}", timeout=10).json()
    assert related["resourceType"] == "RelatedPerson" and related["relationship"][0]["text"] == "mantelzorger"
    assert related["patient"]["reference"] == thread["subject"]["reference"]

    [team] = search(ecd, f"CareTeam?identifier=urn:kring:care-team|{space}")
    members = {p["member"].get("display"): p for p in team["participant"]}
    ura = {o["key"]: o["ura"] for o in stack["organisations"]}
    assert len(team["participant"]) == 4, team
    for u in (eva, sanne, karim):
        p = members[net[u["mxid"]]["name"]]
        assert p["member"]["type"] == "Practitioner" and p["member"]["reference"].startswith("Practitioner/"), p
        assert p["onBehalfOf"]["display"] == net[u["mxid"]]["organisation"], p
        # The information system's Practitioner carries the UZI and names the practitioner's
        # own directory entry, which is there (A's directory, or B's for Karim).
        practitioner = requests.get(f"{ecd}/{p['member']['reference']}", timeout=10).json()
        ids = {i["system"]: i["value"] for i in practitioner["identifier"]}
        assert ids["http://fhir.nl/fhir/NamingSystem/uzi-nr-pers"] == u["uzi"], practitioner
        entry = ids["urn:ietf:rfc:3986"]
        assert entry.startswith(stack["directories"]["b" if u is karim else "a"]), (entry, stack["directories"])
        assert requests.get(entry, timeout=10).json()["resourceType"] == "Practitioner"
        org = requests.get(f"{ecd}/{p['onBehalfOf']['reference']}", timeout=10).json()
        assert org["identifier"][0] == {"system": "http://fhir.nl/fhir/NamingSystem/ura", "value": ura[u["org"]]}, org

    # Field by field against the OZO examples (when the public fixtures are present).
    ozo = fixtures()
    if ozo:
        read = lambda n: json.loads((ozo / n).read_text())
        like_ozo(read("CommunicationRequest-Thread-Example.json"), thread)
        like_ozo(read("Communication-RelatedPerson-to-CareTeam.json"), replies[0])
        like_ozo(read("Communication-Practitioner-to-Practitioner.json"), replies[1])
        like_ozo(read("CareTeam-H-de-Boer.json"), team)
    else:
        print("no OZO fixtures: the field-by-field comparison was skipped")

    # Archiving again, now archived: the same resources, updated, none added.
    lead.json("conversation", "archive", "--room", room)
    again = lead.json("conversation", "export", "--room", room, "--config", config)
    assert again["resources"] == receipt["resources"], (again, receipt)
    [thread_again] = search(ecd, f"CommunicationRequest?identifier={CONVERSATION}|{room}")
    assert thread_again["id"] == thread["id"] and thread_again["status"] == "completed", thread_again
    assert len(search(ecd, f"Communication?part-of=CommunicationRequest/{thread['id']}")) == 3
    assert len(search(ecd, f"Patient?identifier={PSEUDO_BSN}|{bsn}")) == 1

    # The validator is really there: a resource R4 does not allow is refused.
    bundle = lead.json("conversation", "export", "--room", room)
    assert bundle["type"] == "transaction" and bundle["entry"]
    broken = dict(bundle, entry=[dict(bundle["entry"][0], resource=dict(bundle["entry"][0]["resource"], naam="x"))])
    assert requests.post(ecd, json=broken, headers=FHIR, timeout=10).status_code >= 400

    # The way back: the information system posts requests.
    sent = []
    def post(resource):
        r = requests.post(f"{ecd}/{resource['resourceType']}", json=resource, headers=FHIR, timeout=10)
        assert r.status_code in (200, 201), r.text
        return r.json()
    scan = post({"resourceType": "Binary", "contentType": "application/pdf",
                 "data": base64.b64encode(b"%PDF-1.4 ontslagbrief").decode()})
    request = {
        "resourceType": "CommunicationRequest", "status": "active",
        "subject": {"type": "Patient", "identifier": {"system": PSEUDO_BSN, "value": bsn}},
        "reasonCode": [{"text": "Medicatie controleren na ontslag"}],
        "payload": [{"contentString": "Graag de medicatielijst nalopen, zie de ontslagbrief."},
                    {"contentAttachment": {"contentType": "text/plain", "title": "lijst.txt",
                                           "data": base64.b64encode(b"Metoprolol 50 mg").decode()}},
                    {"contentAttachment": {"contentType": "application/pdf", "title": "ontslagbrief.pdf",
                                           "url": f"Binary/{scan['id']}"}}],
        "recipient": [{"type": "CareTeam", "reference": f"CareTeam/{team['id']}"}],
    }
    good = post(request)
    sent.append(good["id"])
    stranger = post(dict(request, subject={"type": "Patient", "identifier": {"system": PSEUDO_BSN, "value": "900000009"}}))
    too_long = post(dict(request, reasonCode=[{"text": "x" * 51}]))
    report = lead.json("conversation", "import", "--config", config)
    started = [s for s in report["started"] if s["requestId"] == good["id"]]
    assert len(started) == 1, report
    refused = {r["requestId"]: r["code"] for r in report["refused"]}
    assert refused.get(stranger["id"]) == "fhir_client_unknown", report
    assert refused.get(too_long["id"]) == "subject_too_long", report
    new_room = started[0]["roomId"]
    # The request now names its conversation; the conversation is in the care team.
    back = requests.get(f"{ecd}/CommunicationRequest/{good['id']}", timeout=10).json()
    assert {"system": CONVERSATION, "value": new_room} in back["identifier"], back
    listed = {x["roomId"]: x for x in lead.json("conversation", "list", "--space", space)}
    assert listed[new_room]["subject"] == "Medicatie controleren na ontslag"
    assert {p["userId"] for p in listed[new_room]["participants"]} >= {sanne["mxid"], karim["mxid"]}
    assert marieke["mxid"] not in {p["userId"] for p in listed[new_room]["participants"]}, \
        "a request to the care team is a professional conversation"
    opened = wait_for("the imported message", lambda: [i for i in tail(lead, new_room)
                                                                     if i.get("attachments") and i.get("eventId")])[0]
    assert opened["body"] == "Graag de medicatielijst nalopen, zie de ontslagbrief."
    assert [a["filename"] for a in opened["attachments"]] == ["lijst.txt", "ontslagbrief.pdf"]
    out = tmp_path / "brief.pdf"
    lead.json("download", "--room", new_room, "--event", opened["eventId"], "--index", "1", "--out", str(out))
    assert out.read_bytes() == b"%PDF-1.4 ontslagbrief"
    # Taken up once: again, nothing new.
    report = lead.json("conversation", "import", "--config", config)
    assert good["id"] in report["already"] and not [s for s in report["started"] if s["requestId"] == good["id"]]
    assert len([x for x in lead.json("conversation", "list", "--space", space)
                if x["subject"] == "Medicatie controleren na ontslag"]) == 1

    kinds = [e["kind"] for e in lead.json("audit", "--limit", "200")]
    for kind in ("export_conversation", "archive_to_information_system", "import_communication_request"):
        assert kind in kinds, kinds
