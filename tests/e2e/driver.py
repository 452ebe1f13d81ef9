"""The real app under tauri-driver and WebKitWebDriver, for the E2E tests: one
running instance per `running_app`, with a screenshot kept when the test fails.
Screenshots go to target/e2e-screenshots/ (SHOTS)."""
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import (ElementClickInterceptedException, StaleElementReferenceException,
                                        TimeoutException)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import WebDriverWait

from conftest import TARGET

SHOTS = TARGET / "e2e-screenshots"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tauri_driver():
    found = shutil.which("tauri-driver") or str(Path.home() / ".cache/kring/cargo-tools/bin/tauri-driver")
    if not Path(found).exists():
        pytest.fail("tauri-driver missing: scripts/setup installs it")
    return found


def _test_failed(request):
    """Whether the test's call phase is reported failed (tests/conftest.py records it)."""
    report = getattr(request.node, "rep_call", None)
    return bool(report and report.failed)


@contextmanager
def running_app(app_bin, env, request, name=None):
    """The app under tauri-driver with env, as a WebDriver session (1280x800).

    Keeps FAILED-<test>-<name>.png (FAILED-<test>.png without a name) when the
    body raises, or, used from a fixture, when the test it served failed."""
    if not os.environ.get("DISPLAY"):
        pytest.fail("no DISPLAY: run under xvfb-run (scripts/test does)")
    port = _free_port()
    driver_proc = subprocess.Popen([_tauri_driver(), "--port", str(port), "--native-port", str(_free_port())],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    driver = None
    shot = SHOTS / (f"FAILED-{request.node.name}-{name}.png" if name else f"FAILED-{request.node.name}.png")
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        options = ArgOptions()
        options.set_capability("browserName", "wry")
        options.set_capability("tauri:options", {"application": str(app_bin)})
        # tauri-driver accepts connections a moment before WebKitWebDriver behind
        # it can start a session; the first request may then be dropped.
        for attempt in range(5):
            try:
                driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{port}", options=options)
                break
            except Exception:  # urllib3 ProtocolError, selenium SessionNotCreated, ...
                if attempt == 4:
                    raise
                time.sleep(1 + attempt)
        driver.set_window_size(1280, 800)
        SHOTS.mkdir(parents=True, exist_ok=True)
        try:
            yield driver
        except BaseException:
            driver.save_screenshot(str(shot))
            raise
        if _test_failed(request):
            driver.save_screenshot(str(shot))
    finally:
        if driver:
            driver.quit()
        driver_proc.terminate()
        driver_proc.wait(timeout=10)


def open_room(driver, room_id, timeout=40):
    """Opens a room from "Alle gesprekken" and waits until its timeline shows. While the first
    sync fills the list, rows move: a click aimed at one row can land on its neighbour, so the
    click is repeated until the timeline is this room's (a wrong room fails the test)."""
    row = f'[data-testid="room-item"][data-room-id="{room_id}"]'
    deadline = time.monotonic() + timeout
    while True:
        try:
            WebDriverWait(driver, max(1, deadline - time.monotonic())).until(
                lambda d: d.find_element(By.CSS_SELECTOR, row)).click()
            WebDriverWait(driver, 5).until(lambda d: d.find_elements(
                By.CSS_SELECTOR, f'[data-testid="timeline"][data-room-id="{room_id}"]'))
            return driver.find_element(By.CSS_SELECTOR, row)
        except (StaleElementReferenceException, ElementClickInterceptedException, TimeoutException) as e:
            opened = [t.get_attribute("data-room-id") for t in driver.find_elements(
                By.CSS_SELECTOR, '[data-testid="timeline"]')]
            assert time.monotonic() < deadline, f"room {room_id} did not open (open: {opened}): {e!r}"
