"""Interop with an independent client (issue: UC2/UC3 attachments). A
matrix-nio participant with its own end-to-end encryption (vodozemac) on
organisation B decrypts the body and all five files of a conversation Kring
started on organisation A, and Kring shows nio's reply with files.

nio is driven here, and Kring through its CLI, so neither side checks itself."""
import asyncio
import hashlib
import json
import time
import uuid

import nio
import requests
from nio.crypto import decrypt_attachment, encrypt_attachment

from conftest import fresh_user
from test_cli import cli  # noqa: F401  (fixture)

# MSC4274 galleries; the SDK sends the proposal's unstable name until it is merged.
GALLERY = ("m.gallery", "dm.filament.gallery")

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000101ff89993d1d0000000049454e44ae426082")


def files(tmp_path, tag, n):
    made = []
    for i in range(n):
        if i == 0:
            name, data = f"wond-{tag}.png", PNG
        else:
            name, data = f"verslag-{tag}-{i}.txt", (f"regel {i} van {tag}\n" * (50 * i)).encode()
        path = tmp_path / name
        path.write_bytes(data)
        made.append(path)
    return made


def download(base_url, token, mxc):
    server, media_id = mxc[len("mxc://"):].split("/", 1)
    r = requests.get(f"{base_url}/_matrix/client/v1/media/download/{server}/{media_id}",
                     headers={"Authorization": f"Bearer {token}"}, timeout=20)
    r.raise_for_status()
    return r.content


