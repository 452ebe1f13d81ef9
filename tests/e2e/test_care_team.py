"""Issue 3 in the real app: a care team across both organisations, a new
conversation with the 50-character counter, the recipient picker and files,
replies with files both ways, saving a file, and archiving. Screenshots in
target/e2e-screenshots/."""
import json
import subprocess
import time
import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.file_detector import UselessFileDetector
from selenium.webdriver.support.ui import WebDriverWait

from conftest import user
from test_app import SHOTS, app, login, logout, wait  # noqa: F401  (app is a fixture)


def by_testid(driver, testid, **attrs):
    sel = f'[data-testid="{testid}"]' + "".join(f'[{k}="{v}"]' for k, v in attrs.items())
    return WebDriverWait(driver, 40).until(lambda d: d.find_element(By.CSS_SELECTOR, sel))


def cli_as(cli_bin, tmp_path, stack, u, name="gp"):
    """Someone else (by default the colleague at organisation B) acts through the CLI, signed in
    with a data dir and keychain profile of their own."""
    import os
    env = dict(os.environ, KRING_DATA_DIR=str(tmp_path / name), KRING_PROFILE=f"e2e-{name}-{uuid.uuid4().hex[:6]}")

    def run(*args, input=None):
        p = subprocess.run([str(cli_bin), "--json", *args], env=env, input=input, capture_output=True, text=True, timeout=90)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout.strip().splitlines()[-1])
    run.env = env
    run("login", "--homeserver", stack["homeservers"][u["org"]]["base_url"], "--user", u["localpart"],
        "--password-stdin", input=u["password"] + "\n")
    return run


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000101ff89993d1d0000000049454e44ae426082")


def attach(driver, container_testid, paths):
    """Picks files the way the system dialog would hand them to the page."""
    # The app runs on this machine: hand it the paths (Selenium would try to
    # upload them to a grid's /se/file otherwise, which WebKitWebDriver lacks).
    driver.file_detector = UselessFileDetector()
    form = wait(driver, container_testid)
    field = form.find_element(By.CSS_SELECTOR, '[data-testid="attachment-input"]')
    field.send_keys("\n".join(str(p) for p in paths))


