"""The SCIM resources this backend serves, as scim2-models classes.

Only what a backend user can hold is published: a client then learns from `/Schemas` what is kept,
and anything else is refused rather than silently dropped. The published schemas are generated
from these classes, so the two cannot drift apart.

- One e-mail address (type `work`) and one phone number (type `mobile`): the user's `email` and
  `phone_number` columns. Other types are refused.
- `name` is `givenName` and `familyName` (the first and last name columns).
- `active` is required: the backend always knows whether a user is active and has no "unassigned"
  state for it. A create or replace without it means active.
- `displayName`, `nickName`, `title`, `userType`, `preferredLanguage`, `locale`, `timezone` and
  the enterprise fields are kept in `attributes` under their SCIM names, where Keycloak's mappers
  see them too (see `scim.mapping`).
- Group members are users; groups are not members of groups here (the backend nests groups by
  parent, not by membership).
"""

from typing import Annotated, Any, ClassVar

from django.conf import settings
from pydantic import Field
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    ComplexAttribute,
    ETag,
    ExtensibleStringEnum,
    Extension,
    Filter,
    Mutability,
    Pagination,
    Patch,
    Reference,
    Required,
    Resource,
    Returned,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)
from scim2_models.urn import URN

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class Name(ComplexAttribute):
    given_name: str | None = None
    """The first name."""

    family_name: str | None = None
    """The last name."""


class Email(ComplexAttribute):
    class Type(ExtensibleStringEnum):
        work = "work"

    value: str | None = None
    """The user's e-mail address, stored in lower case."""

    type: Type | None = None
    """Always `work`: the backend keeps one address."""

    primary: Annotated[bool | None, Mutability.read_only, Returned.request] = None
    """Always true: the one address is the primary one (returned when asked for)."""


class PhoneNumber(ComplexAttribute):
    class Type(ExtensibleStringEnum):
        mobile = "mobile"

    value: str | None = None
    """The user's mobile number, stored in E.164 (`+15551234567`)."""

    type: Type | None = None
    """Always `mobile`: the backend keeps the one number it can text."""

    primary: Annotated[bool | None, Mutability.read_only, Returned.request] = None
    """Always true: the one number is the primary one (returned when asked for)."""


class GroupMembership(ComplexAttribute):
    value: Annotated[str | None, Mutability.read_only, CaseExact.true] = None
    """The id of a group the user is a member of."""

    ref: Annotated[Reference["Group"] | None, Mutability.read_only] = Field(
        None, serialization_alias="$ref", validation_alias="$ref")

    display: Annotated[str | None, Mutability.read_only] = None
    """The group's name."""

    type: Annotated[str | None, Mutability.read_only] = Field(None, examples=["direct"])
    """Always `direct`."""


class Manager(ComplexAttribute):
    value: Annotated[str | None, CaseExact.true] = None
    """The id of the manager, a user of the same tenant."""

    ref: Reference["User"] | None = Field(None, serialization_alias="$ref", validation_alias="$ref")


class EnterpriseUser(Extension):
    __schema__ = URN(ENTERPRISE_SCHEMA)

    employee_number: str | None = None
    cost_center: str | None = None
    organization: str | None = None
    division: str | None = None
    department: str | None = None
    manager: Manager | None = None


class User(Resource[Any]):
    __schema__ = URN(USER_SCHEMA)

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = None
    """The username: lower-cased, unique in the tenant."""

    name: Name | None = None
    Name: ClassVar[type[ComplexAttribute]] = Name

    display_name: str | None = None
    nick_name: str | None = None
    title: str | None = None
    user_type: str | None = None
    preferred_language: str | None = None
    locale: str | None = None
    timezone: str | None = None

    active: Annotated[bool | None, Required.true] = None
    """Whether the user may sign in (Keycloak's "enabled")."""

    emails: list[Email] | None = None
    Emails: ClassVar[type[ComplexAttribute]] = Email

    phone_numbers: list[PhoneNumber] | None = None
    PhoneNumbers: ClassVar[type[ComplexAttribute]] = PhoneNumber

    groups: Annotated[list[GroupMembership] | None, Mutability.read_only] = None
    Groups: ClassVar[type[ComplexAttribute]] = GroupMembership


class GroupMember(ComplexAttribute):
    class Type(ExtensibleStringEnum):
        user = "User"

    value: Annotated[str | None, Mutability.immutable, CaseExact.true] = None
    """The id of a member user."""

    ref: Annotated[Reference["User"] | None, Mutability.immutable] = Field(
        None, serialization_alias="$ref", validation_alias="$ref")

    type: Annotated[Type | None, Mutability.immutable] = None
    """Always `User`."""


class Group(Resource[Any]):
    __schema__ = URN(GROUP_SCHEMA)

    display_name: Annotated[str | None, Required.true] = None
    """The group's name; groups created here are top-level groups."""

    members: list[GroupMember] | None = None
    Members: ClassVar[type[ComplexAttribute]] = GroupMember


def service_provider_config() -> ServiceProviderConfig:
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=settings.SCIM_MAX_PAGE_SIZE),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        pagination=Pagination(
            cursor=False, index=True, default_pagination_method=Pagination.DefaultPaginationMethod.index,
            default_page_size=settings.SCIM_DEFAULT_PAGE_SIZE, max_page_size=settings.SCIM_MAX_PAGE_SIZE),
        authentication_schemes=[AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken, name="API client token",
            description="An API client token with the `scim` scope, created by an operator in the admin.",
            primary=True)],
    )
