"""Every message this backend publishes or consumes, written once: the outbox builds payloads from
it, the command consumer reads commands by it, and `identity/asyncapi.yaml` is generated from it
(`make schema`; a test compares them).

Exchanges and message names are those the former services used (users, celebrity, fans, sse,
keycloak.events); every exchange is a durable topic exchange and a message's routing key is its
name, except Keycloak's events, whose keys follow the RabbitMQ event listener Keycloak setups use
(`KK.EVENT.CLIENT.<realm>.<SUCCESS|ERROR>.<client>.<TYPE>`). Messages the former services left
without a known payload, and those added for changes they never announced, are designed here.
"""

from dataclasses import dataclass, field

STRING = {"type": "string"}
UUID = {"type": "string", "format": "uuid"}
BOOLEAN = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_STRING = {"type": ["string", "null"]}
STRINGS = {"type": "array", "items": {"type": "string"}}

EXCHANGES = {
    "users": "Users, roles, groups and API clients; the commands the backend consumes.",
    "celebrity": "Celebrity profiles.",
    "fans": "Fan profiles and follows.",
    "sse": "Commands for the SSE service's groups.",
    "keycloak.events": "Keycloak's user events (registrations and logins), as reported by its listener.",
}


@dataclass(frozen=True)
class Message:
    name: str
    exchange: str
    aggregate: str  # what ce-subject names: user, celebrity, fan, role, group, tenant…
    summary: str
    fields: dict  # payload field -> JSON schema; all are always present
    command: bool = False  # consumed by the backend, not published
    routing_key: str = ""  # the name when empty
    optional: frozenset = field(default_factory=frozenset)  # fields a command may leave out

    @property
    def key(self) -> str:
        return self.routing_key or self.name


def _user_fields(**more):
    return {"userId": UUID, "tenant": STRING, "username": STRING, "email": NULLABLE_STRING, "emailVerified": BOOLEAN,
            "phoneNumber": NULLABLE_STRING, "phoneVerified": BOOLEAN, "firstName": STRING, "lastName": STRING,
            "enabled": BOOLEAN, **more}


_CHANGED = {"changedFields": STRINGS}
_USER_REF = {"userId": UUID, "tenant": STRING}
_CELEBRITY = {"userId": UUID, "tenant": STRING, "displayName": STRING, "firstName": STRING, "lastName": STRING,
              "bio": STRING, "status": STRING, "celebProfileType": STRING, "storeCode": NULLABLE_STRING,
              "companyName": STRING, "title": STRING, "profileVideo": STRING, "isDeleted": BOOLEAN}
_FOLLOW = {"fanUserId": UUID, "celebrityUserId": UUID, "tenant": STRING, "time": TIME}
_TENANT_OBJECT = {"id": STRING, "tenant": STRING, "change": STRING}