def test_care_team_conversation_counter_files_replies_and_archive(app, stack, cli_bin, tmp_path):
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

    # Invite the GP of organisation B by Matrix ID (the folded manual option of
    # the care-network tab); they accept through their own Kring (the CLI).
    wait(app, "care-network-tab").click()
    wait(app, "invite-manual-toggle").click()
    wait(app, "invite-user").send_keys(gp["mxid"])
    wait(app, "invite-submit").click()
    deadline = time.time() + 40
    while not [i for i in gp_cli("care-team", "invites") if i["spaceId"] == space_id]:
        assert time.time() < deadline, "invite did not reach organisation B"
        time.sleep(0.5)
    assert gp_cli("care-team", "accept", "--space", space_id)["clientName"] == client_name
    by_testid(app, "participant", **{"data-user-id": gp["mxid"]})
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
    files = tmp_path / "files"
    files.mkdir()
    (files / "medicatielijst.txt").write_text("Metformine 500 mg 2dd\n")
    (files / "wond.png").write_bytes(PNG)
    attach(app, "new-conversation-form", [files / "medicatielijst.txt", files / "wond.png"])
    WebDriverWait(app, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '[data-testid="attachment-item"]')) == 2)
    app.save_screenshot(str(SHOTS / "11b-new-conversation-with-files.png"))
    wait(app, "new-conversation-submit").click()
    conv = WebDriverWait(app, 40).until(lambda d: next(
        (e for e in d.find_elements(By.CSS_SELECTOR, '[data-testid="conversation-item"]')
         if "Medicatiereview" in (e.get_attribute("textContent") or "")), False))
    room_id = conv.get_attribute("data-room-id")
    assert conv.get_attribute("data-status") == "active"
    conv.click()
    first = WebDriverWait(app, 40).until(lambda d: next(
        (m for m in d.find_elements(By.CSS_SELECTOR, '[data-testid="timeline-message"]')
         if "medicatielijst" in m.text and m.get_attribute("data-send-state") == "sent"), False))
    # The text and both files arrive as one message; the image is shown inline.
    WebDriverWait(app, 40).until(lambda d: len(first.find_elements(By.CSS_SELECTOR, '[data-testid="attachment"]')) == 2)
    image = first.find_element(By.CSS_SELECTOR, '[data-testid="attachment-image"]')
    WebDriverWait(app, 40).until(lambda d: d.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", image))
    first_event = first.get_attribute("data-event-id")
    app.save_screenshot(str(SHOTS / "12-conversation.png"))

    # The GP sees it in the client's conversation list at organisation B.
    deadline = time.time() + 40
    while not [c for c in gp_cli("conversation", "list", "--space", space_id) if c["roomId"] == room_id]:
        assert time.time() < deadline, "conversation did not reach organisation B"
        time.sleep(0.5)

    # The GP takes part (an invitee cannot read the room's state yet).
    gp_cli("conversation", "join", "--room", room_id)

    # The GP answers from their own Kring with a file; the app shows it as a reply.
    (files / "advies.txt").write_text("Dosering halveren.\n")
    gp_cli("send", "--room", room_id, "--reply-to", first_event, "--attach", str(files / "advies.txt"),
           "Zie mijn advies.")
    answer = WebDriverWait(app, 60).until(lambda d: next(
        (m for m in d.find_elements(By.CSS_SELECTOR, '[data-testid="timeline-message"]') if "Zie mijn advies." in m.text), False))
    assert answer.find_elements(By.CSS_SELECTOR, '[data-testid="reply-quote"]'), "the answer must quote the first message"
    assert answer.find_element(By.CSS_SELECTOR, '[data-testid="attachment"]').get_attribute("data-filename") == "advies.txt"

    # Saving the GP's file puts the decrypted bytes in the Downloads folder.
    answer.find_element(By.CSS_SELECTOR, '[data-testid="attachment-save"]').click()
    saved = WebDriverWait(app, 40).until(lambda d: answer.find_element(By.CSS_SELECTOR, '[data-testid="attachment-saved"]'))
    downloaded = tmp_path / "downloads" / "advies.txt"
    assert str(downloaded) in saved.text
    assert downloaded.read_text() == "Dosering halveren.\n"

    # The lead replies to it from the app with two files.
    answer.find_element(By.CSS_SELECTOR, '[data-testid="reply-message"]').click()
    wait(app, "composer-reply")
    (files / "schema.txt").write_text("Nieuw schema\n")
    attach(app, "composer", [files / "schema.txt", files / "wond.png"])
    WebDriverWait(app, 10).until(lambda d: len(d.find_elements(
        By.CSS_SELECTOR, '[data-testid="composer"] [data-testid="attachment-item"]')) == 2)
    wait(app, "composer-input").send_keys("Aangepast, zie schema.")
    app.save_screenshot(str(SHOTS / "12b-reply-with-files.png"))
    wait(app, "composer-send").click()
    deadline = time.time() + 60
    while True:
        p = subprocess.run([str(cli_bin), "--json", "tail", "--room", room_id], env=gp_cli.env,
                           capture_output=True, text=True, timeout=90)
        got = [json.loads(l)["content"] for l in p.stdout.splitlines()] if p.returncode == 0 else []
        reply = [m for m in got if m.get("body") == "Aangepast, zie schema."]
        if reply:
            break
        if time.time() >= deadline:
            # Say whether it arrived undecryptable (key not shared) or not at all.
            everything = subprocess.run([str(cli_bin), "--json", "tail", "--all", "--room", room_id], env=gp_cli.env,
                                        capture_output=True, text=True, timeout=90).stdout
            raise AssertionError(f"the reply with files did not reach organisation B: {got}\nwith notices: {everything}")
        time.sleep(1)
    assert [a["filename"] for a in reply[0]["attachments"]] == ["schema.txt", "wond.png"]
    assert reply[0]["inReplyTo"] == answer.get_attribute("data-event-id")
    app.save_screenshot(str(SHOTS / "12c-replies.png"))

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
