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


def direct_grant(base_url, realm, username, password, client_id="identity-frontend"):
    """Resource-owner password grant: returns (status, body as dict)."""
    status, _, body = _request(
        f"{base_url}/realms/{realm}/protocol/openid-connect/token",
        method="POST",
        data={"grant_type": "password", "client_id": client_id, "username": username, "password": password,
              "scope": "openid"},
    )
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


def browser_login(base_url, realm, redirect_uri, username, password, client_id="identity-frontend"):
    """Authorization code with PKCE through Keycloak's own login form, posted as a browser would.

    Returns (status, token response) on success, or (status, the login page's HTML) when refused.
    """
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(_LoopbackCookieJar()),
                                         _NoRedirect())
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    status, _, page = _request(f"{base_url}/realms/{realm}/protocol/openid-connect/auth?" + urllib.parse.urlencode({
        "client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": "openid",
        "state": secrets.token_hex(8), "code_challenge": challenge, "code_challenge_method": "S256",
    }), opener=opener)
    assert status == 200, page[:500]
    action = html.unescape(re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', page).group(1))
    status, headers, page = _request(action, method="POST", opener=opener,
                                     data={"username": username, "password": password, "credentialId": ""})
    if status != 302:
        return status, page
    code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["Location"]).query)["code"][0]
    status, _, body = _request(
        f"{base_url}/realms/{realm}/protocol/openid-connect/token",
        method="POST",
        data={"grant_type": "authorization_code", "client_id": client_id, "code": code,
              "redirect_uri": redirect_uri, "code_verifier": verifier},
    )
    return status, json.loads(body)


def claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
