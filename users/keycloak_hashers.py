"""Password hashes as Keycloak wrote them, checked by Django's `check_password`.

A user imported from a Keycloak export keeps the hash Keycloak made, so that the old password works
before anyone logs in. Each hasher here reads one of Keycloak's algorithms with the parameters the
credential carries; they sit after the backend's own Argon2 in `PASSWORD_HASHERS`, so the first
successful check (`User.check_password`, which `credentials:verify` and the admin's password form
call) rewrites the hash with the backend's Argon2.

Keycloak keeps a password credential as two JSON strings: `secretData`
`{"value": <base64 hash>, "salt": <base64 salt>}` and `credentialData`
`{"hashIterations": n, "algorithm": "...", "additionalParameters": {...}}`. Argon2's type, version,
memory, parallelism and hash length are in `additionalParameters` (one-element lists of strings);
PBKDF2 derives as many bytes as the stored hash has. Both hash the password's UTF-8 bytes.
Encoded here as:

    keycloak_argon2$<type>$<version>$m=<KiB>,t=<iterations>,p=<lanes>$<salt b64>$<hash b64>
    keycloak_pbkdf2_sha512$<iterations>$<salt b64>$<hash b64>   (also _sha256, and keycloak_pbkdf2: SHA-1)
"""

import binascii
import hashlib
import hmac
import json
from functools import lru_cache

import argon2.low_level
import orjson
from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.translation import gettext_noop as _

ARGON2_TYPES = {"id": argon2.low_level.Type.ID, "i": argon2.low_level.Type.I, "d": argon2.low_level.Type.D}
ARGON2_VERSIONS = {"1.3": 0x13, "1.0": 0x10}


class KeycloakCredentialError(ValueError):
    """A credential this module cannot read: unknown algorithm, missing or malformed parameters."""


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _unb64(text: str) -> bytes:
    """`base64.b64decode(text, validate=True)`, without its wrapper (twice per imported user)."""
    return binascii.a2b_base64(text, strict_mode=True)


class KeycloakArgon2PasswordHasher(BasePasswordHasher):
    algorithm = "keycloak_argon2"
    # Keycloak 26's defaults, for `encode` (tests and generated exports).
    type, version, memory_cost, time_cost, parallelism, hash_len = "id", "1.3", 7168, 5, 1, 32

    def encode(self, password, salt, *, type=None, version=None, memory_cost=None, time_cost=None,
               parallelism=None, hash_len=None):
        raw_salt = salt.encode() if isinstance(salt, str) else salt
        params = (type or self.type, version or self.version, memory_cost or self.memory_cost,
                  time_cost or self.time_cost, parallelism or self.parallelism, hash_len or self.hash_len)
        return self.encode_hash(_b64(raw_salt), _b64(self._derive(password, raw_salt, *params)), *params[:5])

    def encode_hash(self, salt_b64, hash_b64, type, version, memory, iterations, parallelism):
        return f"{self.algorithm}${type}${version}$m={memory},t={iterations},p={parallelism}${salt_b64}${hash_b64}"

    @staticmethod
    def _derive(password, salt, type, version, memory, iterations, parallelism, hash_len):
        return argon2.low_level.hash_secret_raw(
            password.encode(), salt, time_cost=iterations, memory_cost=memory, parallelism=parallelism,
            hash_len=hash_len, type=ARGON2_TYPES[type], version=ARGON2_VERSIONS[version])

    def decode(self, encoded):
        algorithm, type, version, params, salt, hash = encoded.split("$", 5)
        assert algorithm == self.algorithm
        values = dict(item.split("=", 1) for item in params.split(","))
        return {"algorithm": algorithm, "type": type, "version": version, "memory_cost": int(values["m"]),
                "time_cost": int(values["t"]), "parallelism": int(values["p"]), "salt": salt, "hash": hash}

    def verify(self, password, encoded):
        d = self.decode(encoded)
        expected = _unb64(d["hash"])
        actual = self._derive(password, _unb64(d["salt"]), d["type"], d["version"], d["memory_cost"],
                              d["time_cost"], d["parallelism"], len(expected))
        return hmac.compare_digest(actual, expected)

    def safe_summary(self, encoded):
        d = self.decode(encoded)
        return {_("algorithm"): d["algorithm"], _("type"): d["type"], _("version"): d["version"],
                _("memory cost"): d["memory_cost"], _("time cost"): d["time_cost"],
                _("parallelism"): d["parallelism"], _("salt"): mask_hash(d["salt"]), _("hash"): mask_hash(d["hash"])}

    def must_update(self, encoded):
        return True  # never the preferred hasher: any successful check rewrites it

    def harden_runtime(self, password, encoded):
        pass


class _KeycloakPbkdf2PasswordHasher(BasePasswordHasher):
    digest_name = None
    iterations = None  # Keycloak 26's default for the algorithm, for `encode`
    key_bytes = None

    def encode(self, password, salt, iterations=None):
        raw_salt = salt.encode() if isinstance(salt, str) else salt
        iterations = iterations or self.iterations
        derived = hashlib.pbkdf2_hmac(self.digest_name, password.encode(), raw_salt, iterations, self.key_bytes)
        return self.encode_hash(_b64(raw_salt), _b64(derived), iterations)

    def encode_hash(self, salt_b64, hash_b64, iterations):
        return f"{self.algorithm}${iterations}${salt_b64}${hash_b64}"

    def decode(self, encoded):
        algorithm, iterations, salt, hash = encoded.split("$", 3)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "iterations": int(iterations), "salt": salt, "hash": hash}

    def verify(self, password, encoded):
        d = self.decode(encoded)
        expected = _unb64(d["hash"])
        actual = hashlib.pbkdf2_hmac(self.digest_name, password.encode(), _unb64(d["salt"]), d["iterations"],
                                     len(expected))
        return hmac.compare_digest(actual, expected)

    def safe_summary(self, encoded):
        d = self.decode(encoded)
        return {_("algorithm"): d["algorithm"], _("iterations"): d["iterations"],
                _("salt"): mask_hash(d["salt"]), _("hash"): mask_hash(d["hash"])}

    def must_update(self, encoded):
        return True

    def harden_runtime(self, password, encoded):
        pass