MESSAGES = [
    # users
    Message("UserCreated", "users", "user", "A user was created (API, admin, SCIM, Keycloak registration).",
            _user_fields()),
    Message("UserPiiUpdated", "users", "user", "A user's personal data or flags changed; `changedFields` names them.",
            _user_fields(**_CHANGED)),
    Message("UserDeactivated", "users", "user", "A user was deactivated: no sign-in, no token.", _USER_REF),
    Message("UserReactivated", "users", "user", "A deactivated user was reactivated.", _USER_REF),
    Message("UserDeleted", "users", "user", "A user and its profiles were deleted.", _USER_REF),
    Message("UserPasswordChanged", "users", "user", "A user's password was set (never the password itself).",
            _USER_REF),
    Message("UserPasswordResetIssued", "users", "user", "A single-use password reset token was issued.",
            {**_USER_REF, "expiresAt": TIME}),
    Message("UserRolesChanged", "users", "user", "A user's roles changed; `roles` is the new list.",
            {**_USER_REF, "roles": STRINGS}),
    Message("UserGroupsChanged", "users", "user", "A user's groups changed; `groups` is the new list of paths.",
            {**_USER_REF, "groups": STRINGS}),
    Message("RoleCreated", "users", "role", "A role was created.",
            {"roleId": STRING, "tenant": STRING, "name": STRING, "description": STRING}),
    Message("RoleDeleted", "users", "role", "A role was deleted (users lose it).",
            {"roleId": STRING, "tenant": STRING, "name": STRING}),
    Message("GroupCreated", "users", "group", "A group was created.",
            {"groupId": UUID, "tenant": STRING, "name": STRING, "path": STRING, "parentId": NULLABLE_STRING}),
    Message("GroupUpdated", "users", "group", "A group was renamed (its subgroups' paths follow) or its external id changed.",
            {"groupId": UUID, "tenant": STRING, "name": STRING, "path": STRING, "parentId": NULLABLE_STRING}),
    Message("GroupDeleted", "users", "group", "A group and its subgroups were deleted.",
            {"groupId": UUID, "tenant": STRING, "name": STRING, "path": STRING}),
    Message("ApiClientChanged", "users", "api_client", "An API client was created or revoked (never its secret).",
            {**_TENANT_OBJECT, "name": STRING, "scopes": STRINGS}),
    Message("OperatorsTenantChanged", "users", "tenant", "This tenant became the operators' tenant.",
            {"tenant": STRING}),
    # commands consumed from `users`
    Message("AddRoleToUser", "users", "user", "Command: give a user a role of its tenant (the role must exist).",
            {"userId": UUID, "role": STRING}, command=True),
    Message("UpdateUserPii", "users", "user",
            "Command: change a user's personal data; fields left out stay as they are, null clears.",
            {"userId": UUID, "firstName": STRING, "lastName": STRING, "email": NULLABLE_STRING,
             "phoneNumber": NULLABLE_STRING}, command=True,
            optional=frozenset({"firstName", "lastName", "email", "phoneNumber"})),
    # celebrity
    Message("CelebrityProfileCreated", "celebrity", "celebrity", "A user got a celebrity profile.", _CELEBRITY),
    Message("CelebrityProfileUpdated", "celebrity", "celebrity",
            "A celebrity profile changed (fields, pictures, store code, short links); `changedFields` names them.",
            {**_CELEBRITY, **_CHANGED}),
    Message("CelebrityProfileSoftDeleteFlagToggled", "celebrity", "celebrity",
            "A celebrity profile was soft-deleted or restored.",
            {"userId": UUID, "tenant": STRING, "isDeleted": BOOLEAN, "deletedOn": {"type": ["string", "null"], "format": "date-time"},
             "deletedBy": NULLABLE_STRING}),
    Message("ReferralCodeChanged", "celebrity", "referral_code",
            "A referral code was created, updated, assigned, redeemed, reset or deleted (`change`).",
            {**_TENANT_OBJECT, "code": STRING, "limit": {"type": "integer"}, "used": {"type": "integer"},
             "assignedTo": NULLABLE_STRING}),
    Message("IndexPageChanged", "celebrity", "index_page",
            "An element of the tenant's home page was created, updated, deleted, or the page reordered (`change`).",
            _TENANT_OBJECT),
    Message("GlobalPreferenceSet", "celebrity", "preference", "A tenant-wide preference was set.",
            {"tenant": STRING, "type": STRING, "value": STRING}),
    # fans
    Message("FanProfileCreated", "fans", "fan", "Every new user gets a fan profile.", _USER_REF),
    Message("FanProfileUpdated", "fans", "fan", "A fan profile changed; `changedFields` names the fields.",
            {**_USER_REF, **_CHANGED}),
    Message("CelebrityFollowed", "fans", "fan", "A fan followed a celebrity (a repeat publishes nothing).",
            {**_FOLLOW, "metadata": STRING}),
    Message("CelebrityUnfollowed", "fans", "fan", "A fan stopped following a celebrity.", _FOLLOW),
    Message("FanMediaChanged", "fans", "fan", "A fan saved or removed a medium (`change`: saved, removed).",
            {**_USER_REF, "mediaId": STRING, "change": STRING}),
    # sse
    Message("CreateSseGroup", "sse", "celebrity", "Command to SSE: a group for a new celebrity's fans.",
            {"groupId": UUID, "tenant": STRING, "celebrityUserId": UUID}),
    Message("AddUserToSseGroup", "sse", "fan", "Command to SSE: a fan who followed joins the celebrity's group.",
            {"groupId": UUID, "tenant": STRING, "userId": UUID}),
    # keycloak.events
    Message("KeycloakEvent", "keycloak.events", "user",
            "Keycloak's REGISTER and LOGIN events, in the shape of Keycloak's event representation.",
            {"id": STRING, "time": {"type": "integer", "description": "Milliseconds since the epoch."},
             "type": {"type": "string", "enum": ["REGISTER", "LOGIN"]}, "realmId": STRING, "clientId": STRING,
             "userId": UUID, "ipAddress": NULLABLE_STRING, "details": {"type": "object"}},
            routing_key="KK.EVENT.CLIENT.{realm}.SUCCESS.{clientId}.{type}"),
]
BY_NAME = {m.name: m for m in MESSAGES}

# Recorded service actions (`audit.recording.recorded`) -> the message each publishes.
FROM_ACTIONS = {
    "user.created": "UserCreated",
    "user.updated": "UserPiiUpdated",
    "user.deactivated": "UserDeactivated",
    "user.reactivated": "UserReactivated",
    "user.deleted": "UserDeleted",
    "user.password_set": "UserPasswordChanged",
    "user.password_reset_issued": "UserPasswordResetIssued",
    "user.roles_changed": "UserRolesChanged",
    "user.groups_changed": "UserGroupsChanged",
    "role.created": "RoleCreated",
    "role.deleted": "RoleDeleted",
    "group.created": "GroupCreated",
    "group.updated": "GroupUpdated",
    "group.deleted": "GroupDeleted",
    "api_client.created": "ApiClientChanged",
    "api_client.revoked": "ApiClientChanged",
    "tenant.made_operators": "OperatorsTenantChanged",
    "celebrity.created": ("CelebrityProfileCreated", "CreateSseGroup"),
    "celebrity.updated": "CelebrityProfileUpdated",
    "celebrity_shortlink.created": "CelebrityProfileUpdated",
    "celebrity.deletion_toggled": "CelebrityProfileSoftDeleteFlagToggled",
    "celebrity.restored": "CelebrityProfileSoftDeleteFlagToggled",
    "referral_code.created": "ReferralCodeChanged",
    "referral_code.updated": "ReferralCodeChanged",
    "referral_code.deleted": "ReferralCodeChanged",
    "referral_code.assigned": "ReferralCodeChanged",
    "referral_code.usage_reset": "ReferralCodeChanged",
    "fan.updated": "FanProfileUpdated",
    "preference.set": "GlobalPreferenceSet",
    "index_element.created": "IndexPageChanged",
    "index_element.updated": "IndexPageChanged",
    "index_element.deleted": "IndexPageChanged",
    "index_page.reordered": "IndexPageChanged",
}
