"""The demo's working ward (issue 12): tests/stack/seed/ward.py builds a small practice through
kring-cli, and the real app opens on it. Screenshots of the client list, a care team's
conversations and its care network at 1280x800 and 390x844 (target/e2e-screenshots/6x-*).

The organisation's start view ("start_view": "clients" in onboarding.json) opens the app on
the client list, without a click.

The lead here is Dr. Ruben Mulder, not the demo's Eva de Wit, so the teams this adds to the stack
leave the accounts of the other E2E tests as they were; the file's name makes it run last.
"""
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import REPO
from driver import SHOTS, running_app
from test_app import wait

CLIENTS, CONVERSATIONS = 12, 30


def rows(app, testid):
    return app.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')


def test_the_demo_ward_opens_in_the_app(app_bin, cli_bin, tmp_path, request, stack):
    lead = next(u for u in stack["users"] if u["key"] == "a-internist")
    data, profile = tmp_path / "data", f"e2e-ward-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, KRING_DATA_DIR=str(data), KRING_PROFILE=profile, KRING_DOWNLOAD_DIR=str(tmp_path / "dl"))
    login = subprocess.run([str(cli_bin), "--json", "login", "--homeserver", stack["homeservers"]["a"]["base_url"],
                            "--user", lead["localpart"], "--password-stdin"], env=env, input=lead["password"] + "\n",
                           capture_output=True, text=True, timeout=60)
    assert login.returncode == 0, login.stderr
    seeded = subprocess.run([sys.executable, str(REPO / "tests/stack/seed/ward.py"), "--stack", str(Path(stack["stack_dir"]) / "stack.json"),
                             "--data-dir", str(data), "--profile", profile, "--lead", "a-internist", "--seed", "7",
                             "--clients", str(CLIENTS), "--conversations", str(CONVERSATIONS), "--cli", str(cli_bin)],
                            env=env, capture_output=True, text=True, timeout=900)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    made = json.loads(seeded.stdout.strip().splitlines()[-1])
    assert len(made["careTeams"]) == CLIENTS and len(made["conversations"]) == CONVERSATIONS, made
    print(seeded.stderr)

    def cli(*args):
        p = subprocess.run([str(cli_bin), "--json", *args], env=env, capture_output=True, text=True, timeout=90)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout.strip().splitlines()[-1])

    # What the seeder made, as the lead's Kring reads it back from the homeservers.
    teams = {t["spaceId"]: t for t in cli("care-team", "list")}
    assert set(made["careTeams"]) <= set(teams), teams
    # Each care team's conversations, read once (every read is a CLI start and a sync).
    listed = {s: {c["roomId"]: c for c in cli("conversation", "list", "--space", s)} for s in made["careTeams"]}
    archived = next(rooms[made["archived"]] for rooms in listed.values() if made["archived"] in rooms)
    assert archived["status"] == "archived", archived
    urgent_in = next(s for s, rooms in listed.items() if made["urgent"] in rooms)
    unread = listed[urgent_in][made["urgent"]]
    assert unread["unreadCount"] >= 1, unread

    # As in scripts/demo: the organisation works client by client, so the app opens on "Cliënten".
    config = json.loads(Path(stack["onboarding_config"]).read_text())
    (tmp_path / "onboarding.json").write_text(json.dumps(dict(config, start_view="clients")))
    env["KRING_ONBOARDING_CONFIG"] = str(tmp_path / "onboarding.json")
    with running_app(app_bin, env, request) as app:
        wait(app, "main-view", timeout=60)
        WebDriverWait(app, 10).until(lambda d: wait(d, "tab-clients").get_attribute("aria-selected") == "true")
        WebDriverWait(app, 90).until(lambda d: len(rows(d, "client-item")) >= CLIENTS)
        names = {e.get_attribute("textContent").strip() for e in rows(app, "client-name")}
        assert {teams[s]["clientName"] for s in made["careTeams"]} <= names, names
        app.save_screenshot(str(SHOTS / "60-ward-clients.png"))

        # The care team with the urgent message: its conversations, the urgent one unread.
        app.find_element(By.CSS_SELECTOR, f'[data-testid="client-item"][data-space-id="{urgent_in}"]').click()
        WebDriverWait(app, 60).until(lambda d: rows(d, "conversation-item"))
        app.save_screenshot(str(SHOTS / "61-ward-conversations.png"))
        wait(app, "care-network-tab").click()
        time.sleep(1)
        app.save_screenshot(str(SHOTS / "62-ward-care-network.png"))

        app.set_window_size(390, 844)
        time.sleep(0.5)
        app.save_screenshot(str(SHOTS / "63-ward-mobile.png"))
        app.set_window_size(1280, 800)
