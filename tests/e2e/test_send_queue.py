"""Issue 6 in the real app: nothing lost, urgent gets through (README "Nothing lost, urgent gets
through (UC7)").

The app signs in as practitioner a0 THROUGH tests/support/faultproxy.py, a fault injector in front
of the real homeserver A: proxy.refuse() is "the server is down" (connections refused, open ones
cut). The demo room is unencrypted, so what the server stored is read over plain HTTP on
homeserver A directly (not through the proxy, and not through Kring): every body sent here carries
a run id, and the server's bodies with that id must be exactly the expected ones, in order.

  1. offline: the banner, the cached rooms and timeline, two messages typed offline waiting, then
     sent by themselves once the server is back (exactly once, in order);
  2. a message refused for good (too large for Synapse: M_TOO_LARGE): failed with the reason and
     Opnieuw/Bewerken/Verwijderen, the send-problem notice, later messages still go out, Bewerken
     sends the shortened text, Verwijderen throws a second one away; then an urgent message (the
     toggle, the badge, the flag on the wire in both places).

Screenshots 40-46 in target/e2e-screenshots/.
"""
import os
import sys
import time
import uuid
from contextlib import contextmanager

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from conftest import REPO, user
from driver import open_room, running_app
from test_app import SHOTS, logout, wait, wait_login_screen

sys.path.insert(0, str(REPO / "tests" / "support"))
from faultproxy import FaultProxy  # noqa: E402

# Svelte replaces a row's element when its state changes: a handle read a moment later is stale.
_RERENDER = (StaleElementReferenceException, NoSuchElementException)

OFFLINE_TEXT = "Geen verbinding. Berichten worden bewaard en verstuurd zodra de verbinding terug is."
ROOM_SEND = r"/rooms/[^/]+/send/m\.room\.message/"
TOO_BIG = 70_000  # characters: the event exceeds Synapse's 65,536-byte limit (413 M_TOO_LARGE)
# The SDK's offline mode probes the server with backoff; Synapse answers at once once reachable.
BACK_ONLINE_WITHIN = 90
SENT_WITHIN = 40


def login_via(driver, url, u):
    """The login form, with the proxy as the homeserver."""
    wait_login_screen(driver)
    if driver.find_elements(By.CSS_SELECTOR, '[data-testid="password-login"]:not([open])'):
        wait(driver, "password-login-toggle").click()
    wait(driver, "login-form")
    for testid, value in (("login-homeserver", url), ("login-username", u["localpart"]),
                          ("login-password", u["password"])):
        field = wait(driver, testid)
        field.clear()
        field.send_keys(value)
    wait(driver, "login-submit").click()
    wait(driver, "main-view", timeout=60)


# Uncaught errors in the page (e.g. Svelte's each_key_duplicate when the timeline list got out of
# step with Rust): the UI may stop updating after one, so any is a failure.
_RECORD_PAGE_ERRORS = """
window.__pageErrors = [];
window.addEventListener('error', (e) => window.__pageErrors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => window.__pageErrors.push('unhandled: ' + String(e.reason)));
"""


def page_errors(driver):
    """What went wrong in the page itself, or None."""
    errors = driver.execute_script("return window.__pageErrors || []")
    return f"{len(errors)} uncaught error(s) in the page, first: {errors[:3]}" if errors else None


@contextmanager
def app_through_proxy(app_bin, tmp_path, request, stack, u):
    """The app signed in as `u` with a fault proxy in front of homeserver A as its homeserver.

    Kring keeps the server the user typed (it does not follow the login answer's well-known), so
    from the login on every request goes through the proxy."""
    env = dict(os.environ, KRING_DATA_DIR=str(tmp_path / "data"), KRING_PROFILE=f"e2e-sq-{uuid.uuid4().hex[:8]}",
               KRING_DOWNLOAD_DIR=str(tmp_path / "downloads"))
    with FaultProxy(stack["homeservers"]["a"]["base_url"]) as proxy:
        with running_app(app_bin, env, request) as driver:
            mark = proxy.mark()
            login_via(driver, proxy.url, u)
            wait(driver, "main-view", timeout=60)
            driver.execute_script(_RECORD_PAGE_ERRORS)
            assert wait(driver, "user-id").text.strip() == u["mxid"]
            proxy.wait_for(r"/sync", since=mark, timeout=30)
            yield driver, proxy


