"""Domain operations on users, roles, groups, logins and API clients.

The only place that writes these models. Field problems raise Django's `ValidationError` keyed by
field; uniqueness is left to database constraints and surfaces as `Conflict`.
"""

import hashlib
import hmac
import re
import secrets
import time
from datetime import timedelta

import phonenumbers
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone

from audit.recording import recorded
from identity.errors import Conflict, NotFound
from keycloak_bridge import sessions as keycloak_sessions

from .models import ApiClient, Group, PasswordResetToken, Role, Tenant, User, UserLogin


USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@+-]*$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
ATTRIBUTE_NAME_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")
MAX_ATTRIBUTE_NAMES = 100
MAX_ATTRIBUTE_VALUES = 100
MAX_ATTRIBUTE_VALUE_LENGTH = 2048
MAX_ATTRIBUTES_TOTAL_LENGTH = 64 * 1024
# Names that are columns, not attributes: they must be set through their own fields.
RESERVED_ATTRIBUTE_NAMES = {
    "id", "username", "email", "email_verified", "emailVerified", "phone_number", "phone_verified",
    "first_name", "firstName", "last_name", "lastName", "enabled", "createdTimestamp",
}

# Constraint name -> (API field, message).
_USERNAME = ("username", "This username is already taken in this tenant.")
_EMAIL = ("email", "Another user of this tenant already has this email address.")
_PHONE = ("phone_number", "Another user of this tenant already has this phone number.")
# The same for any clash, another tenant's user included: ids are global, the answer says no more.
_ID = ("id", "This id is not available: leave it out and the user gets a new one.")
_NAME = ("name", "This name is already taken in this tenant.")
_EXTERNAL_ID = ("external_id", "Another record of this tenant already has this external id.")
CONFLICTS = {
    "user_username_per_tenant": _USERNAME,
    "user_email_per_tenant": _EMAIL,
    "user_phone_per_tenant": _PHONE,
    "users_user_pkey": _ID,
    "role_name_per_tenant": _NAME,
    "group_path_per_tenant": _NAME,
    "apiclient_name_per_tenant": _NAME,
    "user_external_id_per_tenant": _EXTERNAL_ID,
    "group_external_id_per_tenant": _EXTERNAL_ID,
}


def save_unique(instance, conflicts: dict[str, tuple[str, str]] = CONFLICTS, **kwargs):
    """Save; a unique constraint named in `conflicts` that refuses the row becomes a `Conflict`."""
    try:
        with transaction.atomic():
            instance.save(**kwargs)
    except IntegrityError as error:
        key = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
        if key not in conflicts:
            raise
        raise Conflict(*conflicts[key]) from None
    return instance


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- normalisation and validation -------------------------------------------------------------


def normalise_username(value: str) -> str:
    value = (value or "").strip().lower()
    if not value:
        raise ValidationError("A username is required.")
    if len(value) > 255:
        raise ValidationError("A username has at most 255 characters.")
    if not USERNAME_RE.match(value):
        raise ValidationError(
            "A username may contain only letters, digits and . _ @ + -, and starts with a letter or digit."
        )
    return value


