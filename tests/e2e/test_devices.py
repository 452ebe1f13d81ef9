"""Issue 13 in the real app: every device of a person. The lead's first device
(Kring's CLI, with recovery set up, a care team and a conversation) verifies
the app, a second device with its own data directory and keychain entry, by
emoji; the app then shows the same client and messages. tauri-driver drives
one app instance at a time, so the first device is the CLI, which runs the
same core. Screenshots in target/e2e-screenshots/."""
import json
import os
import subprocess
import time
import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import fresh_user
from driver import running_app
from test_app import SHOTS, app, login, wait  # noqa: F401  (app is a fixture)
from test_care_team import cli_as


def step(proc, wanted, timeout=60):
    """The next JSON line of the CLI's verification with step == wanted."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"the CLI ended before {wanted!r}: {proc.stderr.read()}")
        got = json.loads(line)
        if got.get("step") == wanted:
            return got
        assert got.get("step") != "cancelled", got
    raise AssertionError(f"no {wanted!r} within {timeout} s")


def first_device(cli_bin, tmp_path, stack, prefix, client_name, subject, body):
    """The lead's first device (kring-cli): recovery set up, a care team with a nurse, and a
    conversation with one message. Returns the lead and the CLI."""
    lead, nurse = fresh_user(stack, "a", prefix), fresh_user(stack, "a", f"{prefix}-nurse")
    first = cli_as(cli_bin, tmp_path, stack, lead, f"{prefix}-first")
    colleague = cli_as(cli_bin, tmp_path, stack, nurse, f"{prefix}-nurse")
    assert len(first("recovery", "setup")["recoveryKey"].split()) == 12
    space_id = first("care-team", "create", "--client-name", client_name,
                     "--pseudo-bsn", "9" + str(uuid.uuid4().int)[:10])["spaceId"]
    first("care-team", "invite", "--space", space_id, "--user", nurse["mxid"], "--role", "practitioner")
    deadline = time.time() + 40
    while not [i for i in colleague("care-team", "invites") if i["spaceId"] == space_id]:
        assert time.time() < deadline, "the invite did not arrive"
        time.sleep(0.5)
    colleague("care-team", "accept", "--space", space_id)
    first("conversation", "start", "--space", space_id, "--subject", subject, "--to", nurse["mxid"],
          "--kind", "professional", body)
    return lead, first


def shows_client_and_message(window, client_name, subject, body):
    """The window lists the client, opens its conversation and reads the message, with no blanks."""
    wait(window, "tab-clients").click()
    WebDriverWait(window, 60).until(lambda d: next(
        (e for e in d.find_elements(By.CSS_SELECTOR, '[data-testid="client-item"]')
         if client_name in (e.get_attribute("textContent") or "")), False)).click()
    WebDriverWait(window, 40).until(lambda d: next(
        (e for e in d.find_elements(By.CSS_SELECTOR, '[data-testid="conversation-item"]')
         if subject in (e.get_attribute("textContent") or "")), False)).click()
    WebDriverWait(window, 60).until(lambda d: any(
        body in m.text for m in d.find_elements(By.CSS_SELECTOR, '[data-testid="timeline-message"]')))
    assert not window.find_elements(By.CSS_SELECTOR, '[data-notice="undecryptable"]')


def test_a_second_device_verified_by_emoji_shows_the_same_clients_and_messages(app, stack, cli_bin, tmp_path):
    client_name = f"Mw. H. Brouwer {uuid.uuid4().hex[:4]}"
    lead, first = first_device(cli_bin, tmp_path, stack, "e2e-devices", client_name, "Overdracht",
                               "Geschreven op het eerste apparaat")

    # The app is a new device: it says so instead of showing blanks.
    login(app, stack, lead)
    wait(app, "main-view")
    banner = wait(app, "device-banner")
    assert banner.get_attribute("data-attention") == "unverified"
    app.save_screenshot(str(SHOTS / "30-new-device-unverified.png"))

    accept = subprocess.Popen([str(cli_bin), "--json", "verify", "accept"], env=first.env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        step(accept, "listening")
        wait(app, "device-banner-open").click()
        wait(app, "verify-with-device").click()
        on_first = [e["symbol"] for e in step(accept, "compare")["emojis"]]
        shown = wait(app, "verification-emojis")
        WebDriverWait(app, 30).until(lambda d: len(shown.find_elements(By.CSS_SELECTOR, ".symbol")) == 7)
        on_app = [s.get_attribute("textContent") for s in shown.find_elements(By.CSS_SELECTOR, ".symbol")]
        assert on_app == on_first, "both devices show the same emoji"
        app.save_screenshot(str(SHOTS / "31-verification-emoji.png"))
        accept.stdin.write("yes\n")
        accept.stdin.flush()
        wait(app, "verification-match").click()
        step(accept, "done")
        WebDriverWait(app, 60).until(lambda d: d.find_elements(
            By.CSS_SELECTOR, '[data-testid="device-status"][data-status="verified"]'))
        # The first device stays online a moment to hand over the keys; then the banner goes.
        assert accept.wait(timeout=60) == 0, accept.stderr.read()
        WebDriverWait(app, 30).until(lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="device-banner"]'))
    finally:
        if accept.poll() is None:
            accept.kill()
    app.save_screenshot(str(SHOTS / "32-verified.png"))
    wait(app, "devices-close").click()

    # The same client and the message written before this device existed.
    shows_client_and_message(app, client_name, "Overdracht", "Geschreven op het eerste apparaat")
    app.save_screenshot(str(SHOTS / "33-same-clients-and-messages.png"))


def test_two_app_windows_of_one_person_verify_each_other_by_emoji(app_bin, stack, cli_bin, tmp_path, request):
    """The same, with both devices in the real app: the first window is the lead's first device
    (its session made by the CLI, then restored by the app from the same data dir and keychain
    entry); the second is a new device. The new one asks, the first shows the request and
    accepts, both show the same emoji, the person confirms in both windows."""
    client_name = f"Dhr. P. Smit {uuid.uuid4().hex[:4]}"
    lead, first = first_device(cli_bin, tmp_path, stack, "e2e-two", client_name, "Wondzorg",
                               "Geschreven in het eerste venster")

    second_env = dict(os.environ, KRING_DATA_DIR=str(tmp_path / "second-window"),
                      KRING_PROFILE=f"e2e-second-{uuid.uuid4().hex[:6]}")
    with running_app(app_bin, first.env, request, "first") as one, \
            running_app(app_bin, second_env, request, "second") as two:
        wait(one, "main-view")
        login(two, stack, lead)
        wait(two, "main-view")
        assert wait(two, "device-banner").get_attribute("data-attention") == "unverified"
        wait(two, "device-banner-open").click()
        wait(two, "verify-with-device").click()

        # The first window shows the request; accepting it starts the comparison there.
        banner = WebDriverWait(one, 60).until(lambda d: next(
            (b for b in d.find_elements(By.CSS_SELECTOR, '[data-testid="device-banner"]')
             if b.get_attribute("data-attention") == "request"), False))
        banner.find_element(By.CSS_SELECTOR, '[data-testid="device-banner-open"]').click()
        wait(one, "verification-accept").click()

        def symbols(window):
            shown = wait(window, "verification-emojis", timeout=60)
            WebDriverWait(window, 30).until(lambda d: len(shown.find_elements(By.CSS_SELECTOR, ".symbol")) == 7)
            return [s.get_attribute("textContent") for s in shown.find_elements(By.CSS_SELECTOR, ".symbol")]

        assert symbols(one) == symbols(two), "both windows show the same emoji"
        one.save_screenshot(str(SHOTS / "34-first-window-compares.png"))
        two.save_screenshot(str(SHOTS / "35-second-window-compares.png"))
        wait(one, "verification-match").click()
        wait(two, "verification-match").click()
        WebDriverWait(two, 60).until(lambda d: d.find_elements(
            By.CSS_SELECTOR, '[data-testid="device-status"][data-status="verified"]'))
        WebDriverWait(two, 60).until(lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="device-banner"]'))
        wait(two, "devices-close").click()

        shows_client_and_message(two, client_name, "Wondzorg", "Geschreven in het eerste venster")
        two.save_screenshot(str(SHOTS / "36-second-window-same-clients.png"))