def open_demo_room(driver, stack):
    return open_room(driver, stack["demo_room_id"])


# The bodies can be 70,000 characters: look them up in the page, not through WebDriver's .text.
_MESSAGES_WITH = """
const marker = arguments[0];
return Array.from(document.querySelectorAll('[data-testid="timeline-message"]'))
  .filter(m => (m.querySelector('.body')?.textContent || '').includes(marker))
"""


def messages_with(driver, marker):
    return driver.execute_script(_MESSAGES_WITH + ";", marker)


_STATES_OF = _MESSAGES_WITH + """
  .map(m => [m.getAttribute('data-send-state'),
             m.querySelector('[data-testid="send-state"]')?.getAttribute('data-phase') ?? null,
             m.getAttribute('data-event-id')]);
"""


def state_and_event_of(driver, marker):
    """(data-send-state, data-phase of the send-state line or None, data-event-id) of the one
    message with marker; None while there is none. More than one is a duplicate: fail. (One
    script, so no element goes stale in between.)"""
    found = driver.execute_script(_STATES_OF + ";", marker)
    assert len(found) <= 1, f"{len(found)} timeline messages contain {marker!r}"
    return tuple(found[0]) if found else None


def state_of(driver, marker):
    """(data-send-state, data-phase or None) of the one message with marker, None while none."""
    found = state_and_event_of(driver, marker)
    return found[:2] if found else None


def _diagnosis(driver, proxy):
    sends = "\n  ".join(repr(r) for r in proxy.records(ROOM_SEND)) if proxy else "(not recorded)"
    errors = driver.execute_script("return window.__pageErrors || []")
    return f"page errors: {errors[:3]} ({len(errors)}); sends through the proxy:\n  {sends}"


def wait_message(driver, marker, pred, timeout, what, proxy=None):
    try:
        WebDriverWait(driver, timeout, ignored_exceptions=_RERENDER).until(lambda d: pred(state_of(d, marker)))
    except Exception as e:
        raise AssertionError(f"{what}: message {marker[:60]!r} is {state_of(driver, marker)}; "
                             f"{_diagnosis(driver, proxy)}") from e


def wait_sent(driver, marker, timeout=SENT_WITHIN, proxy=None):
    """Waits until the message is shown sent (no send-state line, the server's event id); its event id."""
    try:
        WebDriverWait(driver, timeout, ignored_exceptions=_RERENDER).until(lambda d: (s := state_and_event_of(d, marker)) is not None
                                             and s[0] == "sent" and s[1] is None and s[2])
    except Exception as e:
        raise AssertionError(f"not shown as sent: message {marker[:60]!r} is {state_and_event_of(driver, marker)}; "
                             f"{_diagnosis(driver, proxy)}") from e
    return state_and_event_of(driver, marker)[2]


def part(driver, marker, testid, check=lambda el: True):
    """A fresh handle on an element inside the one message with marker (the list re-renders)."""
    def find(d):
        found = messages_with(d, marker)
        if len(found) != 1:
            return False
        el = found[0].find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')
        return el if check(el) else False
    return WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)) \
        .until(find, f"no {testid} in message {marker[:60]!r}")


def composer_value(driver):
    return wait(driver, "composer-input").get_attribute("value")


def type_and_send(driver, text):
    box = wait(driver, "composer-input")
    box.send_keys(text)
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    WebDriverWait(driver, 20, ignored_exceptions=_RERENDER).until(lambda d: composer_value(d) == "")


