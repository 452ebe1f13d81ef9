"""Issue #5 in the real app: the care network of a client (UC1). Who is involved, with function
and organisation from each practitioner's own directory, and who is away now; the recipient
picker warns when someone chosen is away. Screenshots in target/e2e-screenshots/.

Eva (Ziekenhuis Aurora) creates the client's care team in the app, because the app keeps the
link between a space and its client on its own device (a team made by another Kring would not
show here), and invites Karim (Huisartsenpraktijk Bosrand, on holiday now: seeded in
directory B) and Sanne (Aurora, a course ahead of her, not away). They accept in their own
Kring (the CLI). Expectations are read from the directories with plain HTTP.
"""
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import requests
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import mails_to, text_of
from test_app import SHOTS, app, login, logout, wait  # noqa: F401  (app is a fixture)
from test_care_team import by_testid

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# Dutch short month names, as the app shows a day ("6 dec").
MONTHS_NL = ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]
FLAKY_DOM = (NoSuchElementException, StaleElementReferenceException)  # the panel re-renders after a refresh


def person(stack, key):
    u = next((u for u in stack["users"] if u["key"] == key), None)
    assert u, f"stack.json has no user {key!r}: restart the stack with the current seed"
    return u


def cli_for(cli_bin, tmp_path, stack, u):
    """A colleague's own Kring (the CLI), signed in with their own data dir and keychain profile;
    their browser (for the IdP) is the scripted person of tests/support/idp_browser.py."""
    env = dict(os.environ, KRING_DATA_DIR=str(tmp_path / f"cli-{u['localpart']}"),
               KRING_PROFILE=f"e2e-net-{u['localpart']}-{uuid.uuid4().hex[:6]}",
               KRING_TEST_IDP_USER=u["localpart"], KRING_TEST_IDP_PASSWORD=u["password"],
               KRING_TEST_BROWSER_LOG=str(tmp_path / f"browser-{u['localpart']}.log"))

    def run(*args, input=None, timeout=90):
        p = subprocess.run([str(cli_bin), "--json", *args], env=env, input=input, capture_output=True, text=True,
                           timeout=timeout)
        assert p.returncode == 0, f"kring-cli {' '.join(args[:2])} as {u['localpart']}: {p.stderr}"
        return json.loads(p.stdout.strip().splitlines()[-1])
    run("login", "--homeserver", stack["homeservers"][u["org"]]["base_url"], "--user", u["localpart"],
        "--password-stdin", input=u["password"] + "\n")
    return run


BROWSER = f"{sys.executable} {Path(__file__).resolve().parents[1] / 'support' / 'idp_browser.py'}"


def directory_view(matrix_as, reader, u):
    """What u's own directory says about them, found through their identity binding."""
    binding = matrix_as(reader).get(f"/profile/{u['mxid']}/nl.kring.practitioner")["nl.kring.practitioner"]
    role = requests.get(binding["practitioner_role"], timeout=10).json()
    base = binding["practitioner_role"].rsplit("/PractitionerRole/", 1)[0]
    organization = requests.get(f"{base}/{role['organization']['reference']}", timeout=10).json()
    now = datetime.now(timezone.utc)
    current = [a for a in role.get("notAvailable", [])
               if datetime.fromisoformat(a["during"]["start"]) <= now <= datetime.fromisoformat(a["during"]["end"])]
    return {"function": role["code"][0]["coding"][0]["display"], "organisation": organization["name"],
            "current": current}


def day_pattern(rfc3339):
    """A regex for the day as the app shows it: "6 dec" (Amsterdam calendar day)."""
    day = datetime.fromisoformat(rfc3339).astimezone(AMSTERDAM)
    return re.compile(rf"\b{day.day}\.?\s+{MONTHS_NL[day.month - 1]}", re.IGNORECASE)


def participant(driver, mxid):
    found = driver.find_elements(
        By.CSS_SELECTOR, f'[data-testid="care-network"] [data-testid="participant"][data-user-id="{mxid}"]')
    return found[0] if found else None


def away_state(driver, mxid):
    p = participant(driver, mxid)
    return p.get_attribute("data-away") if p else None


def displayed(driver, testid):
    return [e for e in driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]') if e.is_displayed()]


def show_network(driver):
    """The care-network panel on screen (opened with its tab if it is not)."""
    if not displayed(driver, "care-network"):
        wait(driver, "care-network-tab").click()
    return wait(driver, "care-network")