def normalise_email(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    if not value:
        return None
    validate_email(value)
    return value


def normalise_phone(value: str | None) -> str | None:
    """E.164, so that one number has one spelling and the unique index holds.

    Numbers must be possible (right length for their country), not listed as assigned: numbering
    plans change faster than the library, and test ranges such as +1 555 must work.
    """
    value = (value or "").strip()
    if not value:
        return None
    try:
        number = phonenumbers.parse(value, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError("Enter a phone number in international form, such as +15551234567.")
    if not phonenumbers.is_possible_number(number):
        raise ValidationError("This is not a valid phone number; give it in international form, such as +15551234567.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_attributes(value) -> dict[str, list[str]]:
    """Keycloak-style attributes: a map of name -> list of strings, bounded in size."""
    if not isinstance(value, dict):
        raise ValidationError("Attributes are a map of name to a list of strings.")
    if len(value) > MAX_ATTRIBUTE_NAMES:
        raise ValidationError(f"At most {MAX_ATTRIBUTE_NAMES} attribute names are allowed.")
    total = 0
    cleaned = {}
    for name, values in value.items():
        if not ATTRIBUTE_NAME_RE.match(name):
            raise ValidationError(f"Attribute name {name[:60]!r} may contain only letters, digits and _ . : -.")
        if name in RESERVED_ATTRIBUTE_NAMES:
            raise ValidationError(f"{name!r} is a user field, not an attribute: set it through its own field.")
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValidationError(f"Attribute {name!r} must be a list of strings.")
        if len(values) > MAX_ATTRIBUTE_VALUES:
            raise ValidationError(f"Attribute {name!r} has more than {MAX_ATTRIBUTE_VALUES} values.")
        for v in values:
            if len(v) > MAX_ATTRIBUTE_VALUE_LENGTH:
                raise ValidationError(
                    f"A value of attribute {name!r} is longer than {MAX_ATTRIBUTE_VALUE_LENGTH} characters."
                )
            total += len(v)
        total += len(name)
        cleaned[name] = values
    if total > MAX_ATTRIBUTES_TOTAL_LENGTH:
        raise ValidationError(f"Attributes exceed {MAX_ATTRIBUTES_TOTAL_LENGTH} characters in all.")
    return cleaned


def validate_name(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > 255 or not NAME_RE.match(value):
        raise ValidationError(
            f"A {what} name has 1 to 255 letters, digits or _ . : -, and starts with a letter or digit."
        )
    return value


def check_password_strength(password: str, user: User | None = None) -> str:
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    return password


# --- users ------------------------------------------------------------------------------------

USER_FIELD_DEFAULTS = {
    "email": None,
    "email_verified": False,
    "phone_number": None,
    "phone_verified": False,
    "first_name": "",
    "last_name": "",
    "is_active": True,
    "attributes": {},
}


@transaction.atomic
@recorded("user.created")
def create_user(tenant: Tenant, *, username: str, password: str | None = None, **fields) -> User:
    """Create a user; an `id` may be given so that an imported Keycloak UUID is kept."""
    if fields.get("id") is None:
        fields.pop("id", None)
    user = User(tenant=tenant, username=username, **fields)
    if not user.is_active:
        user.deactivated_at = timezone.now()
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    return save_unique(user, force_insert=True)


@transaction.atomic
@recorded("user.updated")
def update_user(user: User, changes: dict, *, replace: bool = False) -> User:
    """Apply changed fields; with `replace`, fields not given return to their defaults (PUT)."""
    if replace:
        changes = {**USER_FIELD_DEFAULTS, **changes}
    active = changes.pop("is_active", user.is_active)
    for name, value in changes.items():
        setattr(user, name, value)
    _set_active(user, active)
    return save_unique(user)


def _set_active(user: User, active: bool):
    if active == user.is_active:
        return
    user.is_active = active
    user.deactivated_at = None if active else timezone.now()
    if not active:
        keycloak_sessions.end_sessions_after_commit(user)


SELF_EDITABLE_FIELDS = {"first_name", "last_name", "email", "phone_number", "attributes"}
# A live field, the field its pending value waits in, its flag and the proof that sets the flag.
PENDING = {"email": "pending_email", "phone_number": "pending_phone_number"}
VERIFIED = {"email": "email_verified", "phone_number": "phone_verified"}
PROOF_FIELDS = {"email": "email_verification_proof", "phone_number": "phone_verification_proof"}


def apply_proofs(user: User | None, changes: dict, proven: dict[str, str]) -> dict:
    """`changes` with what verification proofs vouch for: `proven` maps `email`/`phone_number` to
    a proven value. A proof of the field's value after the write sets its flag; a proof of the
    user's pending value, on a write that leaves the field alone, promotes it: the live value,
    verified (the unique constraint still decides, so someone who has it meanwhile makes it a 409).
    """
    changes = dict(changes)
    for field, value in proven.items():
        live = changes[field] if field in changes else getattr(user, field, None)
        pending = changes[PENDING[field]] if PENDING[field] in changes else getattr(user, PENDING[field], None)
        if value == live:
            changes[VERIFIED[field]] = True
        elif field not in changes and value == pending:
            changes.update({field: value, VERIFIED[field]: True, PENDING[field]: None})
        else:
            raise ValidationError({PROOF_FIELDS[field]: f"This proof is for another {field}."})
    return changes


def update_own_profile(user: User, changes: dict, *, proven: dict[str, str] | None = None) -> User:
    """A person's own edit (the former GraphQL API's updateUser): safe fields only.

    A new email or phone number is pending, and the live one stays, until a proof of it (here, in
    `proven`, or later through `apply_proofs`) promotes it: a person can never sign in with, nor take
    from its owner, a value they have not proven. A pending value touches no unique index, so the
    answer is the same whether or not someone has it. Removing a value, or giving the live one
    back (which drops the pending change), takes effect at once.
    """
    unsafe = set(changes) - SELF_EDITABLE_FIELDS
    if unsafe:
        raise ValidationError({name: "You cannot change this yourself." for name in sorted(unsafe)})
    proven = proven or {}
    changes = dict(changes)
    for field, pending in PENDING.items():
        if field not in changes:
            continue
        value = changes.pop(field)
        if value == getattr(user, field):
            changes[pending] = None
        elif value is None or value == proven.get(field):
            changes.update({field: value, VERIFIED[field]: False, pending: None})
        else:
            changes[pending] = value
    return update_user(user, apply_proofs(user, changes, proven))


@recorded("user.deactivated")
def deactivate_user(user: User) -> User:
    return update_user(user, {"is_active": False})


@recorded("user.reactivated")
def reactivate_user(user: User) -> User:
    return update_user(user, {"is_active": True})


@recorded("user.deleted")
def delete_user(user: User):
    user.delete()


@recorded("user.password_set")
def set_password(user: User, password: str):
    check_password_strength(password, user)
    user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    # A new password spends any reset token still outstanding.
    user.password_resets.filter(used_at__isnull=True).update(used_at=timezone.now())


def verify_password(user: User, password: str) -> bool:
    """Check a password in constant time; deactivated users never pass.

    A user without a usable password still costs one hash, so the answer's timing does not say
    whether a password is set.
    """
    if not user.has_usable_password():
        make_password(password)
        return False
    valid = user.check_password(password)  # upgrades an outdated hash on success
    return valid and user.is_active


@recorded("user.password_reset_issued")
def issue_password_reset(user: User, ttl_seconds: int | None = None) -> tuple[str, PasswordResetToken]:
    """A single-use reset token (Kanidm's credential-reset intent); only its hash is stored."""
    ttl = ttl_seconds or settings.PASSWORD_RESET_TTL_SECONDS
    if not 60 <= ttl <= settings.PASSWORD_RESET_MAX_TTL_SECONDS:
        raise ValidationError({"ttl_seconds": f"Between 60 and {settings.PASSWORD_RESET_MAX_TTL_SECONDS} seconds."})
    token = secrets.token_urlsafe(32)
    reset = PasswordResetToken.objects.create(
        user=user, token_hash=_sha256(token), expires_at=timezone.now() + timedelta(seconds=ttl)
    )
    return token, reset


@transaction.atomic
def redeem_password_reset(tenant: Tenant, token: str, password: str) -> User:
    """Spend a reset token and set the password; the token cannot be spent twice, even concurrently."""
    now = timezone.now()
    reset = (
        PasswordResetToken.objects.select_for_update()
        .select_related("user")
        .filter(token_hash=_sha256(token or ""), user__tenant=tenant, used_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if reset is None or not reset.user.is_active:
        raise ValidationError({"token": "This reset token is unknown, used or expired: ask for a new one."})
    check_password_strength(password, reset.user)
    set_password(reset.user, password)
    return reset.user


def record_login(user: User, *, client: str = "", ip: str | None = None) -> UserLogin:
    """Upsert the user's login row; concurrent first logins meet at the primary key."""
    now = timezone.now()
    values = {"last_login_at": now, "last_client": client[:255], "last_ip": ip or None}
    if UserLogin.objects.filter(user=user).update(login_count=F("login_count") + 1, **values):
        return UserLogin.objects.get(user=user)
    try:
        with transaction.atomic():
            return UserLogin.objects.create(user=user, login_count=1, **values)
    except IntegrityError:
        UserLogin.objects.filter(user=user).update(login_count=F("login_count") + 1, **values)
        return UserLogin.objects.get(user=user)


# --- roles ------------------------------------------------------------------------------------


@recorded("role.created")
def create_role(tenant: Tenant, name: str, description: str = "") -> Role:
    return save_unique(Role(tenant=tenant, name=validate_name(name, "role"), description=description))


@recorded("role.deleted")
def delete_role(role: Role):
    role.delete()


def _roles_by_name(tenant: Tenant, names: list[str]) -> list[Role]:
    roles = list(Role.objects.filter(tenant=tenant, name__in=set(names)))
    missing = sorted(set(names) - {r.name for r in roles})
    if missing:
        raise ValidationError({"roles": f"Unknown roles: {', '.join(missing)}. Create them first."})
    return roles


@transaction.atomic
@recorded("user.roles_changed", also=["roles"])
def set_user_roles(user: User, names: list[str]):
    user.roles.set(_roles_by_name(user.tenant, names))
    User.objects.filter(pk=user.pk).update(updated_at=timezone.now())


@recorded("user.roles_changed", also=["roles"])
def add_user_role(user: User, role: Role):
    user.roles.add(role)


@recorded("user.roles_changed", also=["roles"])
def remove_user_role(user: User, role: Role):
    user.roles.remove(role)


# --- groups -----------------------------------------------------------------------------------


@recorded("group.created")
def create_group(tenant: Tenant, name: str, parent: Group | None = None, external_id: str | None = None) -> Group:
    name = validate_name(name, "group")
    if parent is not None and parent.tenant_id != tenant.id:
        raise NotFound("No such parent group.")
    path = f"{parent.path if parent else ''}/{name}"
    return save_unique(Group(tenant=tenant, name=name, parent=parent, path=path, external_id=external_id))


@transaction.atomic
@recorded("group.updated")
def update_group(group: Group, changes: dict) -> Group:
    """Rename a group (its subgroups' paths follow) or change its `external_id`."""
    if "external_id" in changes:
        group.external_id = changes["external_id"]
    old_path = group.path
    if "name" in changes:
        group.name = validate_name(changes["name"], "group")
        group.path = f"{group.path.rpartition('/')[0]}/{group.name}"
    save_unique(group)
    if group.path != old_path:
        Group.objects.filter(tenant_id=group.tenant_id, path__startswith=f"{old_path}/").update(
            path=Concat(Value(group.path), Substr("path", len(old_path) + 1)))
    return group


@recorded("group.deleted")
def delete_group(group: Group):
    """Subgroups go with their parent, as in Keycloak."""
    group.delete()


@transaction.atomic
@recorded("user.groups_changed", also=["identity_groups"])
def set_user_groups(user: User, paths: list[str]):
    groups = list(Group.objects.filter(tenant=user.tenant, path__in=set(paths)))
    missing = sorted(set(paths) - {g.path for g in groups})
    if missing:
        raise ValidationError({"groups": f"Unknown groups: {', '.join(missing)}. Create them first."})
    user.identity_groups.set(groups)
    User.objects.filter(pk=user.pk).update(updated_at=timezone.now())


@recorded("user.groups_changed", also=["identity_groups"])
def add_user_group(user: User, group: Group):
    user.identity_groups.add(group)


@recorded("user.groups_changed", also=["identity_groups"])
def remove_user_group(user: User, group: Group):
    user.identity_groups.remove(group)


# --- the operators' tenant --------------------------------------------------------------------
# Operators' rights (staff, superuser) never derive from data that a customer tenant's tokens can
# write: only users of the operators' tenant can be operators, and no `/v1` credential writes that
# tenant's users, roles, groups or passwords (`identity.api.viewsets.TenantViewSet`). Its realm
# still signs operators in through the provider, which needs reads, password checks and login records.

OPERATORS_MANAGED_IN_ADMIN = ("Operators are managed in the admin: the users, roles, groups and passwords of the "
                              "operators' tenant cannot be changed through /v1.")


def operators_tenant() -> Tenant | None:
    return Tenant.objects.filter(is_operators=True).first()


def writes_refused(tenant: Tenant | None) -> str | None:
    """Why a `/v1` credential of `tenant` may not write, or None when it may."""
    return OPERATORS_MANAGED_IN_ADMIN if tenant is not None and tenant.is_operators else None


@transaction.atomic
@recorded("tenant.made_operators")
def make_operators_tenant(tenant: Tenant) -> Tenant:
    """Make `tenant` the operators' tenant; the tenant that was, if another, becomes a customer's
    (its users lose the admin at their next request)."""
    Tenant.objects.filter(is_operators=True).exclude(pk=tenant.pk).update(is_operators=False)
    Tenant.objects.filter(pk=tenant.pk).update(is_operators=True)
    tenant.is_operators = True
    return tenant


# --- API clients ------------------------------------------------------------------------------

TOKEN_PREFIX = "idb_"
KNOWN_SCOPES = {scope for scope, _ in ApiClient.SCOPES}


@recorded("api_client.created")
def create_api_client(tenant: Tenant, name: str, scopes: list[str]) -> tuple[ApiClient, str]:
    """Create a client and return its token, which is never shown again."""
    unknown = sorted(set(scopes) - KNOWN_SCOPES)
    if unknown:
        raise ValidationError({"scopes": f"Unknown scopes: {', '.join(unknown)}."})
    key = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    client = save_unique(
        ApiClient(tenant=tenant, name=name, key=key, secret_hash=_sha256(secret), scopes=sorted(set(scopes)))
    )
    return client, f"{TOKEN_PREFIX}{key}.{secret}"


# Validated clients by SHA-256 of their token, kept briefly so that a request costs no extra query.
# A revocation therefore reaches every process within API_CLIENT_CACHE_SECONDS.
_client_cache: dict[str, tuple[float, ApiClient]] = {}
_CLIENT_CACHE_SIZE = 1024


def authenticate_api_client(token: str) -> ApiClient | None:
    if not token.startswith(TOKEN_PREFIX) or "." not in token:
        return None
    digest = _sha256(token)
    cached = _client_cache.get(digest)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    client = _check_api_client(token)
    if client is not None and settings.API_CLIENT_CACHE_SECONDS > 0:
        if len(_client_cache) >= _CLIENT_CACHE_SIZE:
            _client_cache.clear()
        _client_cache[digest] = (time.monotonic() + settings.API_CLIENT_CACHE_SECONDS, client)
    return client


def _check_api_client(token: str) -> ApiClient | None:
    key, _, secret = token[len(TOKEN_PREFIX):].partition(".")
    client = ApiClient.objects.select_related("tenant").filter(key=key).first()
    if client is None or client.is_revoked:
        _sha256(secret)  # same work either way
        return None
    if not hmac.compare_digest(client.secret_hash, _sha256(secret)):
        return None
    now = timezone.now()
    resolution = timedelta(seconds=settings.API_CLIENT_LAST_USED_RESOLUTION_SECONDS)
    if client.last_used_at is None or now - client.last_used_at > resolution:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
    return client


@recorded("api_client.revoked")
def revoke_api_client(client: ApiClient):
    if client.revoked_at is None:
        client.revoked_at = timezone.now()
        client.save(update_fields=["revoked_at"])
    forget_cached_clients()


def forget_cached_clients():
    """After a revocation or a scope change: this process forgets at once, others within
    API_CLIENT_CACHE_SECONDS."""
    _client_cache.clear()
