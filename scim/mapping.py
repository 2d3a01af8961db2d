"""Backend users and groups as SCIM resources, and SCIM resources as the fields services take.

| SCIM | backend |
|---|---|
| `id` | `User.id` (the UUID every service and token uses) |
| `userName` | `username` (lower-cased, unique in the tenant) |
| `externalId` | `external_id` (unique in the tenant when set) |
| `name.givenName`, `name.familyName` | `first_name`, `last_name` |
| `active` | `is_active` (Keycloak's "enabled") |
| `emails[type eq "work"].value` | `email` (lower-cased, unique in the tenant) |
| `phoneNumbers[type eq "mobile"].value` | `phone_number` (E.164, unique in the tenant) |
| `displayName`, `nickName`, `title`, `userType`, `preferredLanguage`, `locale`, `timezone` | `attributes[<same name>]` |
| enterprise `employeeNumber`, `costCenter`, `organization`, `division`, `department` | `attributes[<same name>]` |
| enterprise `manager.value` | `attributes["manager"]`: the id of a user of the tenant |
| `groups` (read-only) | the user's groups |
| `meta.version` | a weak ETag of `updated_at` and of the user's groups |

Attributes that are not SCIM's (set through `/v1` or Keycloak) are kept as they are by SCIM writes.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from scim2_models import InvalidValueException, Meta

from users import services
from users.models import Group, User

from . import schemas
from .filters import USER_ATTRIBUTES

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CORE_ATTRIBUTES = {"displayName": "display_name", "nickName": "nick_name", "title": "title", "userType": "user_type",
                   "preferredLanguage": "preferred_language", "locale": "locale", "timezone": "timezone"}
ENTERPRISE_ATTRIBUTES = {"employeeNumber": "employee_number", "costCenter": "cost_center",
                         "organization": "organization", "division": "division", "department": "department"}
MANAGED_ATTRIBUTES = frozenset(USER_ATTRIBUTES.values())
NAME_MAX_LENGTH = User._meta.get_field("first_name").max_length
EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length
EXTERNAL_ID_MAX_LENGTH = User._meta.get_field("external_id").max_length


def user_groups(user: User) -> list[tuple[Any, str]]:
    """`(id, name)` of the user's groups, read with the user (`queries.users_by_key`) or after."""
    if hasattr(user, "scim_group_ids"):
        return list(zip(user.scim_group_ids, user.scim_group_names))
    return [(group.pk, group.name) for group in user.identity_groups.all()]


def user_version(user: User) -> str:
    """Of `updated_at`, and of the user's groups, which change without touching the user's row."""
    version = f"{(user.updated_at - _EPOCH) // timedelta(microseconds=1):x}"
    groups = sorted(str(pk) for pk, _ in user_groups(user))
    if groups:
        version += "-" + hashlib.sha256(",".join(groups).encode()).hexdigest()[:12]
    return f'W/"{version}"'


def group_version(group: Group) -> str:
    """Groups have no modification time: the version is a digest of what makes the resource."""
    state = f"{group.name}\0{group.path}\0{group.external_id}\0{group.member_count}\0{group.last_membership}"
    return f'W/"{hashlib.sha256(state.encode()).hexdigest()[:20]}"'


# --- reading ----------------------------------------------------------------------------------


def user_resource(user: User, model: type) -> Any:
    attributes = user.attributes or {}

    def one(name):
        values = attributes.get(name)
        return values[0] if isinstance(values, list) and values else None

    resource = model(
        id=str(user.pk),
        external_id=user.external_id,
        user_name=user.username,
        name=schemas.Name(given_name=user.first_name or None, family_name=user.last_name or None)
        if user.first_name or user.last_name else None,
        active=user.is_active,
        emails=[schemas.Email(value=user.email, type="work", primary=True)] if user.email else None,
        phone_numbers=[schemas.PhoneNumber(value=user.phone_number, type="mobile", primary=True)]
        if user.phone_number else None,
        groups=[schemas.GroupMembership(value=str(pk), ref=f"Groups/{pk}", display=name, type="direct")
                for pk, name in user_groups(user)] or None,
        meta=Meta(resource_type="User", created=user.created_at, last_modified=user.updated_at,
                  version=user_version(user)),
        **{field: one(name) for name, field in CORE_ATTRIBUTES.items()},
    )
    enterprise = {field: one(name) for name, field in ENTERPRISE_ATTRIBUTES.items()}
    manager = one("manager")
    if manager:
        enterprise["manager"] = schemas.Manager(value=manager, ref=f"Users/{manager}")
    if any(value is not None for value in enterprise.values()):
        resource[schemas.EnterpriseUser] = schemas.EnterpriseUser(**enterprise)
    return resource


