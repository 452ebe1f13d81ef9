"""An invite by e-mail for a related person (issue 14; 001 §3, §6), end to end on the real stack.

A practitioner at A invites a mantelzorger by e-mail into a client's care team, with a relation.
Synapse performs the Matrix third-party invite itself: it looks the address up at A's identity
service (kring-identity-service, over https) and, not finding it, stores the invite there
(/store-invite). The service mails the invitee through the stack's SMTP server (aiosmtpd, which
writes each mail to <stack>/mail); the test reads that mail. The invitee makes an account at the
care platform's IdP with e-mail, password and a TOTP second factor (pyotp plays the
authenticator app), signs in to Kring through Synapse's SSO with that IdP (password, then code),
and binds the address: a second mail brings the code. The service then hands the invite to
Synapse (/3pid/onbind), which makes it a real invite; the inviter's Kring gives it level 25, the
relation and the client's identity; the invitee sees the care team with its client and joins.
"""
import re
import sys
import uuid
from pathlib import Path

import pyotp
import pytest
import requests

from conftest import REPO, mails_to, text_of, user
from test_care_team_cli import wait_for
from test_cli import cli  # noqa: F401  (fixture)

PY = sys.executable
BROWSER = f"{PY} {REPO / 'tests' / 'support' / 'idp_browser.py'}"


@pytest.fixture
def browser_http():
    s = requests.Session()
    s.trust_env = False
    return s


