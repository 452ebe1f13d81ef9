"""Issue 14 in the real app, for a mantelzorger: invited by e-mail (the lead's Kring, the CLI),
she makes an account at the care platform (e-mail, password, authenticator code; with plain
HTTP, as a person at that page), signs in to the app with "Inloggen als naaste of cliënt"
(the homeserver's care platform login; the system browser is the scripted person of
tests/support/idp_browser.py, who types the TOTP code), confirms her address with the code
from the mail, and the invitation appears: she accepts and sees the client's care team.
Screenshots in target/e2e-screenshots/.
"""
import json
import os
import re
import subprocess
import sys
import uuid

import pyotp
import requests
from selenium.webdriver.support.ui import WebDriverWait

from conftest import REPO, mails_to, text_of, user
from driver import SHOTS, running_app
from test_app import wait

BROWSER_SCRIPT = REPO / "tests" / "support" / "idp_browser.py"


def bodies_to(stack, address):
    return [text_of(m) for m in mails_to(stack, address)]


def register(join_url, address, password):
    """The care platform's registration page, as the invitee fills it in; returns the TOTP key."""
    http = requests.Session()
    http.trust_env = False
    base = join_url.split("?")[0]
    enrol = http.post(base, data={"email": address, "name": "Ruud Jansen", "password": password})
    assert enrol.status_code == 200, enrol.text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', enrol.text).group(1)
    done = http.post(base + "/confirm", data={"email": address, "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200, done.text
    return secret


def visible(driver, testid):
    return [e for e in driver.find_elements("css selector", f'[data-testid="{testid}"]') if e.is_displayed()]


def test_a_mantelzorger_signs_in_confirms_her_address_and_finds_the_care_team(app_bin, cli_bin, stack, tmp_path,
                                                                              request):
    eva = user(stack, "a", 0)
    tag = uuid.uuid4().hex[:6]
    address, password = f"ruud.{tag}@voorbeeld.nl", f"lang-wachtwoord-{tag}"
    client_name = f"Mevr. T. Naaste {tag}"

    lead_env = dict(os.environ, KRING_DATA_DIR=str(tmp_path / "lead"), KRING_PROFILE=f"e2e-rel-{tag}")

    def lead(*args, input=None):
        p = subprocess.run([str(cli_bin), "--json", *args], env=lead_env, input=input, capture_output=True,
                           text=True, timeout=90)
        assert p.returncode == 0, f"kring-cli {args[0]}: {p.stderr}"
        return p.stdout.strip().splitlines()[-1]
    lead("login", "--homeserver", stack["homeservers"]["a"]["base_url"], "--user", eva["localpart"],
         "--password-stdin", input=eva["password"] + "\n")
    space = json.loads(lead("care-team", "create", "--client-name", client_name,
                            "--pseudo-bsn", "9" + str(uuid.uuid4().int)[:10]))["spaceId"]
    lead("care-team", "invite", "--space", space, "--email", address, "--role", "related_person",
         "--relation", "zoon")
    invitation = WebDriverWait(None, 45, poll_frequency=0.5).until(lambda _: bodies_to(stack, address))[0]
    join_url = re.search(re.escape(stack["care_idp"]["register_url"]) + r"\S*", invitation).group(0)
    totp_secret = register(join_url, address, password)

    env = {k: v for k, v in os.environ.items() if not k.startswith("KRING_TEST_")}
    env.update(KRING_DATA_DIR=str(tmp_path / "app"), KRING_PROFILE=f"e2e-naaste-{tag}",
               KRING_ONBOARDING_CONFIG=stack["onboarding_config"],
               KRING_BROWSER=f"{sys.executable} {BROWSER_SCRIPT}",
               KRING_TEST_IDP_USER=address, KRING_TEST_IDP_PASSWORD=password,
               KRING_TEST_IDP_TOTP_SECRET=totp_secret, KRING_TEST_BROWSER_LOG=str(tmp_path / "browser.log"),
               KRING_TEST_BROWSER_STATE=str(tmp_path / "browser-state.json"))
    try:
        with running_app(app_bin, env, request) as app:
            button = wait(app, "related-person-login")
            assert "naaste" in button.text.lower() and "Zorgplatform" in button.text, button.text
            app.save_screenshot(str(SHOTS / "40-login-related-person.png"))
            button.click()
            wait(app, "main-view", timeout=150)
            assert '"totp_posted"' in (tmp_path / "browser.log").read_text(), "the care platform asked for the code"

            # No care team yet: the list offers to confirm the address the invitation went to.
            if not visible(app, "confirm-email-address"):
                wait(app, "confirm-email-toggle").click()
            wait(app, "confirm-email-address").send_keys(address)
            wait(app, "confirm-email-send").click()
            wait(app, "confirm-email-sent")
            mail = WebDriverWait(app, 45).until(lambda _: bodies_to(stack, address)[1:], "no validation mail")[0]
            code = re.search(r"code in: (\S+)", mail).group(1)
            field = wait(app, "confirm-email-code")
            field.send_keys("fout")
            wait(app, "confirm-email-confirm").click()
            WebDriverWait(app, 30).until(lambda d: visible(d, "error-notice") or visible(d, "confirm-email-error"),
                                         "a wrong code must say so")
            assert field.get_attribute("value") == "fout", "what she typed stays"
            field.clear()
            field.send_keys(code)
            wait(app, "confirm-email-confirm").click()
            wait(app, "confirm-email-done", timeout=45)
            app.save_screenshot(str(SHOTS / "41-email-confirmed.png"))

            # The homeserver made the invite real (/3pid/onbind); the lead's Kring finishes it
            # (level, relation, the client) when it next looks at the care network.
            def invited():
                lead("care-team", "network", "--space", space, "--refresh", "--config", stack["onboarding_config"])
                return [e for e in visible(app, "care-team-invite")
                        if client_name in (e.get_attribute("textContent") or "")]
            WebDriverWait(app, 90, poll_frequency=2).until(lambda _: invited(), "the invitation did not appear")
            invite = visible(app, "care-team-invite")[0]
            invite.find_element("css selector", '[data-testid="care-team-accept"]').click()
            WebDriverWait(app, 45).until(
                lambda d: [e for e in visible(d, "client-item") if client_name in (e.get_attribute("textContent") or "")],
                "the care team")
            app.save_screenshot(str(SHOTS / "42-related-person-care-team.png"))
    finally:
        lead("logout")
