#!/usr/bin/env python3
"""A scripted person at a web browser, for the sign-in steps Kring hands to the system browser.

Kring opens the organisation login (OIDC authorization code + PKCE) and the homeserver's SSO in
the user's own browser, as RFC 8252 asks of native apps, and gets the answer back on a loopback
redirect. No real browser can be driven for that step here, so the tests set
KRING_BROWSER="<python> tests/support/idp_browser.py" and this script stands in for the human
with a browser: it loads the URL, follows redirects, types the username and password into the
IdP's login page (or presses "Annuleren", or closes the window), and ends when the redirect
chain reaches the app's loopback listener.

Like a real browser it keeps its cookies between windows (KRING_TEST_BROWSER_STATE), so the IdP
session of the first sign-in is still there for the second one (Synapse's own OIDC client), and
it sends cookies marked Secure to http://127.0.0.1, which browsers treat as a secure context.

Usage: idp_browser.py URL            (Kring appends the URL as the last argument)
Env:
  KRING_TEST_IDP_USER / KRING_TEST_IDP_PASSWORD  what the person types on the IdP login page
  KRING_TEST_IDP_TOTP_SECRET  the base32 key of their authenticator app: the care platform's IdP
                              asks for its current code after the password (pyotp makes it)
  KRING_TEST_BROWSER_ACTION   login (default) | cancel (press "Annuleren") | close (close the window)
  KRING_TEST_BROWSER_STATE    JSON file with the cookie jar: read at start, written back
  KRING_TEST_BROWSER_LOG      JSON lines appended: opened, login_form_posted, cancelled, closed,
                              returned_to_app (query keys only), error
  KRING_TEST_BROWSER_GATE     a path: wait (up to 60 s) until it exists before loading the URL

Synapse's re-authentication (user-interactive auth by SSO, e.g. before signing a device out):
its confirmation page is answered by following its "Continue" link to the IdP, and its success
page ("you can close this window") ends the window without going back to the app (log
events sso_confirm_followed, reauthenticated).

Exit 0 when back at the app (or after "close", or re-authenticated); non-zero, with a reason on
stderr, on anything unexpected. Passwords, codes and tokens are never printed or logged.
"""
import json
import os
import re
import sys
import tempfile
import time
from html import unescape
from html.parser import HTMLParser
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests
from requests.cookies import extract_cookies_to_jar, get_cookie_header

MAX_HOPS = 20
GATE_TIMEOUT = 60
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Paths on 127.0.0.1 that belong to the IdP or a homeserver; any other loopback URL is the app.
NOT_THE_APP = ("/interaction", "/auth", "/_matrix", "/_synapse", "/session", "/.well-known")
LOGIN_ACTION = re.compile(r"/interaction/[^/]+/login$")
TOTP_ACTION = re.compile(r"/interaction/[^/]+/totp$")
ABORT_ACTION = re.compile(r"/interaction/[^/]+/abort$")


class Failure(Exception):
    pass


