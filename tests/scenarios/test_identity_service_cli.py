"""Kring and the homeserver's identity service (issue 14), from the CLI against the real stack.

The homeserver names its identity service in /.well-known/matrix/client (m.identity_server).
A practitioner signed in to homeserver A binds what the organisation IdP vouches for:
`kring-cli identity-service bind` signs in at the IdP once more, with the service's nonce (the
scripted browser user stands in for the person, tests/support/idp_browser.py), and the service
binds exactly that token's UZI, URA and role codes. A colleague then looks it up, signed by the
service; an account that never bound gets nothing, and the profile hint is not what answers.
"""
import json
import sys

from conftest import REPO, user
from test_cli import cli  # noqa: F401  (fixture)

PY = sys.executable
BROWSER = f"{PY} {REPO / 'tests' / 'support' / 'idp_browser.py'}"


def test_a_practitioner_binds_the_organisations_word_and_a_colleague_reads_it(stack, cli, tmp_path):
    eva, sanne, ruben = user(stack, "a", 0), user(stack, "a", 1), user(stack, "a", 2)
    lead, nurse = cli("is-eva"), cli("is-sanne")
    lead.login(stack, eva)
    nurse.login(stack, sanne)
    lead.env.update(KRING_TEST_IDP_USER=eva["localpart"], KRING_TEST_IDP_PASSWORD=eva["password"],
                    KRING_TEST_BROWSER_LOG=str(tmp_path / "browser.log"))
    bound = lead.json("identity-service", "bind", "--config", stack["onboarding_config"], "--browser", BROWSER,
                      timeout=120)["bound"]
    assert bound["uzi"] == eva["uzi"]
    assert eva["role_code"] in bound["roleCodes"] and bound["ura"], bound
    assert bound["identityService"].rstrip("/") == stack["identity_services"]["a"]["base_url"]
    log = [json.loads(line) for line in (tmp_path / "browser.log").read_text().splitlines()]
    assert [e["event"] for e in log if e["event"] in ("login_form_posted", "returned_to_app")] == \
        ["login_form_posted", "returned_to_app"], "the IdP was asked, once"

    seen = nurse.json("identity-service", "lookup", "--user", eva["mxid"])
    assert seen["verified"]["uzi"] == eva["uzi"] and eva["role_code"] in seen["verified"]["roleCodes"], seen
    # An account that never bound: nothing, whatever its profile says.
    assert nurse.json("identity-service", "lookup", "--user", ruben["mxid"])["verified"] is None
    assert "bind_care_identity" in [e["kind"] for e in lead.json("audit")]


def test_the_other_organisation_sees_who_is_verified_by_the_organisation(stack, cli, tmp_path):
    """Karim (organisation B) in Eva's care team: his Kring asks A's identity service (found at
    https://<A's server name>/.well-known/matrix/client) about A's staff. Eva bound at first
    login, so she is marked verified by the organisation; Ruben never bound, so his profile's
    word stands, unmarked. Eva's own network marks her too."""
    from test_care_network_cli import care_team, network

    eva, ruben, karim = user(stack, "a", 0), user(stack, "a", 2), user(stack, "b", 0)
    binder = cli("is-eva-again")
    binder.login(stack, eva)
    binder.env.update(KRING_TEST_IDP_USER=eva["localpart"], KRING_TEST_IDP_PASSWORD=eva["password"],
                      KRING_TEST_BROWSER_LOG=str(tmp_path / "browser.log"))
    # Binding again is idempotent: the same UZI to the same MXID.
    binder.json("identity-service", "bind", "--config", stack["onboarding_config"], "--browser", BROWSER, timeout=120)

    lead, space, clis = care_team(stack, cli, eva, [(karim, "practitioner", None), (ruben, "practitioner", None)],
                                  "verified")
    at_b = network(stack, clis[karim["mxid"]], space, refresh=True)
    assert at_b[eva["mxid"]]["verified"] is True, at_b.why()
    assert at_b[ruben["mxid"]]["verified"] is False, at_b.why()
    seen = clis[karim["mxid"]].json("identity", "--user", ruben["mxid"])
    assert seen["verifiedBy"] is None and seen["identity"]["uzi"] == ruben["uzi"], seen  # the hint, unverified
    at_a = network(stack, lead, space, refresh=True)
    assert at_a[eva["mxid"]]["verified"] is True, at_a.why()
