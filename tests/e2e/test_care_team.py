"""Issue 3 in the real app: a care team across both organisations, a new
conversation with the 50-character counter and the recipient picker, and
archiving. Screenshots in target/e2e-screenshots/."""
import json
import subprocess
import time
import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import user
from test_app import SHOTS, app, login, logout, wait  # noqa: F401  (app is a fixture)


def by_testid(driver, testid, **attrs):
    sel = f'[data-testid="{testid}"]' + "".join(f'[{k}="{v}"]' for k, v in attrs.items())
    return WebDriverWait(driver, 40).until(lambda d: d.find_element(By.CSS_SELECTOR, sel))


def cli_as(cli_bin, tmp_path, stack, u):
    """The colleague at organisation B acts through the CLI."""
    import os
    env = dict(os.environ, KRING_DATA_DIR=str(tmp_path / "gp"), KRING_PROFILE=f"e2e-gp-{uuid.uuid4().hex[:6]}")

    def run(*args, input=None):
        p = subprocess.run([str(cli_bin), "--json", *args], env=env, input=input, capture_output=True, text=True, timeout=90)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout.strip().splitlines()[-1])
    run("login", "--homeserver", stack["homeservers"][u["org"]]["base_url"], "--user", u["localpart"],
        "--password-stdin", input=u["password"] + "\n")
    return run


def test_care_team_conversation_counter_and_archive(app, stack, cli_bin, tmp_path):
    lead, gp = user(stack, "a", 0), user(stack, "b", 0)
    gp_cli = cli_as(cli_bin, tmp_path, stack, gp)
    login(app, stack, lead)
    wait(app, "main-view")
    wait(app, "tab-clients").click()

    client_name = f"Mw. T. Veenstra {uuid.uuid4().hex[:4]}"
    wait(app, "new-care-team").click()
    wait(app, "new-care-team-name").send_keys(client_name)
    wait(app, "new-care-team-bsn").send_keys("9" + str(uuid.uuid4().int)[:10])
    wait(app, "new-care-team-submit").click()
    item = WebDriverWait(app, 40).until(lambda d: next(
        (e for e in d.find_elements(By.CSS_SELECTOR, '[data-testid="client-item"]') if client_name in (e.get_attribute("textContent") or "")), False))
    space_id = item.get_attribute("data-space-id")
    item.click()

    # Invite the GP of organisation B; they accept through their own Kring (the CLI).
    wait(app, "invite-user").send_keys(gp["mxid"])
    wait(app, "invite-submit").click()
    deadline = time.time() + 40
    while not [i for i in gp_cli("care-team", "invites") if i["spaceId"] == space_id]:
        assert time.time() < deadline, "invite did not reach organisation B"
        time.sleep(0.5)
    assert gp_cli("care-team", "accept", "--space", space_id)["clientName"] == client_name
    by_testid(app, "member-item", **{"data-user-id": gp["mxid"]})
    app.save_screenshot(str(SHOTS / "10-care-team.png"))

    # New conversation: the counter refuses 51 characters, then a valid subject.
    wait(app, "new-conversation").click()
    subject = wait(app, "subject-input")
    subject.send_keys("x" * 51)
    assert "51" in wait(app, "subject-counter").text
    assert not wait(app, "new-conversation-submit").is_enabled()
    app.save_screenshot(str(SHOTS / "11-subject-too-long.png"))
    subject.clear()
    subject.send_keys("Medicatiereview")
    assert "15" in wait(app, "subject-counter").text
    wait(app, "body-input").send_keys("Graag een review van de medicatielijst.")
    option = by_testid(app, "recipient-option", **{"data-user-id": gp["mxid"]})
    (option if option.tag_name == "input" else option.find_element(By.CSS_SELECTOR, "input")).click()
    wait(app, "new-conversation-submit").click()
    conv = WebDriverWait(app, 40).until(lambda d: next(
        (e for e in d.find_elements(By.CSS_SELECTOR, '[data-testid="conversation-item"]')
         if "Medicatiereview" in (e.get_attribute("textContent") or "")), False))
    room_id = conv.get_attribute("data-room-id")
    assert conv.get_attribute("data-status") == "active"
    conv.click()
    WebDriverWait(app, 40).until(lambda d: any(
        "medicatielijst" in m.text for m in d.find_elements(By.CSS_SELECTOR, '[data-testid="timeline-message"]')))
    app.save_screenshot(str(SHOTS / "12-conversation.png"))

    # The GP sees it in the client's conversation list at organisation B.
    deadline = time.time() + 40
    while not [c for c in gp_cli("conversation", "list", "--space", space_id) if c["roomId"] == room_id]:
        assert time.time() < deadline, "conversation did not reach organisation B"
        time.sleep(0.5)

    # The GP takes part (an invitee cannot read the room's state yet).
    gp_cli("conversation", "join", "--room", room_id)

    wait(app, "archive-conversation").click()
    WebDriverWait(app, 40).until(lambda d: by_testid(d, "conversation-item", **{"data-room-id": room_id})
                                 .get_attribute("data-status") == "archived")
    app.save_screenshot(str(SHOTS / "13-archived.png"))
    deadline = time.time() + 40
    while not [c for c in gp_cli("conversation", "list", "--space", space_id)
               if c["roomId"] == room_id and c["status"] == "archived"]:
        assert time.time() < deadline, "archive not shared with organisation B"
        time.sleep(0.5)
    gp_cli("logout")
    logout(app)
