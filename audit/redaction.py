"""The deny-list: names whose values never enter the audit trail.

A field is secret when its name is one of `SECRET_NAMES` or contains one of `SECRET_PARTS`; the
same test applies to keys inside JSON values (a user's attributes), at any depth. A secret field
that changed is recorded by name only. Credentials are the target: passwords and their hashes,
tokens, verification and sign-in codes (stored as `code_hash`/`token_hash`), proofs, API client
secrets and keys. Referral and store codes are public business identifiers, not credentials, and
are recorded.
"""

SECRET_NAMES = frozenset({"key", "pin", "otp", "code_hash", "token_hash", "secret_hash"})
SECRET_PARTS = ("password", "passwd", "secret", "token", "hash", "proof", "credential", "private")
REDACTED = "[redacted]"


def is_secret(name: str) -> bool:
    name = str(name).lower()
    return name in SECRET_NAMES or any(part in name for part in SECRET_PARTS)


def redact(value):
    """`value` with the values of secret keys of any nested mapping replaced."""
    if isinstance(value, dict):
        return {k: REDACTED if is_secret(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value