def paste_and_send(driver, text):
    """Puts a long text into the composer the way a paste would (typing 70,000 keys is too slow)."""
    box = wait(driver, "composer-input")
    driver.execute_script("""
        const [el, value] = arguments;
        el.focus();
        el.value = value;
        el.dispatchEvent(new Event('input', {bubbles: true}));
    """, box, text)
    WebDriverWait(driver, 10, ignored_exceptions=_RERENDER).until(lambda d: wait(d, "composer-send").is_enabled())
    wait(driver, "composer-send").click()
    WebDriverWait(driver, 20, ignored_exceptions=_RERENDER).until(lambda d: composer_value(d) == "")


def server_bodies(server, room_id, run):
    """What homeserver A stored in the room with this run id, oldest first."""
    return [b for b in reversed(server.recent_bodies(room_id, limit=100)) if b and run in b]


def wait_server(server, room_id, run, expected, timeout=30):
    deadline = time.time() + timeout
    while True:
        got = server_bodies(server, room_id, run)
        if got == expected or time.time() > deadline:
            short = [b if len(b) < 90 else b[:60] + f"… ({len(b)} chars)" for b in got]
            assert got == expected, f"homeserver A has {short}, expected {expected}"
            return
        time.sleep(0.5)


def _luminance(css):
    r, g, b = (int(float(x)) for x in css[css.index("(") + 1:css.index(")")].split(",")[:3])

    def lin(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast(driver, el):
    """WCAG contrast of an element's text against its own background, as rendered now."""
    fg, bg = driver.execute_script(
        "const s = getComputedStyle(arguments[0]); return [s.color, s.backgroundColor]", el)
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05), fg, bg


def scroll_into_view(driver, el):
    driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", el)


