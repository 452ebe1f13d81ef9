"""Shared fixtures for the Python-driven tests: the running stack, the built
binaries, and Matrix helpers over plain HTTP (an independent path to the
homeserver, so a test never checks Kring with Kring alone)."""
import json
import os
import sys
import uuid
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))
from synapse_accounts import register  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))


@pytest.fixture(scope="session")
def stack():
    path = Path(os.environ.get("KRING_STACK_JSON", TARGET / "stack" / "stack.json"))
    if not path.exists():
        pytest.fail(f"{path} missing: start the stack with tests/stack/stackctl up")
    return json.loads(path.read_text())


def user(stack, org, n=0, kind="practitioner"):
    found = [u for u in stack["users"] if u["org"] == org and u["kind"] == kind]
    assert len(found) > n, f"stack has no {kind} #{n} at {org}"
    return found[n]


def fresh_user(stack, org, prefix):
    """A new account (Synapse shared-secret registration), so no homeserver
    holds a cached device list for it: its first device is its only one."""
    localpart = f"{prefix}-{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    mxid = register(stack["homeservers"][org], localpart, password)["user_id"]
    return {"org": org, "localpart": localpart, "password": password, "mxid": mxid,
            "kind": "practitioner", "key": localpart}


@pytest.fixture(scope="session")
def cli_bin():
    path = TARGET / "debug" / "kring-cli"
    if not path.exists():
        pytest.fail(f"{path} missing: build with cargo build --workspace --all-targets")
    return path


@pytest.fixture(scope="session")
def app_bin():
    path = TARGET / "debug" / "kring"
    if not path.exists():
        pytest.fail(f"{path} missing: build with cargo build --workspace --all-targets")
    return path


def mails_to(stack, address):
    """The mails the stack's SMTP sink delivered for address, oldest first, parsed."""
    import email
    import email.policy
    found = []
    for path in sorted(Path(stack["mail_dir"]).glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if msg["To"] and address in msg["To"]:
            found.append(msg)
    return found


def text_of(msg):
    """A parsed mail's plain-text body."""
    return msg.get_body(preferencelist=("plain",)).get_content()


class Matrix:
    """A minimal client-server API client: the test's own view of the homeserver."""

    def __init__(self, base_url, localpart, password):
        self.base = base_url
        r = requests.post(f"{base_url}/_matrix/client/v3/login", json={
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart},
            "password": password}, timeout=10)
        r.raise_for_status()
        self.token = r.json()["access_token"]
        self.user_id = r.json()["user_id"]

    def _h(self):
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path, **params):
        r = requests.get(f"{self.base}/_matrix/client/v3{path}", headers=self._h(), params=params, timeout=10)
        r.raise_for_status()
        return r.json()

    def post(self, path, body):
        r = requests.post(f"{self.base}/_matrix/client/v3{path}", headers=self._h(), json=body, timeout=10)
        r.raise_for_status()
        return r.json()

    def put(self, path, body):
        r = requests.put(f"{self.base}/_matrix/client/v3{path}", headers=self._h(), json=body, timeout=10)
        r.raise_for_status()
        return r.json()

    def send_text(self, room_id, text):
        txn = uuid.uuid4().hex
        return self.put(f"/rooms/{room_id}/send/m.room.message/{txn}", {"msgtype": "m.text", "body": text})["event_id"]

    def recent_bodies(self, room_id, limit=50):
        chunk = self.get(f"/rooms/{room_id}/messages", dir="b", limit=limit)["chunk"]
        return [e["content"].get("body") for e in chunk if e["type"] == "m.room.message"]


@pytest.fixture
def matrix_as(stack):
    def login(u):
        return Matrix(stack["homeservers"][u["org"]]["base_url"], u["localpart"], u["password"])
    return login


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Lets fixtures see whether the test failed (the app fixture then keeps a screenshot)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
