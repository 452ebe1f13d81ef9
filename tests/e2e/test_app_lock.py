"""The app lock (issue 15) in the real app, with the organisation's idle time shortened to 5 s
by its onboarding.json: a PIN set where the banner asks for one, the lock screen after the idle
time (screenshots at 1280x800 and 390x844), three wrong PINs and the clear message that
follows, the right PIN after the hold, and the composer's text still there. The audit trail in
the app's own database holds each failed unlock (outcome 4) and the unlock."""
import json
import os
import sqlite3
import time
import uuid
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import user
from driver import SHOTS, open_room, running_app
from test_app import login, wait

IDLE, HOLD = 5, 4
PIN = "48291"


def test_the_app_locks_when_idle_and_a_wrong_pin_three_times_holds_it(app_bin, tmp_path, request, stack):
    config = json.loads(Path(stack["onboarding_config"]).read_text())
    config["app_lock"] = {"idle_seconds": IDLE, "max_attempts": 3, "lockout_seconds": HOLD}
    onboarding = tmp_path / "onboarding.json"
    onboarding.write_text(json.dumps(config))
    data = tmp_path / "data"
    env = dict(os.environ, KRING_DATA_DIR=str(data), KRING_PROFILE=f"e2e-lock-{uuid.uuid4().hex[:8]}",
               KRING_DOWNLOAD_DIR=str(tmp_path / "downloads"), KRING_ONBOARDING_CONFIG=str(onboarding),
               DBUS_SYSTEM_BUS_ADDRESS=stack["system_bus"])
    me = user(stack, "a", 0)
    with running_app(app_bin, env, request) as app:
        login(app, stack, me)
        wait(app, "main-view", timeout=60)
        # Without a PIN Kring cannot lock: it says so, and the panel sets one.
        wait(app, "app-lock-banner-open").click()
        for testid in ("app-lock-pin", "app-lock-pin-again"):
            wait(app, testid).send_keys(PIN)
        wait(app, "app-lock-save").click()
        wait(app, "app-lock-saved")
        wait(app, "devices-close").click()
        assert not app.find_elements(By.CSS_SELECTOR, '[data-testid="app-lock-banner"]')

        open_room(app, stack["demo_room_id"])
        draft = f"Halverwege een bericht over de wond {uuid.uuid4().hex[:6]}"
        wait(app, "composer-input").send_keys(draft)

        # Idle: no input from here on. The lock covers everything.
        lock = wait(app, "lock-screen", timeout=IDLE + 20)
        assert "Kring is vergrendeld" in lock.text
        assert not app.find_element(By.CSS_SELECTOR, '[data-testid="main-view"]').is_displayed()
        assert draft not in app.find_element(By.TAG_NAME, "body").text
        app.save_screenshot(str(SHOTS / "50-lock-screen.png"))

        for left in ("Nog 2 pogingen", "Nog 1 poging."):
            wait(app, "lock-pin").send_keys("11111")
            wait(app, "lock-unlock").click()
            WebDriverWait(app, 10).until(
                lambda d: left in d.find_element(By.CSS_SELECTOR, '[data-testid="lock-error"]').text)
        wait(app, "lock-pin").send_keys("11111")
        wait(app, "lock-unlock").click()
        held = wait(app, "lock-held", timeout=10)
        assert "Te vaak een verkeerde pincode" in held.text, held.text
        assert not wait(app, "lock-pin").is_enabled()
        app.save_screenshot(str(SHOTS / "51-lock-three-wrong-pins.png"))
        app.set_window_size(390, 844)
        time.sleep(0.5)
        app.save_screenshot(str(SHOTS / "52-lock-screen-mobile.png"))
        app.set_window_size(1280, 800)

        # After the hold, the right PIN: back where they were, with what they had typed.
        pin = WebDriverWait(app, HOLD + 10).until(
            lambda d: (lambda el: el if el.is_enabled() else False)(d.find_element(By.CSS_SELECTOR, '[data-testid="lock-pin"]')))
        pin.send_keys(PIN)
        wait(app, "lock-unlock").click()
        wait(app, "main-view", timeout=10)
        WebDriverWait(app, 10).until(lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="lock-screen"]'))
        assert wait(app, "composer-input").get_attribute("value") == draft

        # Idle again; this time the computer account unlocks (the stack's real polkitd, which
        # authorises root, as these tests run; the refusal is in test_app_lock_os_cli.py).
        wait(app, "lock-screen", timeout=IDLE + 20)
        wait(app, "lock-unlock-os").click()
        WebDriverWait(app, 20).until(lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="lock-screen"]'))
        assert wait(app, "composer-input").get_attribute("value") == draft

    db = next(data.glob("profiles/*/kring.db"))
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT kind, outcome FROM audit_trail WHERE kind IN "
                           "('set_app_lock_pin', 'lock_app', 'unlock_failed', 'unlock_app') ORDER BY seq").fetchall()
    finally:
        con.close()
    assert rows == [("set_app_lock_pin", 0), ("lock_app", 0), ("unlock_failed", 4), ("unlock_failed", 4),
                    ("unlock_failed", 4), ("unlock_app", 0), ("lock_app", 0), ("unlock_app", 0)], rows