def log(event, **fields):
    path = os.environ.get("KRING_TEST_BROWSER_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:  # one write per line: safe to interleave
            f.write(json.dumps({"event": event, **fields}) + "\n")


def where(url):
    """host:port and path of a URL, without its query (which may carry a code or token)."""
    u = urlsplit(url)
    return f"{u.netloc}{u.path}"


def is_app(url):
    u = urlsplit(url)
    return u.scheme == "http" and u.hostname in LOOPBACK and not u.path.startswith(NOT_THE_APP)


# ---------------------------------------------------------------- cookies

class BrowserCookiePolicy(DefaultCookiePolicy):
    """A browser's rule for Secure cookies: only over https, except to loopback."""

    def return_ok_secure(self, cookie, request):
        if not cookie.secure or request.type in self.secure_protocols:
            return True
        return urlsplit(request.get_full_url()).hostname in LOOPBACK


COOKIE_FIELDS = ("version", "name", "value", "port", "port_specified", "domain", "domain_specified",
                 "domain_initial_dot", "path", "path_specified", "secure", "expires", "discard", "comment",
                 "comment_url", "rfc2109")


def load_cookies(jar, path):
    if not path or not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    for c in saved.get("cookies", []):
        jar.set_cookie(Cookie(**{k: c.get(k) for k in COOKIE_FIELDS}, rest=c.get("rest") or {}))


def save_cookies(jar, path):
    """Keeps session cookies too: to the IdP this is one browser that stayed open."""
    if not path:
        return
    jar.clear_expired_cookies()
    cookies = [{**{k: getattr(c, k) for k in COOKIE_FIELDS}, "rest": dict(c._rest)} for c in jar]
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".browser-state-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"cookies": cookies}, f)
    os.replace(tmp, path)


# ---------------------------------------------------------------- pages

class Forms(HTMLParser):
    """The forms of a page: action, method and the named inputs with their values."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": unescape(a.get("action") or ""), "method": (a.get("method") or "get").lower(),
                               "inputs": {}})
        elif tag in ("input", "button") and self.forms and a.get("name"):
            self.forms[-1]["inputs"][a["name"]] = a.get("value") or ""


def forms_of(html):
    p = Forms()
    p.feed(html)
    return p.forms


def visible_text(html, limit=200):
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", text))).strip()
    return text[:limit]


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a" and dict(attrs).get("href"):
            self.hrefs.append(unescape(dict(attrs)["href"]))


def sso_confirm_link(response):
    """Synapse's "Confirm it's you" page of SSO re-authentication: its link onwards to the IdP."""
    if response.status_code != 200 or "html" not in response.headers.get("Content-Type", ""):
        return None
    if "re-authorize your account with single sign-on" not in visible_text(response.text, 2000):
        return None
    p = Links()
    p.feed(response.text)
    return p.hrefs[0] if p.hrefs else None


def reauthenticated(response):
    """Synapse's page after a successful SSO re-authentication."""
    return (response.status_code == 200 and urlsplit(response.url).path.startswith("/_synapse/client/")
            and "close this window" in visible_text(response.text, 2000).lower())


def totp_form(response):
    """The IdP's second-factor page (a code from the authenticator app), or None."""
    if "html" not in response.headers.get("Content-Type", ""):
        return None
    return next((f for f in forms_of(response.text) if f["method"] == "post"
                 and TOTP_ACTION.search(urlsplit(f["action"]).path) and "code" in f["inputs"]), None)


def login_forms(response):
    """(login form, cancel form) when the response is the IdP's login page, else (None, None)."""
    if response.status_code not in (200, 401) or "html" not in response.headers.get("Content-Type", ""):
        return None, None
    forms = forms_of(response.text)
    login = next((f for f in forms if f["method"] == "post" and LOGIN_ACTION.search(urlsplit(f["action"]).path)
                  and "password" in f["inputs"]), None)
    if not login:
        return None, None
    cancel = next((f for f in forms if f["method"] == "post" and ABORT_ACTION.search(urlsplit(f["action"]).path)), None)
    return login, cancel


# ---------------------------------------------------------------- the person at the browser

class Window:
    """One browser window: an HTTP session plus the browser's cookie jar and its rules."""

    def __init__(self):
        self.http = requests.Session()
        self.http.trust_env = False  # loopback only: never a proxy from the environment
        self.jar = CookieJar(policy=BrowserCookiePolicy())

    def request(self, method, url, data=None):
        # requests' own cookie handling would copy the cookies into a jar with the default
        # policy (no Secure cookies over http): pick the cookies with this jar instead.
        req = requests.Request(method, url, data=data, headers={
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) kring-test-browser/1"}).prepare()
        cookie = get_cookie_header(self.jar, req)
        if cookie:
            req.headers["Cookie"] = cookie
        try:
            r = self.http.send(req, allow_redirects=False, timeout=30)
        except requests.RequestException as e:  # its text would hold the URL's query: name the place only
            log("error", at=where(url), reason=type(e).__name__)
            raise Failure(f"{method} {where(url)} failed: {type(e).__name__}") from None
        extract_cookies_to_jar(self.jar, req, r.raw)
        return r


def browse(window, url, state_path):
    action = os.environ.get("KRING_TEST_BROWSER_ACTION", "login") or "login"
    if action not in ("login", "cancel", "close"):
        raise Failure(f"KRING_TEST_BROWSER_ACTION must be login, cancel or close, not {action!r}")
    posted = set()  # login forms already submitted: seeing one again means the IdP said no
    for _ in range(MAX_HOPS):
        if is_app(url):
            return back_to_app(window, url, state_path)
        response = window.request("GET", url)
        while True:  # a page may need a form submitted before the next redirect comes
            if response.status_code in (301, 302, 303, 307, 308) and "Location" in response.headers:
                url = urljoin(response.url, response.headers["Location"])
                break
            login, cancel = login_forms(response)
            second = None if login else totp_form(response)
            if second:
                response = post_code(window, response, second, posted)
                continue
            if not login and reauthenticated(response):
                log("reauthenticated", at=where(response.url))
                save_cookies(window.jar, state_path)
                return 0
            confirm = None if login else sso_confirm_link(response)
            if confirm:
                log("sso_confirm_followed", at=where(response.url))
                url = urljoin(response.url, confirm)
                break
            if not login:
                log("error", status=response.status_code, at=where(response.url))
                raise Failure(f"unexpected page: HTTP {response.status_code} at {where(response.url)}: "
                              f"{visible_text(response.text)!r}")
            if action == "close":
                log("closed")
                save_cookies(window.jar, state_path)
                return 0
            if action == "cancel":
                if not cancel:
                    raise Failure(f"the login page at {where(response.url)} has no cancel button")
                log("cancelled")
                response = window.request("POST", urljoin(response.url, cancel["action"]), data=cancel["inputs"])
                continue
            target = urljoin(response.url, login["action"])
            if target in posted:
                log("error", status=response.status_code, at=where(response.url), reason="login refused")
                raise Failure(f"the IdP refused the login of {os.environ.get('KRING_TEST_IDP_USER')!r} "
                              f"(HTTP {response.status_code}): {visible_text(response.text)!r}")
            user, password = os.environ.get("KRING_TEST_IDP_USER"), os.environ.get("KRING_TEST_IDP_PASSWORD")
            if not user or password is None:
                raise Failure("the IdP asks for a login but KRING_TEST_IDP_USER / KRING_TEST_IDP_PASSWORD are not set")
            data = {**login["inputs"], "username": user, "password": password}
            log("login_form_posted", user=user)
            posted.add(target)
            response = window.request("POST", target, data=data)
    raise Failure(f"more than {MAX_HOPS} redirects (last at {where(url)})")


def post_code(window, response, form, posted):
    """Types the authenticator app's code. A code is good once; when this one was used already
    (the same 30 s), the app's next code is typed, which the IdP's window of one step accepts."""
    import pyotp
    secret = os.environ.get("KRING_TEST_IDP_TOTP_SECRET")
    if not secret:
        raise Failure("the IdP asks for a second-factor code but KRING_TEST_IDP_TOTP_SECRET is not set")
    target = urljoin(response.url, form["action"])
    attempt = sum(1 for p in posted if p.startswith(target + "#code"))
    if attempt >= 2:
        log("error", status=response.status_code, at=where(response.url), reason="code refused")
        raise Failure(f"the IdP refused the second-factor code twice: {visible_text(response.text)!r}")
    totp = pyotp.TOTP(secret)
    code = totp.now() if attempt == 0 else totp.at(time.time() + 30)
    log("totp_posted", attempt=attempt)
    posted.add(f"{target}#code{attempt}")
    return window.request("POST", target, data={**form["inputs"], "code": code})


def back_to_app(window, url, state_path):
    """The redirect reached the app's loopback listener: hand it the answer, once."""
    # Save first: the app may open the next sign-in as soon as it has the answer, and that
    # window must find this one's IdP session.
    save_cookies(window.jar, state_path)
    log("returned_to_app", host=urlsplit(url).netloc, path=urlsplit(url).path,
        query_keys=sorted({k for k, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}))
    r = window.request("GET", url)
    if r.status_code >= 400:
        raise Failure(f"the app's loopback listener answered HTTP {r.status_code} at {where(url)}")
    return 0


def wait_for_gate():
    gate = os.environ.get("KRING_TEST_BROWSER_GATE")
    if not gate:
        return
    deadline = time.monotonic() + GATE_TIMEOUT
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            log("error", reason="gate timeout")
            raise Failure(f"the gate file {gate} did not appear within {GATE_TIMEOUT} s")
        time.sleep(0.1)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    url = argv[-1]
    log("opened", host=urlsplit(url).netloc)
    state_path = os.environ.get("KRING_TEST_BROWSER_STATE")
    window = Window()
    try:
        wait_for_gate()
        load_cookies(window.jar, state_path)
        return browse(window, url, state_path)
    except Failure as e:
        print(f"idp_browser: {e}", file=sys.stderr)
        save_cookies(window.jar, state_path)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
