"""A realm whose keys cannot be fetched must not slow down token checks of other realms, nor be
asked again on every bad token: fetches are per issuer, failures are remembered with a growing pause.

The realms' JWKS endpoints are a local HTTP server on 127.0.0.1; the clock that decides about the
pause is moved by the test instead of waited for.
"""

import base64
import http.server
import json
import threading
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import connection

from keycloak_bridge import tokens
from tests.factories import TenantFactory, UserFactory
from tests.local_server import JsonHandler, serving

AUDIENCE = "identity-api"


class Realms:
    """JWKS for realm `a` (always) and realm `b`, which answers 503, holds requests until
    `release` is set, or serves its keys, as the test says."""

    def __init__(self):
        self.keys = {name: rsa.generate_private_key(public_exponent=65537, key_size=2048) for name in "ab"}
        self.fetches = {"a": 0, "b": 0}
        self.b_mode = "503"  # "503", "hold" or "ok"
        self.b_arrived = threading.Event()
        self.release = threading.Event()

    def jwks(self, name):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[name].public_key()))
        return {"keys": [{**jwk, "kid": f"{name}-key", "use": "sig", "alg": "RS256"}]}

    def issuer(self, name):
        return f"{self.url}/realms/{name}"

    def token(self, name, sub, kid=None):
        now = int(time.time())
        claims = {"iss": self.issuer(name), "aud": AUDIENCE, "sub": str(sub), "iat": now, "exp": now + 300,
                  "typ": "Bearer"}
        return jwt.encode(claims, self.keys[name], algorithm="RS256", headers={"kid": kid or f"{name}-key"})


@pytest.fixture
def realms():
    state = Realms()

    class Handler(JsonHandler):
        def do_GET(self):
            name = self.path.split("/")[2]
            state.fetches[name] += 1
            if name == "b" and state.b_mode == "hold":
                state.b_arrived.set()
                state.release.wait(30)
            if name == "b" and state.b_mode == "503":
                return self.answer(503, {"error": "unavailable"})
            self.answer(200, state.jwks(name))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with serving(server, state):
        yield state
        state.release.set()


@pytest.fixture
def users(realms):
    """A user in each realm's tenant."""
    suffix = uuid.uuid4().hex[:6]
    return {name: UserFactory(tenant=TenantFactory(slug=f"{name}{suffix}", oidc_issuer=realms.issuer(name)))
            for name in "ab"}


@pytest.fixture
def clock(frozen_clock):
    """The clock tokens.py decides with."""
    return frozen_clock(tokens, time.monotonic())


@pytest.mark.django_db
def test_a_failing_realm_is_asked_again_only_after_a_growing_pause(realms, users, clock):
    bad = realms.token("b", users["b"].pk)
    for _ in range(5):
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(bad)
    assert realms.fetches["b"] == 1  # the failure is remembered: no new fetch within the pause

    clock.now += 1.1  # past the first pause (1 s): one new try, which fails and doubles the pause
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(bad)
    assert realms.fetches["b"] == 2
    clock.now += 1.5
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(bad)
    assert realms.fetches["b"] == 2

    realms.b_mode = "ok"  # the realm is back: after the pause its tokens are accepted again
    clock.now += 1
    assert tokens.verify(bad)[1]["sub"] == str(users["b"].pk)
    assert realms.fetches["b"] == 3
    # Realm a was never slowed down meanwhile.
    assert tokens.verify(realms.token("a", users["a"].pk))[1]["sub"] == str(users["a"].pk)


@pytest.mark.django_db(transaction=True)  # realm b is checked in another thread
def test_a_realm_holding_its_fetch_open_does_not_block_another_realm(realms, users, settings):
    settings.OIDC_JWKS_TIMEOUT_SECONDS = 20  # longer than this test: only the release ends b's fetch
    realms.b_mode = "hold"
    outcome = {}

    def check_b():
        try:
            outcome["b"] = tokens.verify(realms.token("b", users["b"].pk))
        except tokens.InvalidToken as error:
            outcome["b"] = error
        finally:
            connection.close()

    waiting = threading.Thread(target=check_b, daemon=True)
    waiting.start()
    assert realms.b_arrived.wait(10), "realm b's JWKS was never asked"

    tenant_id, claims = tokens.verify(realms.token("a", users["a"].pk))
    assert claims["sub"] == str(users["a"].pk)
    # Realm a's check finished while realm b's fetch was still held open.
    assert waiting.is_alive() and "b" not in outcome

    realms.release.set()
    waiting.join(10)
    assert outcome["b"][1]["sub"] == str(users["b"].pk)


@pytest.mark.django_db
def test_a_fetch_slower_than_the_timeout_fails_and_is_not_repeated(realms, users, settings):
    settings.OIDC_JWKS_TIMEOUT_SECONDS = 0.3
    realms.b_mode = "hold"
    bad = realms.token("b", users["b"].pk)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(bad)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(bad)
    assert realms.fetches["b"] == 1


def test_the_default_timeout_is_short():
    from identity import settings as project_settings

    assert project_settings.OIDC_JWKS_TIMEOUT_SECONDS <= 2


def _segment(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.django_db
@pytest.mark.parametrize("shape", ["garbage", "two parts", "header not json", "header a list", "claims a string",
                                   "signature tampered", "claims tampered", "alg none"])
def test_malformed_and_tampered_tokens_are_refused(realms, users, shape):
    good = realms.token("a", users["a"].pk)
    header, claims, signature = good.split(".")
    other_claims = _segment({**jwt.decode(good, options={"verify_signature": False}), "sub": str(uuid.uuid4())})
    token = {
        "garbage": "not-a-token",
        "two parts": f"{header}.{claims}",
        "header not json": f"bm90IGpzb24.{claims}.{signature}",
        "header a list": f"{_segment(['RS256'])}.{claims}.{signature}",
        "claims a string": f"{header}.{_segment('sub')}.{signature}",
        "signature tampered": f"{header}.{claims}.{signature[:-4]}AAAA",
        "claims tampered": f"{header}.{other_claims}.{signature}",
        "alg none": f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{claims}.",
    }[shape]
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(token)
    assert tokens.verify(good)[1]["sub"] == str(users["a"].pk)