def group_resource(group: Group, model: type) -> Any:
    """`member_ids` is set when the members are wanted (see `queries.attach_members`)."""
    member_ids = getattr(group, "member_ids", None)
    return model(
        id=str(group.pk),
        external_id=group.external_id,
        display_name=group.name,
        members=[schemas.GroupMember(value=pk, ref=f"Users/{pk}", type="User") for pk in member_ids] or None
        if member_ids is not None else None,
        meta=Meta(resource_type="Group", created=group.created_at, last_modified=group.created_at,
                  version=group_version(group)),
    )


# --- writing ----------------------------------------------------------------------------------


def invalid(error: ValidationError | str) -> InvalidValueException:
    if isinstance(error, str):
        return InvalidValueException(detail=error)
    messages = ([f"{field}: {message}" for field, items in error.message_dict.items() for message in items]
                if hasattr(error, "error_dict") else error.messages)
    return InvalidValueException(detail=" ".join(messages))


def _text(value: str | None, what: str, max_length: int) -> str:
    value = (value or "").strip()
    if len(value) > max_length:
        raise invalid(f"{what} has at most {max_length} characters.")
    if "\x00" in value:
        raise invalid(f"{what} may not contain null characters.")
    return value


def _single(entries, kind: str, scim_name: str):
    """The value of the one e-mail address or phone number a user can have, or None."""
    entries = [entry for entry in entries or [] if entry.value]
    if len(entries) > 1:
        raise invalid(f"A user has one {scim_name} value here, of type {kind}.")
    if not entries:
        return None
    entry = entries[0]
    if entry.type is not None and str(entry.type).lower() != kind:
        raise invalid(f"Only {scim_name} of type {kind} are kept here, not {entry.type!s}.")
    return entry.value


def user_fields(resource, attributes: dict, manager_exists) -> dict:
    """The fields `services.create_user`/`update_user` take, from the whole new state of a user.

    `attributes` are the user's current ones: names SCIM does not manage are kept.
    `manager_exists(id)` says whether a manager id is a user of the tenant.
    """
    try:
        fields = {
            "username": services.normalise_username(resource.user_name),
            "email": services.normalise_email(_single(resource.emails, "work", "emails")),
            "phone_number": services.normalise_phone(_single(resource.phone_numbers, "mobile", "phoneNumbers")),
        }
    except ValidationError as error:
        raise invalid(error) from None
    if fields["email"] and len(fields["email"]) > EMAIL_MAX_LENGTH:
        raise invalid(f"An e-mail address has at most {EMAIL_MAX_LENGTH} characters.")
    name = resource.name
    fields["first_name"] = _text(name.given_name if name else None, "name.givenName", NAME_MAX_LENGTH)
    fields["last_name"] = _text(name.family_name if name else None, "name.familyName", NAME_MAX_LENGTH)
    fields["external_id"] = _text(resource.external_id, "externalId", EXTERNAL_ID_MAX_LENGTH) or None
    fields["is_active"] = resource.active if resource.active is not None else True

    managed = {name: getattr(resource, field) for name, field in CORE_ATTRIBUTES.items()}
    enterprise = resource[schemas.EnterpriseUser]
    if enterprise is not None:
        managed.update({name: getattr(enterprise, field) for name, field in ENTERPRISE_ATTRIBUTES.items()})
        manager = enterprise.manager.value if enterprise.manager else None
        if manager and not manager_exists(manager):
            raise invalid(f"The manager {manager!r} is not a user of this tenant.")
        managed["manager"] = manager
    for name, value in managed.items():
        if value is not None and "\x00" in value:
            raise invalid(f"{name} may not contain null characters.")
    kept = {name: values for name, values in (attributes or {}).items() if name not in MANAGED_ATTRIBUTES}
    try:
        fields["attributes"] = services.validate_attributes(
            {**kept, **{name: [value] for name, value in managed.items() if value not in (None, "")}})
    except ValidationError as error:
        raise invalid(error) from None
    return fields


def group_fields(resource) -> dict:
    return {
        "name": (resource.display_name or "").strip(),
        "external_id": _text(resource.external_id, "externalId", EXTERNAL_ID_MAX_LENGTH) or None,
    }


def member_ids(resource) -> set[str]:
    members = resource.members or []
    for member in members:
        if member.type is not None and str(member.type) != "User":
            raise invalid("Group members are users here; groups nest by parent, not by membership.")
        if not member.value:
            raise invalid("Each member needs the id of a user as its value.")
    return {member.value for member in members}
