"""What an operator and a frontend do with Keycloak, over HTTP only: its admin REST API, its
token endpoint and its login pages."""

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


class HttpError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


def _request(url, *, method="GET", data=None, json_body=None, headers=None, opener=None, timeout=60):
    headers = dict(headers or {})
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif data is not None:
        body = urllib.parse.urlencode(data).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


class KeycloakAdmin:
    def __init__(self, base_url, username, password, realm):
        self.base_url = base_url.rstrip("/")
        self.realm = realm
        self._username, self._password = username, password

    def _token(self):
        status, _, body = _request(
            f"{self.base_url}/realms/master/protocol/openid-connect/token",
            method="POST",
            data={"grant_type": "password", "client_id": "admin-cli", "username": self._username,
                  "password": self._password},
        )
        if status != 200:
            raise HttpError(status, body)
        return json.loads(body)["access_token"]

    def call(self, method, path, body=None, expect=(200, 201, 204)):
        status, headers, text = _request(
            f"{self.base_url}/admin/realms/{self.realm}{path}", method=method, json_body=body,
            headers={"Authorization": f"Bearer {self._token()}"},
        )
        if status not in expect:
            raise HttpError(status, text)
        if status == 201 and "Location" in headers:
            return headers["Location"].rsplit("/", 1)[-1]
        return json.loads(text) if text else None

    def users(self, **params):
        return self.call("GET", "/users?" + urllib.parse.urlencode(params))

    def count(self, **params):
        return self.call("GET", "/users/count?" + urllib.parse.urlencode(params))


def direct_grant(base_url, realm, client_id, username, password):
    """Resource-owner password grant: returns (status, body as dict)."""
    status, _, body = _request(
        f"{base_url}/realms/{realm}/protocol/openid-connect/token",
        method="POST",
        data={"grant_type": "password", "client_id": client_id, "username": username, "password": password,
              "scope": "openid"},
    )
    return status, json.loads(body)


def browser_login(base_url, realm, client_id, redirect_uri, username, password):
    """The authorization-code flow with PKCE through Keycloak's own login form, as a browser posts it.

    Returns (status, token response) on success, or (status, login page HTML) when the form refuses.
    """
    jar = http.cookiejar.CookieJar()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    auth_url = f"{base_url}/realms/{realm}/protocol/openid-connect/auth?" + urllib.parse.urlencode({
        "client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": "openid",
        "state": secrets.token_hex(8), "code_challenge": challenge, "code_challenge_method": "S256",
    })
    status, _, page = _request(auth_url, opener=opener)
    if status != 200:
        raise HttpError(status, page)
    action = html.unescape(re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', page).group(1))
    status, headers, page = _request(action, method="POST", data={"username": username, "password": password,
                                                                  "credentialId": ""}, opener=opener)
    if status != 302:
        return status, page
    location = headers["Location"]
    code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]
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
