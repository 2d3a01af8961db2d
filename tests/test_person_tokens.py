"""A person's access token costs one signature check per token and a few seconds, and one statement
per request more than a service token: the check is remembered, who the token speaks for never is.

The realm's JWKS is a local HTTP server on 127.0.0.1 that can rotate its key; the clock the cache
decides with is moved by the tests instead of waited for, except where a token's own `exp` must pass.
"""

import http.server
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from keycloak_bridge import tokens
from tests.factories import RoleFactory, TenantFactory, UserFactory
from tests.local_server import JsonHandler, serving
from users import services

pytestmark = pytest.mark.django_db
AUDIENCE = "identity-api"


class Realm:
    """One realm's signing key, which `rotate` replaces (new key, new kid) in what its JWKS serves."""

    def __init__(self):
        self.fetches = 0
        self.rotate()

    def rotate(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex

    def jwks(self):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    @property
    def issuer(self):
        return f"{self.url}/realms/people"

    def token(self, sub, lifetime=300, **claims):
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": AUDIENCE, "sub": str(sub), "iat": now, "exp": now + lifetime,
                  "typ": "Bearer", "jti": uuid.uuid4().hex, **claims}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture
def realm():
    state = Realm()

    class Handler(JsonHandler):
        def do_GET(self):
            state.fetches += 1
            self.answer(200, state.jwks())

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with serving(server, state):
        tokens.forget_cached_issuers()
        yield state
    tokens.forget_cached_issuers()


@pytest.fixture
def tenant(realm):
    return TenantFactory(slug=f"people{uuid.uuid4().hex[:6]}", oidc_issuer=realm.issuer)


@pytest.fixture
def admin(tenant):
    RoleFactory(tenant=tenant, name="admin")
    user = UserFactory(tenant=tenant)
    services.set_user_roles(user, ["admin"])
    return user


@pytest.fixture
def clock(frozen_clock):
    return frozen_clock(tokens, time.monotonic())


@pytest.fixture
def signature_checks(monkeypatch):
    """How many times jwt.decode checked a signature (it still does the checking)."""
    calls = []
    decode = jwt.decode

    def counted(*args, **kwargs):
        calls.append(1)
        return decode(*args, **kwargs)

    monkeypatch.setattr(tokens.jwt, "decode", counted)
    return calls


def bearer(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_person_costs_one_statement_more_than_a_service(realm, tenant, admin, make_client):
    other = UserFactory(tenant=tenant)
    path = f"/v1/users/{other.pk}"
    person, service = bearer(realm.token(admin.pk)), make_client(tenant)
    for client in (person, service):  # the realm's keys and the API client are fetched once, then kept
        assert client.get(path).status_code == 200

    counts = {}
    for name, client in (("person", person), ("service", service)):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).json()["id"] == str(other.pk)
        counts[name] = len(queries)
    # The person and their roles and tenant in one statement, then the lookup both paths make.
    assert counts == {"person": 2, "service": 1}


def test_the_signature_is_checked_once_per_token_within_a_few_seconds(realm, tenant, admin, clock, settings,
                                                                       signature_checks):
    settings.OIDC_VERIFIED_TOKEN_CACHE_SECONDS = 5
    token = realm.token(admin.pk)
    claims = jwt.decode(token, options={"verify_signature": False})
    signature_checks.clear()
    for _ in range(3):
        assert tokens.verify(token) == (tenant.pk, claims)
    assert len(signature_checks) == 1

    signature_checks.clear()
    clock.now += 4.9
    tokens.verify(token)
    assert signature_checks == []
    clock.now += 0.2  # past the few seconds: checked again
    tokens.verify(token)
    assert len(signature_checks) == 1
    tokens.verify(realm.token(admin.pk))  # another token is another check
    assert len(signature_checks) == 2


def test_nothing_is_remembered_when_the_cache_is_off(realm, tenant, admin, settings, signature_checks):
    settings.OIDC_VERIFIED_TOKEN_CACHE_SECONDS = 0
    token = realm.token(admin.pk)
    tokens.verify(token)
    tokens.verify(token)
    assert len(signature_checks) == 2


