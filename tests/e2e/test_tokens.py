"""Frontends call /v1 with the access tokens Keycloak gives their users; forged ones get 401."""

import base64
import copy
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from jwt import PyJWK

from keycloak_bridge.dev.realm import apply_realm
from tests.e2e.conftest import API_TOKEN, REALM
from tests.e2e.keycloak_api import claims, direct_grant
from users import services
from users.models import Tenant

pytestmark = pytest.mark.e2e
PASSWORD = "a passphrase only the backend knows"


def call(backend, path, token, method="GET", body=None):
    request = urllib.request.Request(f"{backend.url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or "null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or "null")


def person(tenant, roles=()):
    user = services.create_user(tenant, username=f"p{uuid.uuid4().hex[:10]}")
    services.set_password(user, PASSWORD)
    services.set_user_roles(user, list(roles))
    return user


def token_for(realm, user, realm_name=REALM, client_id="identity-frontend"):
    status, body = direct_grant(realm["base_url"], realm_name, user.username, PASSWORD, client_id=client_id)
    assert status == 200, body
    return body["access_token"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def resign(token: str, header: dict, key: bytes | None) -> str:
    """The token's payload under another header, HMAC-SHA256-signed with `key` (or unsigned)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{token.split('.')[1]}"
    signature = b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()) if key else ""
    return f"{signing_input}.{signature}"


def test_an_admin_token_manages_users_and_a_plain_token_reaches_only_me(realm, backend, e2e_tenant):
    admin, plain = person(e2e_tenant, ["admin"]), person(e2e_tenant)
    admin_token, plain_token = token_for(realm, admin), token_for(realm, plain)
    status, body = call(backend, f"/v1/users:search?username={plain.username}&exact=true", admin_token)
    assert status == 200 and [u["id"] for u in body["results"]] == [str(plain.id)]
    assert call(backend, "/v1/users", plain_token)[0] == 403
    status, me = call(backend, "/v1/me", plain_token)
    assert status == 200 and me["id"] == str(plain.id) == claims(plain_token)["sub"]
    status, me = call(backend, "/v1/me", plain_token, "PATCH", {"first_name": "Changed"})
    assert status == 200 and me["first_name"] == "Changed"
    assert call(backend, "/v1/me", plain_token, "PATCH", {"enabled": False})[0] == 400


def test_a_deactivated_persons_token_stops_working_at_once(realm, backend, e2e_tenant):
    user = person(e2e_tenant)
    token = token_for(realm, user)
    assert call(backend, "/v1/me", token)[0] == 200
    services.deactivate_user(user)
    assert call(backend, "/v1/me", token)[0] == 401


def test_a_wrong_signature_is_refused(realm, backend, e2e_tenant):
    token = token_for(realm, person(e2e_tenant))
    head, payload, signature = token.split(".")
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1:]
    assert call(backend, "/v1/me", f"{head}.{payload}.{flipped}")[0] == 401
    # The payload of one user under the signature of another's token.
    other = token_for(realm, person(e2e_tenant)).split(".")
    assert call(backend, "/v1/me", f"{other[0]}.{payload}.{other[2]}")[0] == 401


def test_alg_none_is_refused(realm, backend, e2e_tenant):
    token = token_for(realm, person(e2e_tenant))
    assert call(backend, "/v1/me", resign(token, {"alg": "none", "typ": "JWT"}, None))[0] == 401


def test_hs256_signed_with_the_realms_public_key_is_refused(realm, backend, e2e_tenant):
    token = token_for(realm, person(e2e_tenant))
    kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==="))["kid"]
    with urllib.request.urlopen(f"{realm['issuer']}/protocol/openid-connect/certs", timeout=10) as response:
        jwk = next(k for k in json.load(response)["keys"] if k["kid"] == kid)
    public_pem = PyJWK(jwk).key.public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    forged = resign(token, {"alg": "HS256", "typ": "JWT", "kid": kid}, public_pem)
    assert call(backend, "/v1/me", forged)[0] == 401


def test_a_wrong_audience_is_refused(realm, backend, e2e_tenant):
    user = person(e2e_tenant)
    token = token_for(realm, user, client_id="admin-cli")  # no audience mapper on this client
    assert "identity-api" not in (claims(token).get("aud") or [])
    assert call(backend, "/v1/me", token)[0] == 401


def test_an_expired_token_is_refused(realm, kc_admin, backend, e2e_tenant):
    status, clients = kc_admin.request("GET", f"/admin/realms/{REALM}/clients?clientId=identity-frontend")
    short = copy.deepcopy(clients[0])
    for key in ("id", "secret"):
        short.pop(key, None)
    short["clientId"] = f"short-{uuid.uuid4().hex[:6]}"
    short["attributes"] = {**short.get("attributes", {}), "access.token.lifespan": "2"}
    for mapper in short.get("protocolMappers", []):
        mapper.pop("id", None)
    kc_admin.request("POST", f"/admin/realms/{REALM}/clients", short, ok=(201,))
    token = token_for(realm, person(e2e_tenant), client_id=short["clientId"])
    assert call(backend, "/v1/me", token)[0] == 200
    time.sleep(claims(token)["exp"] - time.time() + 1 + 1)  # past exp and the backend's leeway (1 s here)
    assert call(backend, "/v1/me", token)[0] == 401


def test_tokens_of_other_realms_are_refused(realm, keycloak, backend, e2e_tenant):
    """A second realm signs a token for a person of this tenant (Keycloak's user ids are global, so
    that person has never signed in through the tenant's own realm)."""
    other = apply_realm(keycloak.base_url, keycloak.admin_user, keycloak.admin_password, backend.url, API_TOKEN,
                        realm="e2e-other", cache_policy="NO_CACHE")
    user = person(e2e_tenant)
    token = token_for(realm, user, realm_name="e2e-other")
    assert claims(token)["sub"] == str(user.id) and claims(token)["iss"] == other["issuer"]
    # A realm that is no tenant's.
    assert call(backend, "/v1/me", token)[0] == 401
    # Another tenant's realm: that tenant has no such person.
    Tenant.objects.create(slug="e2e-other", display_name="Other", oidc_issuer=other["issuer"])
    assert call(backend, "/v1/me", token)[0] == 401
    # The other realm's token relabelled with this tenant's issuer: the signature no longer holds.
    head, payload, signature = token.split(".")
    relabelled = {**claims(token), "iss": realm["issuer"]}
    assert call(backend, "/v1/me", f"{head}.{b64(json.dumps(relabelled).encode())}.{signature}")[0] == 401
