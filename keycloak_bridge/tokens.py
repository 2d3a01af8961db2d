"""Keycloak access tokens, checked locally: no call to Keycloak on the request path.

A token is accepted only if
- its algorithm is on the allow-list (RS256, ES256: never `none` or HS*, which would let a public
  key serve as an HMAC secret), and the signing key's own type fits it;
- its `iss` is the issuer of a known tenant (only then is that realm's JWKS fetched, so a token
  cannot make the backend fetch arbitrary URLs);
- the signature verifies with a key of that realm's JWKS, fetched once and cached, and fetched
  again when a token names an unknown `kid` (a key rotation), at most every few seconds. Each realm
  fetches under its own lock with a short timeout, and a failed fetch is not repeated before a
  pause that doubles up to a cap: a realm whose keys are slow or down delays nobody else's tokens,
  and bad tokens cannot turn into a stream of fetches;
- `aud` holds the API's audience, `exp`/`nbf` hold with a small leeway, and `typ` is `Bearer`
  (an ID token or a refresh token is not an access token).

A token that passed is remembered, by its SHA-256, for OIDC_VERIFIED_TOKEN_CACHE_SECONDS and never
past its `exp`: a person's calls in a row cost one signature check, not one each. Only this check is
remembered; who the token speaks for (active or not, which roles) is read afresh on every request.
The lookup compares digests, never the token, so its timing tells nothing about a token.
"""

import base64
import binascii
import hashlib
import json
import threading
import time
import urllib.request
from dataclasses import dataclass, field

import jwt
from django.conf import settings

from users.models import Tenant

_clock = time.monotonic  # what cache and retry decisions read; tests move it
_key_sets_lock = threading.Lock()  # guards only the dict below, never held during a fetch
_key_sets: dict[str, "_KeySet"] = {}
_issuers: dict[str, tuple[float, int | None]] = {}
_ISSUER_CACHE_SIZE = 1024
_verified: dict[bytes, tuple[float, int, dict]] = {}  # SHA-256 of a token -> (until, tenant id, claims)
_VERIFIED_CACHE_SIZE = 4096
_MAX_JWKS_BYTES = 1 << 20


class InvalidToken(Exception):
    """Why a token was refused; the message is for logs, the caller only learns "401"."""


@dataclass
class _KeySet:
    """One realm's keys. Its own lock serialises its fetches, so a slow or failing realm holds up
    only its own tokens; a failed fetch sets `retry_at`, so bad tokens cannot make it fetch again
    and again (the pause doubles from OIDC_JWKS_RETRY_MIN_SECONDS up to OIDC_JWKS_RETRY_MAX_SECONDS)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float | None = None
    failures: int = 0
    retry_at: float = 0.0

    def wants_fetch(self, kid: str | None, now: float) -> bool:
        if self.fetched_at is None or now - self.fetched_at > settings.OIDC_JWKS_CACHE_SECONDS:
            return True
        # An unknown kid may be a key rotation: look again, but at most every few seconds.
        return kid not in self.keys and now - self.fetched_at > settings.OIDC_JWKS_MIN_REFETCH_SECONDS

    def refresh(self, issuer: str, now: float):
        if now < self.retry_at:
            raise InvalidToken(f"the realm's keys are unavailable; next try in {self.retry_at - now:.1f} s")
        try:
            keys = _fetch_keys(issuer)
        except InvalidToken:
            self.failures += 1
            pause = settings.OIDC_JWKS_RETRY_MIN_SECONDS * 2 ** min(self.failures - 1, 30)
            self.retry_at = _clock() + min(pause, settings.OIDC_JWKS_RETRY_MAX_SECONDS)
            raise
        self.keys, self.fetched_at, self.failures, self.retry_at = keys, _clock(), 0, 0.0


def _fetch_keys(issuer: str) -> dict[str, jwt.PyJWK]:
    """The realm's signing keys, read within OIDC_JWKS_TIMEOUT_SECONDS in all (not per read)."""
    url = f"{issuer}/protocol/openid-connect/certs"
    timeout = settings.OIDC_JWKS_TIMEOUT_SECONDS
    deadline = time.monotonic() + timeout
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = b""
            while chunk := response.read1(65536):
                body += chunk
                if len(body) > _MAX_JWKS_BYTES or time.monotonic() > deadline:
                    raise ValueError("too large or too slow")
        document = json.loads(body)
    except (OSError, ValueError) as error:
        raise InvalidToken(f"the realm's keys could not be fetched from {url}: {error}") from None
    keys = {}
    for data in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(data, dict) or data.get("use", "sig") != "sig" or "kid" not in data:
            continue
        try:
            keys[data["kid"]] = jwt.PyJWK(data)
        except jwt.PyJWTError:
            continue  # a key of a kind we never accept
    return keys


def _key_set(issuer: str) -> _KeySet:
    with _key_sets_lock:
        key_set = _key_sets.get(issuer)
        if key_set is None:
            key_set = _key_sets[issuer] = _KeySet()
        return key_set


def _signing_key(issuer: str, kid: str | None) -> jwt.PyJWK:
    key_set = _key_set(issuer)
    if key_set.wants_fetch(kid, _clock()):
        with key_set.lock:
            now = _clock()
            if key_set.wants_fetch(kid, now):  # unless another thread fetched while this one waited
                key_set.refresh(issuer, now)
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


def _unverified_parts(token: str) -> tuple[dict, dict]:
    """Header and claims, read only to pick the realm and its key: `jwt.decode` below checks them
    again with the signature. Read here with the C base64 decoder, as PyJWT's own unverified reads
    validate every character in Python and cost more than the signature check."""
    try:
        header, payload, _ = token.split(".")
        parts = [json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in (header, payload)]
    except (ValueError, binascii.Error) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidToken(f"not a JWT: {error}") from None
    if not all(isinstance(part, dict) for part in parts):
        raise InvalidToken("not a JWT: its header and claims must be JSON objects")
    return parts[0], parts[1]


def verify(token: str) -> tuple[int, dict]:
    """The tenant id and the claims of a valid access token; `InvalidToken` otherwise. The claims
    may be shared with other requests bearing the same token: read them, never change them."""
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    cached = _verified.get(digest)
    if cached is not None and cached[0] > _clock():
        return cached[1], cached[2]
    tenant_id, claims = _checked(token)
    # Until the token expires (`exp` as jwt.decode read it, not the leeway past it), and no longer
    # than a few seconds: enough for a burst of calls, short enough that what the full check would
    # notice later (the realm's keys fetched anew, an issuer's tenant re-read) soon counts too.
    lifetime = min(settings.OIDC_VERIFIED_TOKEN_CACHE_SECONDS, int(claims["exp"]) - time.time())
    if lifetime > 0:
        if len(_verified) >= _VERIFIED_CACHE_SIZE:
            _verified.clear()
        _verified[digest] = (_clock() + lifetime, tenant_id, claims)
    return tenant_id, claims


def _checked(token: str) -> tuple[int, dict]:
    header, unverified = _unverified_parts(token)
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
    """After a tenant's issuer changes (connect_keycloak): this process forgets at once, the tokens
    it verified under the old mapping too."""
    _issuers.clear()
    _verified.clear()
