"""End to end in the real app: the release-shaped binary (embedded UI) driven
through tauri-driver and WebKitWebDriver under a real X display (Xvfb in CI),
against the real homeservers. Screenshots go to target/e2e-screenshots/."""
import os
import time
import uuid

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import user
from driver import SHOTS, open_room, running_app


@pytest.fixture
def app(app_bin, tmp_path, request):
    """A fresh app instance with its own data dir and keychain profile."""
    env = dict(os.environ, KRING_DATA_DIR=str(tmp_path / "data"), KRING_PROFILE=f"e2e-{uuid.uuid4().hex[:8]}",
               KRING_DOWNLOAD_DIR=str(tmp_path / "downloads"))
    with running_app(app_bin, env, request) as driver:
        yield driver


def wait(driver, testid, timeout=40):
    return WebDriverWait(driver, timeout).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, f'[data-testid="{testid}"]')))


def wait_login_screen(driver, timeout=40):
    """The login screen once Rust said how to sign in (it may fold the password form away)."""
    return WebDriverWait(driver, timeout).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, '[data-login-options="settled"]')))


def login(driver, stack, u, password=None):
    wait_login_screen(driver)
    folded = driver.find_elements(By.CSS_SELECTOR, '[data-testid="password-login"]:not([open])')
    if folded:
        wait(driver, "password-login-toggle").click()
    wait(driver, "login-form")
    for testid, value in (("login-homeserver", stack["homeservers"][u["org"]]["base_url"]),
                          ("login-username", u["localpart"]),
                          ("login-password", password or u["password"])):
        field = wait(driver, testid)
        field.clear()
        field.send_keys(value)
    wait(driver, "login-submit").click()


def logout(driver):
    wait(driver, "logout").click()
    wait_login_screen(driver)


def test_login_open_room_send_and_see_it_arrive(app, stack, matrix_as):
    me, colleague = user(stack, "a", 0), user(stack, "b", 0)
    login(app, stack, me)
    wait(app, "main-view")
    assert wait(app, "user-id").text.strip() == me["mxid"]

    open_room(app, stack["demo_room_id"])

    text = f"Graag bellen over de medicatie {uuid.uuid4().hex[:6]}"
    box = wait(app, "composer-input")
    box.send_keys(text)
    box.send_keys(Keys.CONTROL, Keys.ENTER)

    def sent(d):
        for m in d.find_elements(By.CSS_SELECTOR, '[data-testid="timeline-message"]'):
            if text in m.text and m.get_attribute("data-send-state") == "sent":
                return m
        return False
    WebDriverWait(app, 40).until(sent)
    assert wait(app, "composer-input").get_attribute("value") == "", "composer clears after a successful send"
    app.save_screenshot(str(SHOTS / "01-message-sent.png"))

    # The colleague at the other organisation receives it (checked on their homeserver).
    other = matrix_as(colleague)
    deadline = time.time() + 60
    while text not in other.recent_bodies(stack["demo_room_id"]):
        assert time.time() < deadline, "message did not arrive at organisation B"
        time.sleep(0.5)

    # And a reply from the colleague shows up in the app.
    reply = f"Bel ik zo {uuid.uuid4().hex[:6]}"
    other.send_text(stack["demo_room_id"], reply)
    WebDriverWait(app, 60).until(lambda d: any(
        reply in m.text for m in d.find_elements(By.CSS_SELECTOR, '[data-testid="timeline-message"]')))
    app.save_screenshot(str(SHOTS / "02-reply-received.png"))
    logout(app)


def test_wrong_password_shows_readable_text_and_keeps_the_input(app, stack):
    me = user(stack, "a", 0)
    login(app, stack, me, password="niet-goed")
    error = wait(app, "login-error")
    assert "wachtwoord" in error.text.lower(), error.text
    assert wait(app, "login-username").get_attribute("value") == me["localpart"]
    assert wait(app, "login-password").get_attribute("value") == "niet-goed"
    app.save_screenshot(str(SHOTS / "03-wrong-password.png"))