def invite_form(driver):
    """The invite-by-Matrix-ID form: in the care-network panel, folded under its toggle."""
    if displayed(driver, "invite-user"):
        return
    if not displayed(driver, "invite-manual-toggle"):
        show_network(driver)
    if not displayed(driver, "invite-user"):
        wait(driver, "invite-manual-toggle").click()
    wait(driver, "invite-user")


def invite(driver, mxid):
    """Invites as a practitioner (the form's default role); a success empties the field."""
    invite_form(driver)
    field = wait(driver, "invite-user")
    field.clear()
    field.send_keys(mxid)
    wait(driver, "invite-submit").click()
    WebDriverWait(driver, 40).until(
        lambda d: wait(d, "invite-user").get_attribute("value") == "" or displayed(d, "invite-error"))
    errors = displayed(driver, "invite-error")
    assert not errors, errors[0].text


def start_new_conversation(driver):
    """The new-conversation form, from the conversations pane."""
    if not displayed(driver, "new-conversation"):
        (displayed(driver, "conversations-tab") or [wait(driver, "care-network-tab")])[0].click()
    wait(driver, "new-conversation").click()
    return wait(driver, "new-conversation-form")


def test_care_network_shows_who_is_away_and_warns_when_writing_to_them(app, stack, cli_bin, tmp_path, matrix_as):
    eva, karim, sanne = person(stack, "a-lead"), person(stack, "b-gp"), person(stack, "a-nurse")
    karim_dir, sanne_dir = directory_view(matrix_as, eva, karim), directory_view(matrix_as, eva, sanne)
    assert len(karim_dir["current"]) == 1 and not sanne_dir["current"], "the seeded absences changed"
    assert karim_dir["organisation"] == "Huisartsenpraktijk Bosrand", karim_dir
    holiday_end = day_pattern(karim_dir["current"][0]["during"]["end"])
    colleagues = {u["mxid"]: cli_for(cli_bin, tmp_path, stack, u) for u in (karim, sanne)}
    # Eva binds her UZI at A's identity service (as the first login's fifth step does); Sanne
    # never did, so only her profile speaks for her.
    own = cli_for(cli_bin, tmp_path, stack, eva)
    own("identity-service", "bind", "--config", stack["onboarding_config"], "--browser", BROWSER, timeout=120)
    own("logout")

    login(app, stack, eva)
    wait(app, "main-view")
    wait(app, "tab-clients").click()
    client_name = f"Dhr. H. Netwerk {uuid.uuid4().hex[:4]}"
    wait(app, "new-care-team").click()
    wait(app, "new-care-team-name").send_keys(client_name)
    wait(app, "new-care-team-bsn").send_keys("9" + str(uuid.uuid4().int)[:10])
    wait(app, "new-care-team-submit").click()
    item = WebDriverWait(app, 40).until(lambda d: next(
        (e for e in d.find_elements(By.CSS_SELECTOR, '[data-testid="client-item"]')
         if client_name in (e.get_attribute("textContent") or "")), False))
    space_id = item.get_attribute("data-space-id")
    item.click()

    for u in (karim, sanne):
        invite(app, u["mxid"])
    for u in (karim, sanne):
        run = colleagues[u["mxid"]]
        deadline = time.time() + 40
        while not [i for i in run("care-team", "invites") if i["spaceId"] == space_id]:
            assert time.time() < deadline, f"the invite did not reach {u['mxid']}"
            time.sleep(0.5)
        run("care-team", "accept", "--space", space_id)

    # The team is complete: come back to the client, as one does later, and open the panel.
    wait(app, "tab-rooms").click()
    wait(app, "tab-clients").click()
    by_testid(app, "client-item", **{"data-space-id": space_id}).click()
    show_network(app)

    # Karim away now (from directory B), Sanne here (directory A), both with their organisation.
    WebDriverWait(app, 60, ignored_exceptions=FLAKY_DOM).until(
        lambda d: away_state(d, karim["mxid"]) == "true", "Karim is not shown as away")
    k = participant(app, karim["mxid"])
    assert karim_dir["organisation"] in k.text and re.search(rf"\b{karim_dir['function']}\b", k.text), k.text
    badge = k.find_element(By.CSS_SELECTOR, '[data-testid="away-now"]')
    assert badge.is_displayed() and badge.text.strip(), "the away-now badge must be visible, with text"
    assert holiday_end.search(badge.text), f"the badge should say until when: {badge.text!r}"

    WebDriverWait(app, 30, ignored_exceptions=FLAKY_DOM).until(
        lambda d: participant(d, sanne["mxid"]) and sanne_dir["organisation"] in participant(d, sanne["mxid"]).text,
        "Sanne's organisation did not arrive from directory A")
    s = participant(app, sanne["mxid"])
    assert s.get_attribute("data-away") == "false", s.get_attribute("outerHTML")
    assert sanne_dir["function"] in s.text, s.text
    assert not [b for b in s.find_elements(By.CSS_SELECTOR, '[data-testid="away-now"]') if b.is_displayed()], \
        "Sanne's course is ahead of her: she is not away now"
    assert participant(app, eva["mxid"]), "the lead herself belongs to the network"
    # The retention line is there (this app has no organisation config: none).
    assert wait(app, "care-network-retention").text.startswith("Bewaartermijn:")
    # Verified by the organisation: Eva's identity service vouches for her; Sanne's profile alone does not.
    WebDriverWait(app, 30, ignored_exceptions=FLAKY_DOM).until(
        lambda d: participant(d, eva["mxid"]).find_elements(By.CSS_SELECTOR, '[data-testid="verified-badge"]'),
        "Eva is not marked verified by the organisation")
    badge = participant(app, eva["mxid"]).find_element(By.CSS_SELECTOR, '[data-testid="verified-badge"]')
    assert badge.is_displayed() and "Geverifieerd door de organisatie" in badge.text, badge.text
    assert not participant(app, sanne["mxid"]).find_elements(By.CSS_SELECTOR, '[data-testid="verified-badge"]'), \
        "Sanne never bound: no mark"
    assert not displayed(app, "care-network-stale"), "every directory answered: nothing is out of date"
    app.save_screenshot(str(SHOTS / "30-care-network.png"))

    # A mantelzorger invited by e-mail from the panel: the mail goes out, naming no client, and
    # the invite waits in the panel under the address as the homeserver redacted it.
    address = f"e2e.{uuid.uuid4().hex[:6]}@voorbeeld.nl"
    if not displayed(app, "email-invite-address"):
        wait(app, "email-invite-toggle").click()
    wait(app, "email-invite-address").send_keys(address)
    wait(app, "email-invite-relation").send_keys("Zoon, mantelzorger")
    wait(app, "email-invite-submit").click()
    WebDriverWait(app, 40).until(lambda d: displayed(d, "email-invite-done"), "the invite was not confirmed")
    mail = WebDriverWait(app, 40).until(lambda d: mails_to(stack, address), "no invitation mail")[0]
    body = text_of(mail)
    assert client_name not in body and space_id not in body and "/register" in body, body
    pending = WebDriverWait(app, 40, ignored_exceptions=FLAKY_DOM).until(
        lambda d: displayed(d, "pending-email-invite"), "the pending invite is not listed")
    assert "@voorbeeld.nl" in pending[0].text and address not in pending[0].text, pending[0].text
    assert "Zoon, mantelzorger" in pending[0].text, pending[0].text
    app.save_screenshot(str(SHOTS / "33-care-network-email-invite.png"))

    # The same panel on a phone.
    app.set_window_size(390, 844)
    try:
        show_network(app)
        WebDriverWait(app, 20, ignored_exceptions=FLAKY_DOM).until(
            lambda d: participant(d, karim["mxid"]) and participant(d, karim["mxid"]).is_displayed())
        app.save_screenshot(str(SHOTS / "32-care-network-mobile.png"))
    finally:
        app.set_window_size(1280, 800)

    # Writing to someone who is away: the form says so, naming the person and the period.
    start_new_conversation(app)
    for u in (karim, sanne):
        option = by_testid(app, "recipient-option", **{"data-user-id": u["mxid"]})
        (option if option.tag_name == "input" else option.find_element(By.CSS_SELECTOR, "input")).click()
    warning = wait(app, "absent-warning")
    assert "Karim El Amrani" in warning.text, warning.text
    assert holiday_end.search(warning.text), f"the warning should give the period: {warning.text!r}"
    assert not [w for w in displayed(app, "absent-warning") if "Sanne" in w.text], "Sanne is not away"
    app.save_screenshot(str(SHOTS / "31-absent-recipient.png"))

    for run in colleagues.values():
        run("logout")
    logout(app)