def register_at_care_platform(http, join_url, address, password):
    """The invitee at the care platform's registration page: e-mail, name, password, then the
    authenticator app (its key from the page) and its first code. Returns the TOTP key."""
    page = http.get(join_url)
    assert page.status_code == 200 and f'value="{address}"' in page.text, "the mail's link fills in the address"
    base = join_url.split("?")[0]
    short = http.post(base, data={"email": address, "name": "Anna de Vries", "password": "kort"})
    assert short.status_code == 400 and "10 tekens" in short.text, "a short password is refused"
    enrol = http.post(base, data={"email": address, "name": "Anna de Vries", "password": password})
    assert enrol.status_code == 200, enrol.text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', enrol.text).group(1)
    now = int(pyotp.TOTP(secret).now())
    wrong = http.post(base + "/confirm", data={"email": address, "code": f"{(now + 500000) % 1000000:06d}"})
    assert wrong.status_code == 400, "a wrong code does not finish the account"
    done = http.post(base + "/confirm", data={"email": address, "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and "klaar" in done.text, done.text
    return secret


def test_a_mantelzorger_invited_by_email_signs_up_with_a_second_factor_and_joins_at_level_25(
        stack, cli, tmp_path, browser_http, matrix_as):
    eva = user(stack, "a", 0)
    lead = cli("mail-eva")
    lead.login(stack, eva)
    tag = uuid.uuid4().hex[:6]
    client_name, bsn = f"Mevr. J. Mail {tag}", "9" + str(uuid.uuid4().int)[:10]
    space = lead.json("care-team", "create", "--client-name", client_name, "--pseudo-bsn", bsn)["spaceId"]
    address = f"anna.{tag}@voorbeeld.nl"

    assert lead.error("care-team", "invite", "--space", space, "--email", "geen-adres",
                      "--role", "related_person")["code"] == "email_invalid"
    lead.json("care-team", "invite", "--space", space, "--email", address, "--role", "related_person",
              "--relation", "dochter")
    # The care network lists it as pending, by the address as the homeserver redacted it.
    pending = lead.json("care-team", "network", "--space", space, "--config",
                        stack["onboarding_config"])["pendingEmailInvites"]
    assert len(pending) == 1 and pending[0]["role"] == "related_person" and pending[0]["relation"] == "dochter", pending
    assert pending[0]["displayName"] != address and pending[0]["displayName"].endswith("@voorbeeld.nl"), pending

    # The invitation mail: who invites, from where, how to join; never the client or the room.
    invitation = wait_for("the invitation mail", lambda: mails_to(stack, address), timeout=45)[0]
    body = text_of(invitation)
    assert "Uitnodiging voor Kring" in invitation["Subject"]
    assert eva["display_name"] in body and "/register" in body, body
    for secret_thing in (client_name, bsn, space):
        assert secret_thing not in body and secret_thing not in invitation["Subject"], "the mail names no client"
    join_url = re.search(re.escape(stack["care_idp"]["register_url"]) + r"\S*", body).group(0)

    password = f"lang-wachtwoord-{tag}"
    totp_secret = register_at_care_platform(browser_http, join_url, address, password)

    # Kring: sign in through the homeserver's SSO with the care platform IdP (password + code).
    mz = cli("mail-anna")
    log = tmp_path / "browser.log"
    mz.env.update(KRING_TEST_IDP_USER=address, KRING_TEST_IDP_PASSWORD=password,
                  KRING_TEST_IDP_TOTP_SECRET=totp_secret, KRING_TEST_BROWSER_LOG=str(log),
                  KRING_TEST_BROWSER_STATE=str(tmp_path / "cookies.json"))
    me = mz.json("login", "--homeserver", stack["homeservers"]["a"]["base_url"], "--sso",
                 "--idp", stack["care_idp"]["homeserver_idp"], "--browser", BROWSER, timeout=150)
    mxid = me["userId"]
    assert mxid.startswith("@mz-"), mxid
    assert '"totp_posted"' in log.read_text(), "the IdP asked for the second factor"

    # Before binding: no invite for this account yet.
    assert not [i for i in mz.json("care-team", "invites") if i["spaceId"] == space]

    # Binding the address: a mail with a code; a wrong code is refused, the right one binds.
    assert mz.error("identity-service", "confirm-email", "--code", "x")["code"] == "no_email_validation"
    mz.json("identity-service", "email", "--address", address)
    validation = wait_for("the validation mail", lambda: mails_to(stack, address)[1:], timeout=45)[0]
    code = re.search(r"code in: (\S+)", text_of(validation)).group(1)
    assert mz.error("identity-service", "confirm-email", "--code", "fout")["code"] == "email_code_wrong"
    assert mz.json("identity-service", "confirm-email", "--code", code)["bound"] == address

    # Synapse took the invite from the identity service (/3pid/onbind): the member event exists.
    admin = matrix_as(eva)

    def member_event():
        try:
            return admin.get(f"/rooms/{space}/state/m.room.member/{mxid}")
        except requests.HTTPError:
            return None
    made = wait_for("the invite made from the third-party invite", member_event, timeout=45)
    assert made["membership"] == "invite", made

    # The inviter's Kring finishes it: level 25, relation, the client in the invite.
    def finished():
        network = lead.json("care-team", "network", "--space", space, "--refresh", "--config",
                            stack["onboarding_config"])
        p = [p for p in network["participants"] if p["userId"] == mxid]
        return p and p[0]["relation"] == "dochter" and p[0]
    person = wait_for("the finished invite in the care network", finished, timeout=45)
    assert lead.json("care-team", "network", "--space", space, "--config",
                     stack["onboarding_config"])["pendingEmailInvites"] == [], "taken up: no longer pending"
    assert person["kind"] == "related_person" and person["role"] == "related_person", person
    levels = admin.get(f"/rooms/{space}/state/m.room.power_levels")
    assert levels["users"][mxid] == 25

    invite = wait_for("the care-team invite with its client",
                      lambda: [i for i in mz.json("care-team", "invites") if i["spaceId"] == space], timeout=45)[0]
    assert invite["client"]["displayName"] == client_name and invite["inviter"] == eva["mxid"]
    assert mz.json("care-team", "accept", "--space", space)["clientName"] == client_name
    teams = mz.json("care-team", "list")
    assert client_name in [t["clientName"] for t in teams]
    joined = {m["userId"]: m for m in lead.json("care-team", "members", "--space", space)}
    assert joined[mxid]["role"] == "related_person" and joined[mxid]["joined"], joined[mxid]

    # A second care team for the same address: it is bound now, so the invite goes to her
    # account at once (no mail, no third-party invite), with level, relation and client.
    mails_before = len(mails_to(stack, address))
    second_name = f"Dhr. P. Mail {tag}"
    second = lead.json("care-team", "create", "--client-name", second_name,
                       "--pseudo-bsn", "9" + str(uuid.uuid4().int)[:10])["spaceId"]
    lead.json("care-team", "invite", "--space", second, "--email", address.upper(), "--role", "related_person",
              "--relation", "schoondochter")
    again = wait_for("the direct invite to the second care team",
                     lambda: [i for i in mz.json("care-team", "invites") if i["spaceId"] == second], timeout=45)[0]
    assert again["client"]["displayName"] == second_name, again
    assert admin.get(f"/rooms/{second}/state/m.room.power_levels")["users"][mxid] == 25
    net = lead.json("care-team", "network", "--space", second, "--config", stack["onboarding_config"])
    assert net["pendingEmailInvites"] == [], net
    assert [p["relation"] for p in net["participants"] if p["userId"] == mxid] == ["schoondochter"], net
    assert len(mails_to(stack, address)) == mails_before, "no second invitation mail"

    # Neither address, nor mailed code, nor token in the identity service's log.
    is_log = (Path(stack["stack_dir"]) / "logs" / "is-a.log").read_text()
    for secret_thing in (address, code, totp_secret, password):
        assert secret_thing not in is_log
