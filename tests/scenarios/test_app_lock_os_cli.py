"""The app lock's "unlock with your computer account" (issue 15) against the real polkitd.

The stack runs polkitd on its own system bus, with Kring's action installed as the package
installs it (`src-tauri/packaging/linux/nl.kring.unlock.policy`, by scripts/setup). polkit
answers by its own rules: root is always authorised, and the shipped policy refuses a user
outside a local active desktop session (`allow_any: no`). What is not exercised here is the
password prompt itself: that is the desktop's polkit agent, which needs a logind seat this
machine does not have (allow_active: auth_self)."""
import json
import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from conftest import user
from test_cli import cli  # noqa: F401  (fixture)


def os_check(binary, env, as_nobody=False):
    argv = [str(binary), "--json", "app-lock", "os-check"]
    if as_nobody:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])["answer"]


@pytest.fixture
def unprivileged_cli(cli_bin):
    """A copy of kring-cli that user nobody may run (the build tree is root's)."""
    d = tempfile.mkdtemp(prefix="kring-nobody-", dir="/tmp")
    os.chmod(d, 0o755)
    copy = shutil.copy(cli_bin, os.path.join(d, "kring-cli"))
    os.chmod(copy, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    yield copy
    shutil.rmtree(d, ignore_errors=True)


def test_polkit_answers_for_the_user_who_asks(stack, cli_bin, unprivileged_cli):
    if os.geteuid() != 0:
        pytest.skip("the refused case runs the probe as user nobody: needs root")
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=stack["system_bus"], HOME="/tmp")
    assert os_check(cli_bin, env) == "confirmed", "polkit authorises root for every action"
    assert os_check(unprivileged_cli, env, as_nobody=True) == "refused", \
        "the shipped policy refuses a user outside an active local session"
    # A machine without polkit on its system bus: unavailable, so the PIN is the way.
    assert os_check(cli_bin, dict(env, DBUS_SYSTEM_BUS_ADDRESS="unix:abstract=/kring-no-such-bus")) == "unavailable"


def test_the_os_unlocks_kring_is_audited_and_the_organisation_may_turn_it_off(stack, cli, tmp_path):
    c = cli("os-unlock")
    c.env["DBUS_SYSTEM_BUS_ADDRESS"] = stack["system_bus"]
    c.login(stack, user(stack, "a", 1))
    state = c.json("app-lock", "set-pin", input="48291\n")
    assert state["pinSet"] and state["osUnlock"], state
    # Each CLI run is a restart: with a PIN set it starts locked.
    assert c.json("app-lock", "status")["locked"] is True
    assert c.error("app-lock", "unlock", input="11111\n")["code"] == "app_lock_pin_wrong"
    unlocked = c.json("app-lock", "unlock", "--os")
    assert unlocked["locked"] is False and unlocked["attemptsLeft"] == 3, unlocked
    entries = c.json("audit", "--limit", "10")
    [os_unlock] = [e for e in entries if e["kind"] == "unlock_app"]
    assert os_unlock["detail"] == "operating system" and os_unlock["outcome"] == 0, os_unlock
    assert [e["kind"] for e in entries if e["outcome"] == 4] == ["unlock_failed"], entries

    # The organisation turns it off: refused with its own code, and the PIN still works.
    config = json.loads(open(stack["onboarding_config"]).read())
    config["app_lock"] = {**config.get("app_lock", {}), "os_unlock": False}
    path = tmp_path / "onboarding.json"
    path.write_text(json.dumps(config))
    assert c.json("app-lock", "status", "--config", str(path))["osUnlock"] is False
    assert c.error("app-lock", "unlock", "--os", "--config", str(path))["code"] == "app_lock_os_unavailable"
    assert c.json("app-lock", "unlock", "--config", str(path), input="48291\n")["locked"] is False

    # Without polkit on the bus: unavailable, nothing audited as a failure.
    c.env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:abstract=/kring-no-such-bus"
    assert c.error("app-lock", "unlock", "--os")["code"] == "app_lock_os_unavailable"
    assert [e["kind"] for e in c.json("audit", "--limit", "10") if e["outcome"] == 4] == ["unlock_failed"]
