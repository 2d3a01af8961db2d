"""Writing events: one outbox row per message, in the transaction of the change.

Two ways in, both inside the change's transaction:
- every change that `audit.recording` records reaches `on_recorded`, which publishes the messages
  `catalogue.FROM_ACTIONS` names for its action: the services' recorded functions need no code of
  their own, and a change the audit trail holds is a change the consumers hear of;
- services whose changes are not recorded (follows, fan profiles and media, logins, redeemed
  codes) call `publish` themselves.

A change that rolls back takes its rows with it. The rows are written whether or not a broker is
configured; the relay publishes them when there is one.

The relays are woken after the commit, by a NOTIFY of its own that does not wait for its WAL flush:
a NOTIFY inside the change's transaction would hold PostgreSQL's cluster-wide notification lock
through that transaction's flush, so that no two writes could commit at once (about 200 a second
on a disk that flushes in 5 ms). A NOTIFY lost with a crash costs one polling interval.
"""

from django.db import connection, transaction
from django.utils import timezone

from .catalogue import BY_NAME, FROM_ACTIONS
from .models import OutboxEvent

CHANNEL = "events_outbox"  # what the relays LISTEN on

_slugs: dict = {}


def forget_tenant_slugs(**kwargs):
    """After a tenant is saved (connected to the `post_save` of tenants)."""
    _slugs.clear()


def tenant_slug(tenant_id) -> str:
    """Slugs are the tenants' realm names and seldom change; a process asks once per tenant, and
    again after it saves one."""
    slug = _slugs.get(tenant_id)
    if slug is None:
        from users.models import Tenant

        slug = _slugs[tenant_id] = Tenant.objects.values_list("slug", flat=True).get(pk=tenant_id)
    return slug


def publish(name: str, *, tenant_id, subject, payload: dict, routing_key: str | None = None) -> OutboxEvent:
    """Queue message `name` about `subject` (a user or profile id: ce-subject, and the aggregate
    whose order is kept), in the caller's transaction: services call it inside their change's."""
    message = BY_NAME[name]
    event = OutboxEvent.objects.create(
        tenant=tenant_slug(tenant_id), aggregate_type=message.aggregate, aggregate_id=str(subject), type=name,
        exchange=message.exchange, routing_key=routing_key or message.key, payload=payload,
    )
    if not any(func is wake_relays for _, func, _ in connection.run_on_commit):
        transaction.on_commit(wake_relays, robust=True)  # once per transaction; a failure is only logged
    return event


def wake_relays():
    """After a commit that wrote outbox rows: a transaction of its own, so that its commit waits
    for no flush while it holds the notification lock."""
    with connection.cursor() as cursor:
        cursor.execute(f"BEGIN; SET LOCAL synchronous_commit TO OFF; NOTIFY {CHANNEL}; COMMIT")


# --- payloads of recorded changes ------------------------------------------------------------
# Actions whose rows may record no change at all (a repeat); those publish nothing.
_ONLY_WHEN_CHANGED = {
    "user.updated", "user.roles_changed", "user.groups_changed", "group.updated", "celebrity.updated",
    "celebrity.restored", "celebrity.deletion_toggled", "fan.updated", "referral_code.updated",
    "index_element.updated",
}


def _iso(value):
    return value.isoformat() if value is not None else None


def _user(user, tenant):
    return {"userId": str(user.id), "tenant": tenant, "username": user.username, "email": user.email,
            "emailVerified": user.email_verified, "phoneNumber": user.phone_number,
            "phoneVerified": user.phone_verified, "firstName": user.first_name, "lastName": user.last_name,
            "enabled": user.is_active}


def _celebrity(profile, tenant):
    return {"userId": str(profile.pk), "tenant": tenant, "displayName": profile.display_name,
            "firstName": profile.first_name, "lastName": profile.last_name, "bio": profile.bio,
            "status": profile.status, "celebProfileType": profile.celeb_profile_type, "storeCode": profile.store_code,
            "companyName": profile.company_name, "title": profile.title, "profileVideo": profile.profile_video,
            "isDeleted": profile.is_deleted}


def _changed(changes):
    return sorted(changes)


