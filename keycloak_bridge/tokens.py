"""Keycloak access tokens, checked locally: no call to Keycloak on the request path.

A token is accepted only if
- its algorithm is on the allow-list (RS256, ES256: never `none` or HS*, which would let a public
  key serve as an HMAC secret), and the signing key's own type fits it;
- its `iss` is the issuer of a known tenant (only then is that realm's JWKS fetched, so a token
  cannot make the backend fetch arbitrary URLs);
- the signature verifies with a key of that realm's JWKS, fetched once and cached, and fetched
  again when a token names an unknown `kid` (a key rotation), at most every few seconds;
- `aud` holds the API's audience, `exp`/`nbf` hold with a small leeway, and `typ` is `Bearer`
  (an ID token or a refresh token is not an access token).
"""

import json
import threading
import time
import urllib.request
from dataclasses import dataclass

import jwt
from django.conf import settings

from users.models import Tenant

_lock = threading.Lock()
_key_sets: dict[str, "_KeySet"] = {}
_issuers: dict[str, tuple[float, int | None]] = {}
_ISSUER_CACHE_SIZE = 1024


class InvalidToken(Exception):
    """Why a token was refused; the message is for logs, the caller only learns "401"."""


@dataclass
class _KeySet:
    keys: dict[str, jwt.PyJWK]
    fetched_at: float


def _fetch_keys(issuer: str) -> dict[str, jwt.PyJWK]:
    url = f"{issuer}/protocol/openid-connect/certs"
    try:
        with urllib.request.urlopen(url, timeout=settings.OIDC_JWKS_TIMEOUT_SECONDS) as response:
            document = json.load(response)
    except (OSError, ValueError) as error:
        raise InvalidToken(f"the realm's keys could not be fetched from {url}: {error}") from None
    keys = {}
    for data in document.get("keys", []):
        if data.get("use", "sig") != "sig" or "kid" not in data:
            continue
        try:
            keys[data["kid"]] = jwt.PyJWK(data)
        except jwt.PyJWTError:
            continue  # a key of a kind we never accept
    return keys


def _signing_key(issuer: str, kid: str | None) -> jwt.PyJWK:
    now = time.monotonic()
    with _lock:
        key_set = _key_sets.get(issuer)
        stale = key_set is None or now - key_set.fetched_at > settings.OIDC_JWKS_CACHE_SECONDS
        unknown = key_set is not None and kid not in key_set.keys
        may_refetch = key_set is None or now - key_set.fetched_at > settings.OIDC_JWKS_MIN_REFETCH_SECONDS
        if stale or (unknown and may_refetch):
            key_set = _key_sets[issuer] = _KeySet(_fetch_keys(issuer), now)
    key = key_set.keys.get(kid)
    if key is None:
        raise InvalidToken(f"no key {kid!r} in the realm's keys")
    return key


def tenant_id_for_issuer(issuer) -> int | None:
    if not isinstance(issuer, str):
        return None
    now = time.monotonic()
    cached = _issuers.get(issuer)
    if cached and cached[0] > now:
        return cached[1]
    tenant_id = Tenant.objects.filter(oidc_issuer=issuer).values_list("id", flat=True).first()
    if len(_issuers) >= _ISSUER_CACHE_SIZE:
        _issuers.clear()
    _issuers[issuer] = (now + settings.OIDC_ISSUER_CACHE_SECONDS, tenant_id)
    return tenant_id


def verify(token: str) -> tuple[int, dict]:
    """The tenant id and the claims of a valid access token; `InvalidToken` otherwise."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise InvalidToken(f"not a JWT: {error}") from None
    algorithm = header.get("alg")
    if algorithm not in settings.OIDC_ALLOWED_ALGORITHMS:
        raise InvalidToken(f"algorithm {algorithm!r} is not allowed")
    issuer = unverified.get("iss")
    tenant_id = tenant_id_for_issuer(issuer)
    if tenant_id is None:
        raise InvalidToken(f"unknown issuer {issuer!r}")
    key = _signing_key(issuer, header.get("kid"))
    if key.algorithm_name != algorithm:
        raise InvalidToken(f"key {header.get('kid')!r} is for {key.algorithm_name}, not {algorithm}")
    try:
        claims = jwt.decode(
            token, key=key.key, algorithms=[algorithm], audience=settings.OIDC_AUDIENCE, issuer=issuer,
            leeway=settings.OIDC_LEEWAY_SECONDS, options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    if claims.get("typ", "Bearer") != "Bearer":
        raise InvalidToken(f"a {claims['typ']} token is not an access token")
    return tenant_id, claims


def forget_cached_issuers():
    """After a tenant's issuer changes (connect_keycloak): this process forgets at once."""
    _issuers.clear()