def test_a_remembered_token_still_expires_at_its_exp(realm, tenant, admin, settings):
    """The few seconds never outlast the token: past `exp` it is refused, however recently checked."""
    settings.OIDC_VERIFIED_TOKEN_CACHE_SECONDS = 60
    settings.OIDC_LEEWAY_SECONDS = 0
    token = realm.token(admin.pk, lifetime=2)
    assert tokens.verify(token)[1]["sub"] == str(admin.pk)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, exp - time.time()) + 0.2)
    with pytest.raises(tokens.InvalidToken, match="expired"):
        tokens.verify(token)


def test_a_tampered_copy_of_a_remembered_token_is_refused(realm, tenant, admin):
    token = realm.token(admin.pk)
    tokens.verify(token)
    header, claims, signature = token.split(".")
    forged = jwt.decode(token, options={"verify_signature": False}) | {"sub": str(uuid.uuid4())}
    forged_claims = jwt.utils.base64url_encode(json.dumps(forged).encode()).decode()
    for bad in (f"{header}.{forged_claims}.{signature}", f"{header}.{claims}.{signature[:-4]}AAAA"):
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(bad)


def test_a_rotated_key_is_fetched_for_its_first_token(realm, tenant, admin, clock):
    old = realm.token(admin.pk)
    assert tokens.verify(old)[0] == tenant.pk
    assert realm.fetches == 1
    realm.rotate()
    clock.now += 11  # past OIDC_JWKS_MIN_REFETCH_SECONDS: an unknown kid fetches the keys again
    assert tokens.verify(realm.token(admin.pk))[0] == tenant.pk
    assert realm.fetches == 2
    with pytest.raises(tokens.InvalidToken, match="no key"):  # the old key is gone from the realm
        tokens.verify(_signed_with_old_kid(realm, old))


def _signed_with_old_kid(realm, old_token):
    """A fresh token naming the old kid, which the realm no longer serves."""
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    now = int(time.time())
    claims = {"iss": realm.issuer, "aud": AUDIENCE, "sub": str(uuid.uuid4()), "iat": now, "exp": now + 300,
              "typ": "Bearer"}
    return jwt.encode(claims, realm.key, algorithm="RS256", headers={"kid": old_kid})


def test_an_issuer_moved_to_another_tenant_counts_at_once_in_this_process(realm, tenant, admin):
    token = realm.token(admin.pk)
    assert tokens.verify(token)[0] == tenant.pk
    tenant.oidc_issuer = None
    tenant.save(update_fields=["oidc_issuer"])
    other = TenantFactory(slug=f"moved{uuid.uuid4().hex[:6]}", oidc_issuer=realm.issuer)
    tokens.forget_cached_issuers()
    assert tokens.verify(token)[0] == other.pk


def test_deactivation_and_a_removed_role_count_at_once(realm, tenant, admin):
    """The token's check is remembered; the person and their roles are read on every request."""
    other = UserFactory(tenant=tenant)
    client = bearer(realm.token(admin.pk))
    assert client.get(f"/v1/users/{other.pk}").status_code == 200
    services.set_user_roles(admin, [])
    r = client.get(f"/v1/users/{other.pk}")
    assert r.status_code == 403, r.json()
    assert client.get("/v1/me").status_code == 200
    services.deactivate_user(admin)
    r = client.get("/v1/me")
    assert r.status_code == 401 and "deactivated" in r.json()["message"]


def test_another_tenants_user_is_not_found_with_a_remembered_token(realm, tenant, admin):
    stranger = UserFactory(tenant=TenantFactory(slug=f"other{uuid.uuid4().hex[:6]}"))
    client = bearer(realm.token(admin.pk))
    assert client.get(f"/v1/users/{admin.pk}").status_code == 200
    assert client.get(f"/v1/users/{stranger.pk}").status_code == 404
