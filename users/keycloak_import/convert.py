"""One Keycloak user representation to the backend's row, checked as `users.services` checks a create.

Problems with the data (a username or attribute the backend refuses, a phone number that is not
one) are returned for the report: the run lists them all and writes nothing. A credential that
cannot be read (an unknown algorithm) is bad input and stops the run at once (`ExportError`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import orjson
from django.core.exceptions import ValidationError

from users import services
from users.keycloak_hashers import KeycloakCredentialError, from_keycloak

from . import phone as phones

PHONE_ATTRIBUTE = "phone_number"
PHONE_VERIFIED_ATTRIBUTE = "phone_number_verified"
NAME_LIMIT = 150
LATEST_MS = 253_402_300_800_000  # 10000-01-01
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch


def default_roles(realm: str) -> set[str]:
    """Keycloak's own realm roles, which every user of the realm has from Keycloak itself."""
    return {"offline_access", "uma_authorization", f"default-roles-{realm}"}


@dataclass(slots=True)
class UserRow:
    id: str
    username: str
    email: str | None
    email_verified: bool
    phone_number: str | None
    phone_verified: bool
    first_name: str
    last_name: str
    is_active: bool
    created_ms: int | None  # Keycloak's createdTimestamp; made a time in SQL, cheaper than here
    attributes: str  # JSON
    required_actions: str  # JSON
    password: str | None
    roles: list[str]
    groups: list[str]
    # What stays in Keycloak, by kind (credential types, client roles, social links), for the report.
    kept: list[str]


@dataclass
class Skipped:
    id: str
    username: str
    reason: str


@dataclass
class Problem:
    id: str
    username: str
    message: str

    def __str__(self):
        return f"{self.id} ({self.username}): {self.message}"


class CredentialError(Exception):
    pass


def _message(error: ValidationError) -> str:
    return "; ".join(error.messages)


def _text(value, what: str, limit: int) -> str:
    if type(value) is str and len(value) <= limit:  # nearly always: one test, first
        return value
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a string")
    if len(value) > limit:
        raise ValueError(f"{what} is longer than {limit} characters")
    return value


def password_of(credentials) -> tuple[str | None, list[str]]:
    """The Django-encoded password and the types of the credentials that stay in Keycloak."""
    password, others = None, []
    for credential in credentials or []:
        if not isinstance(credential, dict):
            raise CredentialError("a credential is not a JSON object")
        kind = credential.get("type")
        if kind != "password":
            others.append(str(kind))
            continue
        if password is not None:
            raise CredentialError("more than one password credential")
        try:
            password = from_keycloak(credential.get("secretData") or "", credential.get("credentialData") or "")
        except KeycloakCredentialError as error:
            raise CredentialError(str(error)) from None
    return password, others


def convert(user: dict, realm_defaults: set[str]) -> UserRow | Skipped | Problem:
    """The row for `user`, why it is skipped, or what the backend refuses in it.

    Raises `CredentialError` for a password credential that cannot be read. (Run a million times
    in an import, with its checks in the cheapest order.)
    """
    get = user.get
    user_id, username = str(get("id") or ""), str(get("username") or "")
    if get("serviceAccountClientId"):
        return Skipped(user_id, username, f"service account of client {user['serviceAccountClientId']}")
    if get("federationLink"):
        return Skipped(user_id, username, f"federated by storage provider {user['federationLink']}")
    if not CANONICAL_UUID(user_id):  # as Keycloak writes them; anything else is read by `uuid`
        try:
            user_id = str(uuid.UUID(user_id))
        except ValueError:
            return Problem(user_id, username, "the id is not a UUID")
    password, others = password_of(get("credentials"))
    kept = [f"{kind} credentials" for kind in others] if others else []
    client_roles = get("clientRoles")
    if client_roles and isinstance(client_roles, dict):
        kept += ["client role memberships"] * sum(len(v) for v in client_roles.values() if isinstance(v, list))
    if linked := get("federatedIdentities"):
        kept += ["social links (federated identities)"] * len(linked)
    try:
        username = services.normalise_username(username)
        email = get("email")
        if email:
            email = email.strip().lower() or None
            if email is not None and ("@" not in email or len(email) > 254):
                raise ValueError("the e-mail address is not one")
        else:
            email = None
        attributes = get("attributes") or {}
        if not isinstance(attributes, dict):
            raise ValueError("attributes are not a map")
        phone = phone_verified = None
        if PHONE_ATTRIBUTE in attributes or PHONE_VERIFIED_ATTRIBUTE in attributes:
            attributes = dict(attributes)
            phone = attributes.pop(PHONE_ATTRIBUTE, None)
            phone_verified = attributes.pop(PHONE_VERIFIED_ATTRIBUTE, None)
            phone = phone[0] if isinstance(phone, list) and phone else phone
            phone_verified = phone_verified[0] if isinstance(phone_verified, list) and phone_verified else phone_verified
            try:
                phone = phones.normalise(phone if isinstance(phone, str) else None)
            except ValidationError as error:
                raise ValueError(f"phone_number: {_message(error)}") from None
        attributes = services.validate_attributes(attributes)
        required_actions = get("requiredActions") or []
        if not isinstance(required_actions, list) or not all(isinstance(a, str) for a in required_actions):
            raise ValueError("requiredActions is not a list of names")
        roles = get("realmRoles") or []
        groups = get("groups") or []
        if not all(isinstance(r, str) for r in roles) or not all(isinstance(g, str) for g in groups):
            raise ValueError("realmRoles and groups are lists of names")
        created = get("createdTimestamp")
        # none (a user made by a realm import that gave none): a new row gets the time of the run, an
        # existing one keeps its own, so that the same export twice changes nothing
        created_ms = None
        if isinstance(created, int | float) and not isinstance(created, bool):
            if not 0 <= created < LATEST_MS:  # NaN too
                raise ValueError(f"createdTimestamp {created} is not a time in milliseconds since 1970")
            created_ms = round(created)
        row = UserRow(
            user_id, username, email, get("emailVerified") is True,
            phone, phone is not None and str(phone_verified).lower() == "true",
            _text(get("firstName"), "firstName", NAME_LIMIT), _text(get("lastName"), "lastName", NAME_LIMIT),
            get("enabled") is not False, created_ms,
            orjson.dumps(attributes).decode(),  # a fifth of json.dumps' cost
            orjson.dumps(required_actions).decode() if required_actions else "[]", password,
            sorted({r for r in roles if r not in realm_defaults}) if roles else [],
            sorted(set(groups)) if groups else [], kept,
        )
    except ValidationError as error:
        return Problem(user_id, username, _message(error))
    except ValueError as error:
        return Problem(user_id, username, str(error))
    return row
