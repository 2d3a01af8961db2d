"""What a frontend does with Keycloak over HTTP: its token endpoint and its login form."""

import base64
import hashlib
import html
import http.cookiejar
import json
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request


def _request(url, *, method="GET", data=None, opener=None, timeout=60):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if data is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def direct_grant(base_url, realm, username, password, client_id="identity-frontend", scope="openid", **fields):
    """Resource-owner password grant (``fields``: more form fields, e.g. ``totp``): (status, body as dict)."""
    status, _, body = _request(
        f"{base_url}/realms/{realm}/protocol/openid-connect/token",
        method="POST",
        data={"grant_type": "password", "client_id": client_id, "username": username, "password": password,
              "scope": scope, **fields},
    )
    return status, json.loads(body)


def refresh(base_url, realm, refresh_token, client_id="identity-frontend"):
    """Refresh-token grant (an offline token too): (status, body as dict)."""
    status, _, body = _request(
        f"{base_url}/realms/{realm}/protocol/openid-connect/token", method="POST",
        data={"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token})
    return status, json.loads(body)


class _LoopbackCookieJar(http.cookiejar.CookieJar):
    """Browsers treat http://127.0.0.1 as a secure context and send `Secure` cookies to it;
    Keycloak's login cookies are `Secure`, so this jar does the same."""

    def extract_cookies(self, response, request):
        super().extract_cookies(response, request)
        for cookie in self:
            cookie.secure = False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One browser at Keycloak's login pages: its own cookies, PKCE, and no automatic redirects, so
    a test sees every step."""

    def __init__(self, base_url, realm, redirect_uri, client_id="identity-frontend"):
        self.base_url, self.realm, self.redirect_uri, self.client_id = base_url, realm, redirect_uri, client_id
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(_LoopbackCookieJar()),
                                                  _NoRedirect())
        self.verifier = secrets.token_urlsafe(48)

    def get(self, url):
        return _request(url, opener=self.opener)

    def authorize(self) -> str:
        """Opens the client's authorization URL; returns the first login page."""
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).decode().rstrip("=")
        status, _, page = self.get(f"{self.base_url}/realms/{self.realm}/protocol/openid-connect/auth?" +
                                   urllib.parse.urlencode({
                                       "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                                       "response_type": "code", "scope": "openid", "state": secrets.token_hex(8),
                                       "code_challenge": challenge, "code_challenge_method": "S256"}))
        assert status == 200, page[:500]
        return page

    def submit(self, page, form_id, data):
        """Posts the form `form_id` of `page` with `data`: (status, headers, page)."""
        match = re.search(rf'<form[^>]*id="{form_id}"[^>]*action="([^"]+)"', page)
        assert match, f"no form {form_id} on the page: {text(page)[:300]}"
        return _request(html.unescape(match.group(1)), method="POST", opener=self.opener, data=data)

    def follow(self, status, headers):
        """Follows Keycloak's redirects until one leaves for the client: (status, headers, page)."""
        page = ""
        while status in (302, 303) and not headers["Location"].startswith(self.redirect_uri):
            status, headers, page = self.get(urllib.parse.urljoin(self.base_url, headers["Location"]))
        return status, headers, page

    def tokens(self, status, headers) -> dict:
        """The token response for the code in the client redirect that ended the login."""
        status, headers, page = self.follow(status, headers)
        assert status == 302 and headers["Location"].startswith(self.redirect_uri), (status, text(page)[:500])
        code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["Location"]).query)["code"][0]
        status, _, body = _request(
            f"{self.base_url}/realms/{self.realm}/protocol/openid-connect/token", method="POST",
            data={"grant_type": "authorization_code", "client_id": self.client_id, "code": code,
                  "redirect_uri": self.redirect_uri, "code_verifier": self.verifier})
        assert status == 200, body
        return json.loads(body)


def browser_login(base_url, realm, redirect_uri, username, password, client_id="identity-frontend"):
    """Authorization code with PKCE through Keycloak's own login form, posted as a browser would.

    Returns (status, token response) on success, or (status, the login page's HTML) when refused.
    """
    browser = Browser(base_url, realm, redirect_uri, client_id)
    page = browser.authorize()
    status, headers, page = browser.submit(page, "kc-form-login",
                                           {"username": username, "password": password, "credentialId": ""})
    if status != 302:
        return status, page
    return 200, browser.tokens(status, headers)


def text(page: str) -> str:
    """A page's visible words, for assertions on what a person reads."""
    page = re.sub(r"(?si)<(script|style)[^>]*>.*?</\1>", " ", page)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
