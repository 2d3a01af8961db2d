"""Recording changes: the only place that writes `AuditEvent`.

Services mark each state-changing function with `@audit.recorded("<object type>.<verb>")`. The
wrapper takes the object's fields before the call, runs it, takes them again after, and inserts one
row with the difference, in the transaction of the change (it opens one when the caller has none):
a change that rolls back leaves no row, and a row that cannot be written undoes the change.

- The object is the function's first argument; for `*.created` actions, and with `subject=RESULT`,
  it is what the function returns (the first model instance of a returned tuple), and nothing is
  "before". `*.deleted` actions record the values the object had.
- `also` names many-to-many relations to compare as sorted lists of names (a query before and one
  after); `given` names arguments recorded as given (a new order, replaced pictures).
- A recorded call made inside another one on the same object is part of it (`deactivate_user`
  calls `update_user`): one row, with the outer action. Calls on other objects get their own rows.
- Secret fields (`audit.redaction`) are recorded by name only; automatic timestamps and counters
  are left out, as nobody changes them.

Every row written is also handed to the functions in `LISTENERS`, in the same transaction: the
events outbox (`events.outbox`) turns recorded changes into messages there, so a change is
published exactly when it is recorded.
"""

import copy
import functools
import inspect
from contextlib import nullcontext
from contextvars import ContextVar

from django.db import models, transaction

from . import context
from .models import AuditEvent
from .redaction import is_secret, redact

RESULT = "result"
# An instance an admin form has changed before a service saves it carries the row as it was read
# (`audit.admin_hooks.RowAsRead`): the service's call is compared with that, and with the row as
# saved, not with the instance.
AS_READ = "_audit_as_read"
IGNORED_FIELDS = frozenset({"last_login", "last_used_at", "follower_count"})
ACTIONS: set[str] = set()  # every action some code records: the admin's filter offers them
# `listener(event, obj)` for each row written, inside its transaction; an error undoes the change.
LISTENERS: list = []

_open: ContextVar["_Frame | None"] = ContextVar("audit_open_frame", default=None)


def snapshot(obj: models.Model, also=()) -> dict:
    """The object's recordable field values (foreign keys as ids), and the names in its `also` relations."""
    values = {}
    for f in obj._meta.concrete_fields:
        if f.primary_key or f.name in IGNORED_FIELDS or getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            continue
        value = getattr(obj, f.attname)
        values[f.name] = copy.deepcopy(value) if isinstance(value, dict | list) else value
    for name in also:
        values[name] = sorted(str(related) for related in getattr(obj, name).all())
    return values


def changes_between(before: dict | None, after: dict | None) -> dict:
    """`{field: {"old", "new"}}` of the fields that differ; `before` None for a creation, `after` None
    for a deletion (then every field is shown with its one value)."""
    changes = {}
    for name in dict.fromkeys([*(before or {}), *(after or {})]):
        old, new = (before or {}).get(name), (after or {}).get(name)
        if before is not None and after is not None and old == new:
            continue
        if is_secret(name):
            changes[name] = {"redacted": True}
            continue
        entry = {}
        if before is not None:
            entry["old"] = redact(old)
        if after is not None:
            entry["new"] = redact(new)
        changes[name] = entry
    return changes


def tenant_id_of(obj: models.Model):
    if obj._meta.label == "users.Tenant":
        return obj.pk
    tenant_id = getattr(obj, "tenant_id", None)
    if tenant_id is None:
        for owner in ("celebrity", "fan", "user"):
            related = getattr(obj, owner, None)
            if related is not None:
                return related.tenant_id
    return tenant_id


def record(action: str, obj: models.Model, changes: dict, *, object_id: str | None = None, tenant_id=None,
           once: bool = False) -> AuditEvent | None:
    """Insert one event for `obj`, by the current actor. With `once`, an event of the same action on
    the same object already recorded in this request is not repeated."""
    actor, origin = context.current()
    object_type = action.partition(".")[0]
    object_id = str(obj.pk) if object_id is None else object_id
    key = (action, object_type, object_id)
    if origin is not None:
        if once and key in origin.recorded:
            return None
        origin.recorded.add(key)
    event = AuditEvent.objects.create(
        tenant_id=tenant_id_of(obj) if tenant_id is None else tenant_id,
        actor_kind=actor.kind, actor_id=str(actor.id)[:64], actor_display=str(actor.display)[:255],
        action=action, object_type=object_type, object_id=object_id, changes=changes,
        ip=origin.ip if origin else None, request_id=origin.request_id if origin else "",
    )
    for listener in LISTENERS:
        listener(event, obj)
    return event


class _Frame:
    """A recorded call in progress, so that calls inside it on the same object fold into it."""

    def __init__(self, target):
        self.target = target

    def is_about(self, obj) -> bool:
        target = self.target
        return target is not None and (target is obj or (
            type(target) is type(obj) and target.pk is not None and target.pk == obj.pk))


def _first_instance(result):
    if isinstance(result, tuple):
        return next(item for item in result if isinstance(item, models.Model))
    return result


def recorded(action: str, *, subject: str | None = None, also=(), given=()):
    """Record every successful call of the decorated service function as `action` (see the module)."""
    ACTIONS.add(action)
    creates = subject == RESULT or action.endswith(".created")
    deletes = action.endswith(".deleted")

    def decorate(fn):
        signature = inspect.signature(fn)
        first = next(iter(signature.parameters))

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            arguments = signature.bind(*args, **kwargs).arguments
            target = None if creates else arguments[first]
            outer = _open.get()
            if outer is not None and target is not None and outer.is_about(target):
                return fn(*args, **kwargs)
            in_transaction = transaction.get_connection().in_atomic_block
            with nullcontext() if in_transaction else transaction.atomic():
                before = object_id = tenant_id = None
                read = getattr(target, AS_READ, None)
                if target is not None:
                    before, object_id, tenant_id = snapshot(target, also), str(target.pk), tenant_id_of(target)
                    if read:
                        before.update({name: read[name] for name in before if name in read})
                token = _open.set(_Frame(target))
                try:
                    result = fn(*args, **kwargs)
                finally:
                    _open.reset(token)
                obj = _first_instance(result) if creates else target
                after = None
                if not deletes:
                    after = snapshot(obj if read is None else type(obj)._base_manager.get(pk=obj.pk), also)
                if read is not None:
                    setattr(target, AS_READ, {**read, **(after or {})})
                changes = changes_between(before, after)
                for name in given:
                    if arguments.get(name) is not None:
                        changes[name] = {"redacted": True} if is_secret(name) else {"new": redact(arguments[name])}
                record(action, obj, changes, object_id=object_id, tenant_id=tenant_id)
            return result

        wrapper.audit_action = action
        return wrapper

    return decorate