class NioParticipant:
    """A matrix-nio client with encryption on, as another vendor's app would be."""

    def __init__(self, base_url, u, store):
        self.base_url = base_url
        config = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
        self.client = nio.AsyncClient(base_url, u["mxid"], store_path=str(store), config=config)
        self.password = u["password"]
        self.events = {}  # event id -> decrypted (or still encrypted) source
        self.prev_batch = {}  # room id -> where its history continues

    async def login(self):
        r = await self.client.login(self.password, device_name="nio interop")
        assert isinstance(r, nio.LoginResponse), r
        if self.client.should_upload_keys:
            await self.client.keys_upload()

    async def sync(self):
        # Lazy-loaded members, as current clients do: Synapse leaves a room
        # joined over federation out of other syncs until its state resync
        # ends (partial-state "faster joins").
        r = await self.client.sync(timeout=1000, full_state=True,
                                   sync_filter={"room": {"state": {"lazy_load_members": True},
                                                         "timeline": {"lazy_load_members": True}}})
        assert isinstance(r, nio.SyncResponse), r
        for room_id, room in r.rooms.join.items():
            if room.timeline.prev_batch:
                self.prev_batch.setdefault(room_id, room.timeline.prev_batch)
            self._keep(room_id, room.timeline.events)
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        return r

    def _keep(self, room_id, events):
        for event in events:
            if isinstance(event, nio.MegolmEvent):
                try:
                    event = self.client.decrypt_event(event)
                except Exception:  # key not here yet; a later pass retries
                    self.events.setdefault(event.event_id, {"undecrypted": event, "room_id": room_id})
                    continue
            self.events[event.event_id] = dict(event.source, room_id=room_id)

    async def history(self, room_id):
        """Events from before the join: the homeserver backfills them over
        federation only when a client asks (as Kring's timeline does)."""
        if room_id not in self.prev_batch:
            return
        r = await self.client.room_messages(room_id, start=self.prev_batch[room_id], limit=50)
        assert isinstance(r, nio.RoomMessagesResponse), r
        self._keep(room_id, r.chunk)
        # Retry those whose key arrived since.
        for event_id, e in list(self.events.items()):
            if isinstance(e.get("undecrypted"), nio.MegolmEvent):
                self._keep(e["room_id"], [e["undecrypted"]])

    async def until(self, what, check, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            await self.sync()
            found = check()
            if found:
                return found
        seen = [(e.get("room_id"), e.get("type"), "undecrypted" in e) for e in self.events.values()]
        raise AssertionError(f"nio: timed out waiting for {what}; saw {seen}")

    async def join(self, room_id):
        r = await self.client.join(room_id)
        assert isinstance(r, nio.JoinResponse), r

    async def send(self, room_id, content):
        await self.client.joined_members(room_id)
        if self.client.should_query_keys:
            await self.client.keys_query()
        r = await self.client.room_send(room_id, "m.room.message", content, ignore_unverified_devices=True)
        assert isinstance(r, nio.RoomSendResponse), r
        return r.event_id

    async def upload_encrypted(self, name, data, mimetype):
        ciphertext, keys = encrypt_attachment(data)
        r = requests.post(f"{self.base_url}/_matrix/media/v3/upload", params={"filename": name},
                          headers={"Authorization": f"Bearer {self.client.access_token}",
                                   "Content-Type": "application/octet-stream"}, data=ciphertext, timeout=20)
        r.raise_for_status()
        return dict(keys, url=r.json()["content_uri"])


def test_nio_decrypts_kring_attachments_and_kring_shows_nio_reply_with_files(stack, cli, tmp_path):
    lead_u, nio_u = fresh_user(stack, "a", "lead-interop"), fresh_user(stack, "b", "nio")
    lead = cli("interop-lead")
    lead.login(stack, lead_u)
    hs_b = stack["homeservers"]["b"]["base_url"]
    participant = NioParticipant(hs_b, nio_u, tmp_path / "nio-store")
    (tmp_path / "nio-store").mkdir()

    async def scenario():
        await participant.login()
        bsn = "9" + str(uuid.uuid4().int)[:10]
        space = lead.json("care-team", "create", "--client-name", "Mw. A. Visser", "--pseudo-bsn", bsn)["spaceId"]
        lead.json("care-team", "invite", "--space", space, "--user", nio_u["mxid"], "--role", "practitioner")
        await participant.until("the care-team invite", lambda: space in participant.client.invited_rooms)
        await participant.join(space)

        sent = files(tmp_path, "kring", 5)
        text = "Foto en verslagen van de wondcontrole."
        args = ["conversation", "start", "--space", space, "--subject", "Wondcontrole", "--to", nio_u["mxid"]]
        for f in sent:
            args += ["--attach", str(f)]
        room = lead.json(*args, text)["roomId"]

        await participant.until("the conversation invite", lambda: room in participant.client.invited_rooms)
        await participant.join(room)
        await participant.sync()

        async def fetch_gallery():
            await participant.history(room)
            return gallery()

        def gallery():
            return next((e for e in participant.events.values()
                         if e.get("room_id") == room and e.get("type") == "m.room.message"
                         and e["content"].get("msgtype") in GALLERY), None)
        event = None
        deadline = time.time() + 60
        while event is None:
            if time.time() > deadline:
                seen = [(e.get("type"), "undecrypted" in e) for e in participant.events.values() if e.get("room_id") == room]
                at_kring = lead.run("tail", "--room", room, check=False).stdout
                raise AssertionError(f"nio never decrypted Kring's first message; nio saw {seen}, "
                                     f"history from {participant.prev_batch.get(room)}; Kring shows {at_kring}")
            await participant.sync()
            event = await fetch_gallery()

        # Sensible in a standard client: the room is named by the subject, sits
        # in the care team, and the body names the files after the text.
        name = await participant.client.room_get_state_event(room, "m.room.name")
        assert name.content["name"] == "Wondcontrole", name
        parent = await participant.client.room_get_state_event(room, "m.space.parent", space)
        assert parent.content.get("canonical") is True, parent
        encryption = await participant.client.room_get_state_event(room, "m.room.encryption")
        assert encryption.content["algorithm"] == "m.megolm.v1.aes-sha2", encryption
        body = event["content"]["body"]
        assert body.startswith(text)
        assert all(f.name in body for f in sent)

        # All five files, each encrypted, decrypt byte for byte.
        items = event["content"]["itemtypes"]
        assert [i["body"] for i in items] == [f.name for f in sent]
        assert items[0]["itemtype"] == "m.image" and items[0]["info"]["mimetype"] == "image/png"
        for item, original in zip(items, sent):
            assert "url" not in item, "attachments must travel encrypted"
            enc = item["file"]
            ciphertext = download(hs_b, participant.client.access_token, enc["url"])
            assert ciphertext != original.read_bytes()
            plain = decrypt_attachment(ciphertext, enc["key"]["k"], enc["hashes"]["sha256"], enc["iv"])
            assert plain == original.read_bytes(), f"{original.name} did not decrypt intact"

        # nio answers the way standard clients do: a text reply and one event per file.
        reply_files = files(tmp_path, "nio", 2)
        first_id = next(k for k, v in participant.events.items() if v is event)
        await participant.send(room, {"msgtype": "m.text", "body": "Ziet er rustig uit, zie bijlagen.",
                                      "m.relates_to": {"m.in_reply_to": {"event_id": first_id}}})
        for f, msgtype, mime in zip(reply_files, ["m.image", "m.file"], ["image/png", "text/plain"]):
            data = f.read_bytes()
            enc = await participant.upload_encrypted(f.name, data, mime)
            await participant.send(room, {"msgtype": msgtype, "body": f.name, "filename": f.name,
                                          "info": {"mimetype": mime, "size": len(data)}, "file": enc})
        return room, first_id, reply_files

    try:
        room, first_id, reply_files = asyncio.run(scenario())
    finally:
        asyncio.run(participant.client.close())

    # Kring shows the reply (as a reply) and both files, and decrypts them.
    def kring_items():
        p = lead.run("tail", "--room", room, check=False)
        return [json.loads(line)["content"] for line in p.stdout.splitlines()] if p.returncode == 0 else []

    deadline = time.time() + 60
    while True:
        seen = kring_items()
        reply = [m for m in seen if m.get("body") == "Ziet er rustig uit, zie bijlagen."]
        with_files = [m for m in seen if m.get("attachments") and m["sender"] == nio_u["mxid"]]
        if reply and len(with_files) == 2:
            break
        assert time.time() < deadline, f"Kring did not show nio's reply with files: {seen}"
        time.sleep(1)
    assert reply[0]["inReplyTo"] == first_id
    assert reply[0]["senderRole"] == "practitioner"
    by_name = {m["attachments"][0]["filename"]: m for m in with_files}
    assert set(by_name) == {f.name for f in reply_files}
    assert by_name[reply_files[0].name]["attachments"][0]["kind"] == "image"
    for f in reply_files:
        out = tmp_path / f"kring-{f.name}"
        saved = lead.json("download", "--room", room, "--event", by_name[f.name]["eventId"], "--out", str(out))
        assert saved["filename"] == f.name
        assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(f.read_bytes()).hexdigest()