def big_text(run, label):
    line = f"Uitgebreide overdracht {label} {run}: observaties, medicatie, vitale functies en afspraken. "
    return (line * (TOO_BIG // len(line) + 1))[:TOO_BIG]


def test_offline_messages_wait_and_are_sent_in_order(app_bin, tmp_path, request, stack, matrix_as):
    me = user(stack, "a", 0)
    room_id = stack["demo_room_id"]
    server = matrix_as(me)  # homeserver A itself, not through the proxy
    run = uuid.uuid4().hex[:6]
    first = f"Dienstoverdracht: mw. Jansen heeft goed geslapen ({run})"
    offline = [f"Bloeddruk 135/85 gemeten om 14:10 ({run})", f"Graag morgen de wondzorg overnemen ({run})"]

    with app_through_proxy(app_bin, tmp_path, request, stack, me) as (app, proxy):
        open_demo_room(app, stack)
        mark = proxy.mark()
        type_and_send(app, first)
        wait_sent(app, first, proxy=proxy)
        assert proxy.records(ROOM_SEND, since=mark), "the app must talk to the homeserver through the proxy"
        wait_server(server, room_id, run, [first])

        # The server goes away: the banner says so; what was loaded stays visible.
        proxy.refuse()
        banner = wait(app, "sync-banner", timeout=BACK_ONLINE_WITHIN)
        assert OFFLINE_TEXT in banner.text, banner.text
        assert banner.get_attribute("data-status") in ("offline", "error")
        assert app.find_element(By.CSS_SELECTOR, f'[data-testid="room-item"][data-room-id="{room_id}"]').is_displayed()
        assert wait(app, "timeline").is_displayed()
        assert state_of(app, first) == ("sent", None), "the sent message stays in the cached timeline"
        app.save_screenshot(str(SHOTS / "40-offline-banner.png"))

        # Typed and sent while offline: the composer clears, they wait (never "sent", never failed for good).
        for text in offline:
            type_and_send(app, text)
        waiting = ("waiting", "retrying")
        for text in offline:
            wait_message(app, text, lambda s: s is not None and s[0] != "sent" and s[1] in waiting, 20,
                         "not shown as waiting for the connection", proxy)
        for text in offline:
            part(app, text, "send-state", lambda el: "Wacht op verbinding" in el.text)
        assert wait(app, "sync-banner").is_displayed()
        assert composer_value(app) == ""
        app.save_screenshot(str(SHOTS / "41-waiting-offline.png"))
        # Nothing got out while the server was away.
        assert server_bodies(server, room_id, run) == [first]
        for text in offline:
            assert state_of(app, text)[0] != "sent", f"{text!r} shown as sent while the server is down"

        # The server is back: both go out by themselves, the banner goes away.
        proxy.open()
        for text in offline:
            wait_sent(app, text, timeout=BACK_ONLINE_WITHIN, proxy=proxy)
        WebDriverWait(app, BACK_ONLINE_WITHIN, ignored_exceptions=_RERENDER).until(
            lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="sync-banner"]'))
        wait_server(server, room_id, run, [first, *offline])
        for text in [first, *offline]:
            assert state_of(app, text) == ("sent", None)
        assert page_errors(app) is None, page_errors(app)
        logout(app)


def test_refused_message_stays_with_actions_and_urgent_message(app_bin, tmp_path, request, stack, matrix_as):
    me = user(stack, "a", 0)
    room_id = stack["demo_room_id"]
    server = matrix_as(me)
    run = uuid.uuid4().hex[:6]
    big = big_text(run, "A")
    normal = f"Mw. Jansen: temperatuur 37,2 ({run})"
    edited = f"Korte overdracht: wond schoon, verband gewisseld ({run})"
    big2 = big_text(run, "B")
    urgent = f"Mw. Jansen is gevallen, graag direct komen ({run})"
    marker, marker2 = f"overdracht A {run}", f"overdracht B {run}"

    with app_through_proxy(app_bin, tmp_path, request, stack, me) as (app, proxy):
        open_demo_room(app, stack)

        # Too large for Synapse, then a normal message right after it.
        mark = proxy.mark()
        paste_and_send(app, big)
        type_and_send(app, normal)
        wait_message(app, marker, lambda s: s == ("failed", "failed"), SENT_WITHIN,
                     "the too-large message is not shown as failed for good", proxy)
        assert [r for r in proxy.records(ROOM_SEND, since=mark) if r.status == 413], \
            f"Synapse itself must have refused it: {proxy.records(ROOM_SEND, since=mark)}"
        part(app, marker, "send-state",
             lambda el: "Niet verstuurd" in el.text and "te groot" in el.text)
        for testid, label in (("unsent-retry", "Opnieuw"), ("unsent-edit", "Bewerken"), ("unsent-discard", "Verwijderen")):
            part(app, marker, testid, lambda el: el.is_displayed() and el.is_enabled() and label in el.text)
        # The conversation is not blocked: the next message goes out.
        wait_sent(app, normal, proxy=proxy)
        wait_server(server, room_id, run, [normal])
        scroll_into_view(app, part(app, marker, "unsent-actions"))
        app.save_screenshot(str(SHOTS / "42-refused-with-actions.png"))

        notice = WebDriverWait(app, 20, ignored_exceptions=_RERENDER).until(lambda d: d.find_element(
            By.CSS_SELECTOR, f'[data-testid="send-problem"][data-room-id="{room_id}"]'))
        assert notice.is_displayed()
        assert "Bericht niet verstuurd" in notice.text and "te groot voor de server" in notice.text, notice.text
        assert "Latere berichten worden wel verstuurd" in notice.text, notice.text
        driver_scroll_to = part(app, normal, "reply-message")  # the later message, sent
        app.execute_script("arguments[0].scrollIntoView({block: 'center'})", driver_scroll_to)
        app.save_screenshot(str(SHOTS / "43-send-problem-notice.png"))

        # Bewerken: shorten it and save; the shortened text is sent, after the normal one.
        part(app, marker, "unsent-edit").click()
        box = wait(app, "unsent-edit-input")
        assert len(box.get_attribute("value")) == TOO_BIG, "the editor starts with the text that was not sent"
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(edited)
        WebDriverWait(app, 10, ignored_exceptions=_RERENDER).until(lambda d: wait(d, "unsent-edit-input").get_attribute("value") == edited)
        wait(app, "unsent-edit-save").click()
        wait_sent(app, edited, proxy=proxy)
        assert not messages_with(app, marker), "the long text is replaced, not kept next to the short one"
        wait_server(server, room_id, run, [normal, edited])

        # A second one too large: Verwijderen, confirmed; it disappears and never reaches the server.
        paste_and_send(app, big2)
        wait_message(app, marker2, lambda s: s == ("failed", "failed"), SENT_WITHIN,
                     "the second too-large message is not shown as failed for good", proxy)
        part(app, marker2, "unsent-discard").click()
        confirm = part(app, marker2, "unsent-discard-confirm")
        assert "verwijderen" in confirm.text.lower(), confirm.text
        assert state_of(app, marker2) == ("failed", "failed"), "asking is not discarding"
        part(app, marker2, "unsent-discard-yes").click()
        WebDriverWait(app, 20, ignored_exceptions=_RERENDER).until(lambda d: not messages_with(d, marker2))
        wait(app, "timeline")
        app.save_screenshot(str(SHOTS / "44-discarded.png"))

        # Urgent: the toggle, then the message with its badge; the toggle is off again afterwards.
        toggle = wait(app, "composer-urgent")
        assert toggle.get_attribute("aria-pressed") == "false"
        toggle.click()
        WebDriverWait(app, 10, ignored_exceptions=_RERENDER).until(lambda d: wait(d, "composer-urgent").get_attribute("aria-pressed") == "true")
        assert "urgent" in wait(app, "composer-urgent-note").text.lower()
        # Pressed, it must stay readable, also with the pointer still on it right after the click.
        # (Checked at the end, so the urgent message itself is still tested when this fails.)
        ratio, fg, bg = contrast(app, wait(app, "composer-urgent"))
        hard_to_read = None if ratio >= 4.5 else f"the pressed urgent toggle is hard to read: {fg} on {bg} ({ratio:.1f}:1)"
        wait(app, "composer-input").send_keys(urgent)
        app.save_screenshot(str(SHOTS / "45-urgent-toggle.png"))
        wait(app, "composer-input").send_keys(Keys.CONTROL, Keys.ENTER)
        WebDriverWait(app, 20, ignored_exceptions=_RERENDER).until(lambda d: composer_value(d) == "")
        event_id = wait_sent(app, urgent, proxy=proxy)
        assert messages_with(app, urgent)[0].get_attribute("data-urgent") == "true"
        part(app, urgent, "urgent-badge", lambda el: el.is_displayed() and "Urgent" in el.text)
        WebDriverWait(app, 10, ignored_exceptions=_RERENDER).until(lambda d: wait(d, "composer-urgent").get_attribute("aria-pressed") == "false")
        assert not app.find_elements(By.CSS_SELECTOR, '[data-testid="composer-urgent-note"]')
        app.save_screenshot(str(SHOTS / "46-urgent-badge.png"))

        # On the wire: the flag in the content and its copy in m.relates_to.
        wait_server(server, room_id, run, [normal, edited, urgent])
        event = next(e for e in server.get(f"/rooms/{room_id}/messages", dir="b", limit=50)["chunk"]
                     if e["type"] == "m.room.message" and e["content"].get("body") == urgent)
        assert event["event_id"] == event_id
        assert event["content"].get("nl.kring.urgent") is True, event["content"]
        assert event["content"].get("m.relates_to", {}).get("nl.kring.urgent") is True, event["content"]
        # Only the urgent one is flagged.
        for e in server.get(f"/rooms/{room_id}/messages", dir="b", limit=50)["chunk"]:
            if e["type"] == "m.room.message" and e["content"].get("body") in (normal, edited):
                assert e["content"].get("nl.kring.urgent") is not True, e["content"]
                assert e["content"].get("m.relates_to", {}).get("nl.kring.urgent") is not True, e["content"]
        # The discarded one never reached the server, and nothing else from this run did either.
        assert server_bodies(server, room_id, run) == [normal, edited, urgent]
        problems = [p for p in (page_errors(app), hard_to_read) if p]
        assert not problems, "; ".join(problems)
        logout(app)