class KeycloakPbkdf2Sha512PasswordHasher(_KeycloakPbkdf2PasswordHasher):
    algorithm, digest_name, iterations, key_bytes = "keycloak_pbkdf2_sha512", "sha512", 210_000, 64


class KeycloakPbkdf2Sha256PasswordHasher(_KeycloakPbkdf2PasswordHasher):
    algorithm, digest_name, iterations, key_bytes = "keycloak_pbkdf2_sha256", "sha256", 600_000, 32


class KeycloakPbkdf2PasswordHasher(_KeycloakPbkdf2PasswordHasher):
    algorithm, digest_name, iterations, key_bytes = "keycloak_pbkdf2", "sha1", 1_300_000, 64


PBKDF2_HASHERS = {
    "pbkdf2-sha512": KeycloakPbkdf2Sha512PasswordHasher,
    "pbkdf2-sha256": KeycloakPbkdf2Sha256PasswordHasher,
    "pbkdf2": KeycloakPbkdf2PasswordHasher,
}
ALGORITHMS = ("argon2", *PBKDF2_HASHERS)


def _first(parameters: dict, name: str) -> str:
    values = parameters.get(name)
    if isinstance(values, list) and values:
        values = values[0]
    if not isinstance(values, str | int):
        raise KeycloakCredentialError(f"argon2 credential without additionalParameters.{name}")
    return str(values)


def _int(value, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise KeycloakCredentialError(f"{what} is not a number: {str(value)[:40]!r}") from None
    if not 0 < number < 2**32:
        raise KeycloakCredentialError(f"{what} is out of range: {number}")
    return number


def from_keycloak(secret_data: str | dict, credential_data: str | dict) -> str:
    """The Django-encoded password of a Keycloak password credential, its bytes untouched.

    Raises `KeycloakCredentialError` for an algorithm that is not Keycloak's, or parameters that are
    missing or malformed, so that an import stops at the user rather than storing a hash nobody can use.
    """
    prefix, hash_length = (_scheme_of_text(credential_data) if isinstance(credential_data, str)
                           else _scheme(credential_data))
    try:
        secret = orjson.loads(secret_data) if isinstance(secret_data, str) else secret_data  # per user: the fast one
    except ValueError:
        raise KeycloakCredentialError("secretData or credentialData is not JSON") from None
    if not isinstance(secret, dict):
        raise KeycloakCredentialError("secretData and credentialData must be JSON objects")
    value, salt = secret.get("value"), secret.get("salt")
    if not isinstance(value, str) or not isinstance(salt, str):
        raise KeycloakCredentialError("secretData has no value or salt")
    try:
        hash_bytes, salt_bytes = _unb64(value), _unb64(salt)
    except (binascii.Error, ValueError):
        raise KeycloakCredentialError("secretData's value or salt is not base64") from None
    if not hash_bytes or not salt_bytes:
        raise KeycloakCredentialError("secretData's value or salt is empty")
    if hash_length is not None and hash_length != len(hash_bytes):
        raise KeycloakCredentialError(f"hashLength {hash_length} but the hash has {len(hash_bytes)} bytes")
    return f"{prefix}${_b64(salt_bytes)}${_b64(hash_bytes)}"


@lru_cache(maxsize=64)
def _scheme_of_text(credential_data: str) -> tuple[str, int | None]:
    """`_scheme` read once per distinct `credentialData`: Keycloak writes the same one (algorithm,
    iterations, parameters) for every password hashed under one policy, and reading it was most of
    a credential's cost in an import."""
    try:
        data = json.loads(credential_data)
    except ValueError:
        raise KeycloakCredentialError("secretData or credentialData is not JSON") from None
    return _scheme(data)


def _scheme(data) -> tuple[str, int | None]:
    """The encoded password's part before the salt, and the hash length argon2 states (checked
    against each hash), of one `credentialData`."""
    if not isinstance(data, dict):
        raise KeycloakCredentialError("secretData and credentialData must be JSON objects")
    algorithm = data.get("algorithm")
    iterations = _int(data.get("hashIterations"), "hashIterations")
    if algorithm == "argon2":
        parameters = data.get("additionalParameters") or {}
        if not isinstance(parameters, dict):
            raise KeycloakCredentialError("additionalParameters must be an object")
        type, version = _first(parameters, "type"), _first(parameters, "version")
        if type not in ARGON2_TYPES:
            raise KeycloakCredentialError(f"unknown argon2 type {type[:20]!r}")
        if version not in ARGON2_VERSIONS:
            raise KeycloakCredentialError(f"unknown argon2 version {version[:20]!r}")
        memory = _int(_first(parameters, "memory"), "memory")
        parallelism = _int(_first(parameters, "parallelism"), "parallelism")
        hash_length = _int(_first(parameters, "hashLength"), "hashLength")
        prefix = KeycloakArgon2PasswordHasher().encode_hash("", "", type, version, memory, iterations, parallelism)
        return prefix[:-2], hash_length
    hasher = PBKDF2_HASHERS.get(algorithm) if isinstance(algorithm, str) else None
    if hasher is None:
        raise KeycloakCredentialError(f"unknown hash algorithm {str(algorithm)[:40]!r} (known: {', '.join(ALGORITHMS)})")
    return hasher().encode_hash("", "", iterations)[:-2], None
