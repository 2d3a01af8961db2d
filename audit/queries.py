"""Reads of the audit trail: the one place that builds its SQL.

A tenant's events newest first are a walk of `audit_by_tenant_time`; those of one object a walk
of `audit_by_object`. Filters on actor kind and action are conditions on that walk.
"""

from django.db.models import QuerySet

from users.models import Tenant

from .models import AuditEvent


def tenant_events(tenant: Tenant, *, object_id: str | None = None, actor_kind: str | None = None,
                  action: str | None = None, since=None, until=None) -> QuerySet:
    """The tenant's events, `since` <= time < `until`; the caller orders them."""
    events = AuditEvent.objects.filter(tenant=tenant)
    if object_id:
        events = events.filter(object_id=object_id)
    if actor_kind:
        events = events.filter(actor_kind=actor_kind)
    if action:
        events = events.filter(action=action)
    if since is not None:
        events = events.filter(time__gte=since)
    if until is not None:
        events = events.filter(time__lt=until)
    return events