def _payloads(name, action, obj, event, tenant):
    """(subject, payload) of message `name` for the recorded `event` about `obj`."""
    changes, object_id = event.changes, event.object_id
    verb = action.partition(".")[2]
    ref = {"userId": object_id, "tenant": tenant}
    match name:
        case "UserCreated":
            return object_id, _user(obj, tenant)
        case "UserPiiUpdated":
            return object_id, {**_user(obj, tenant), "changedFields": _changed(changes)}
        case "UserDeactivated" | "UserReactivated" | "UserDeleted" | "UserPasswordChanged":
            return object_id, ref
        case "UserPasswordResetIssued":
            reset = obj.password_resets.order_by("-created_at").first()
            return object_id, {**ref, "expiresAt": _iso(reset.expires_at)}
        case "UserRolesChanged":
            roles = changes.get("roles", {}).get("new")
            return object_id, {**ref, "roles": roles if roles is not None else sorted(
                obj.roles.values_list("name", flat=True))}
        case "UserGroupsChanged":
            groups = changes.get("identity_groups", {}).get("new")
            return object_id, {**ref, "groups": groups if groups is not None else sorted(
                obj.identity_groups.values_list("path", flat=True))}
        case "RoleCreated":
            return object_id, {"roleId": object_id, "tenant": tenant, "name": obj.name, "description": obj.description}
        case "RoleDeleted":
            return object_id, {"roleId": object_id, "tenant": tenant, "name": obj.name}
        case "GroupCreated" | "GroupUpdated":
            return object_id, {"groupId": object_id, "tenant": tenant, "name": obj.name, "path": obj.path,
                               "parentId": str(obj.parent_id) if obj.parent_id else None}
        case "GroupDeleted":
            return object_id, {"groupId": object_id, "tenant": tenant, "name": obj.name, "path": obj.path}
        case "ApiClientChanged":
            return object_id, {"id": object_id, "tenant": tenant, "change": verb, "name": obj.name,
                               "scopes": list(obj.scopes)}
        case "OperatorsTenantChanged":
            return object_id, {"tenant": tenant}
        case "CelebrityProfileCreated":
            return object_id, _celebrity(obj, tenant)
        case "CelebrityProfileUpdated":
            profile = obj if action == "celebrity.updated" else obj.celebrity
            fields = _changed(changes) if action == "celebrity.updated" else ["shortlinks"]
            return str(profile.pk), {**_celebrity(profile, tenant), "changedFields": fields}
        case "CreateSseGroup":
            return object_id, {"groupId": object_id, "tenant": tenant, "celebrityUserId": object_id}
        case "CelebrityProfileSoftDeleteFlagToggled":
            return object_id, {"userId": object_id, "tenant": tenant, "isDeleted": obj.is_deleted,
                               "deletedOn": _iso(obj.deleted_on),
                               "deletedBy": str(obj.deleted_by_id) if obj.deleted_by_id else None}
        case "ReferralCodeChanged":
            return object_id, {"id": object_id, "tenant": tenant, "change": verb, "code": obj.code,
                               "limit": obj.limit, "used": obj.used,
                               "assignedTo": str(obj.assigned_to_id) if obj.assigned_to_id else None}
        case "FanProfileUpdated":
            return object_id, {**ref, "changedFields": _changed(changes)}
        case "GlobalPreferenceSet":
            return str(event.tenant_id), {"tenant": tenant, "type": obj.type, "value": obj.preference_value}
        case "IndexPageChanged":
            return str(event.tenant_id), {"id": object_id, "tenant": tenant, "change": verb}
    raise LookupError(f"No payload for {name}")


def on_recorded(event, obj):
    """`audit.recording`'s listener: the messages of a recorded change."""
    names = FROM_ACTIONS.get(event.action)
    if names is None or (not event.changes and event.action in _ONLY_WHEN_CHANGED):
        return
    tenant = tenant_slug(event.tenant_id)
    for name in (names,) if isinstance(names, str) else names:
        subject, payload = _payloads(name, event.action, obj, event, tenant)
        publish(name, tenant_id=event.tenant_id, subject=subject, payload=payload)


# --- payloads of changes the services publish themselves ---------------------------------------


def keycloak_event(kind: str, user, *, client: str = "", ip: str | None = None):
    """A Keycloak REGISTER or LOGIN event, as Keycloak's RabbitMQ listeners publish them."""
    realm = tenant_slug(user.tenant_id)
    now = timezone.now()
    client = client or "unknown"
    publish("KeycloakEvent", tenant_id=user.tenant_id, subject=user.pk,
            routing_key=f"KK.EVENT.CLIENT.{realm}.SUCCESS.{client}.{kind}",
            payload={"id": f"{user.pk}-{kind.lower()}-{int(now.timestamp() * 1000)}",
                     "time": int(now.timestamp() * 1000), "type": kind, "realmId": realm, "clientId": client,
                     "userId": str(user.pk), "ipAddress": ip, "details": {"username": user.username}})


def follow_event(name: str, fan, celebrity, when, metadata: str | None = None):
    payload = {"fanUserId": str(fan.pk), "celebrityUserId": str(celebrity.pk), "tenant": tenant_slug(fan.tenant_id),
               "time": _iso(when)}
    if metadata is not None:
        payload["metadata"] = metadata
    publish(name, tenant_id=fan.tenant_id, subject=fan.pk, payload=payload)


def referral_event(referral, change: str):
    publish("ReferralCodeChanged", tenant_id=referral.tenant_id, subject=referral.pk,
            payload={"id": str(referral.pk), "tenant": tenant_slug(referral.tenant_id), "change": change,
                     "code": referral.code, "limit": referral.limit, "used": referral.used,
                     "assignedTo": str(referral.assigned_to_id) if referral.assigned_to_id else None})


def fan_event(name: str, fan, **more):
    publish(name, tenant_id=fan.tenant_id, subject=fan.pk,
            payload={"userId": str(fan.pk), "tenant": tenant_slug(fan.tenant_id), **more})
