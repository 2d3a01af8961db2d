"""Hooks that record operators' changes made through other apps' admins (the users admin's forms
save rows directly, not through services). Kept apart from `audit.admin`, which imports those admins."""

import re

from django.db import transaction

from . import recording


def _object_type(model) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower()


class RowAsRead:
    """Keeps the row as read when a form is posted: the form changes the instance before
    `save_model`, so a service then called with it could not tell what changed."""

    audit_also = ()  # many-to-many relations the forms edit

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and request.method == "POST":
            setattr(obj, recording.AS_READ, recording.snapshot(obj, self.audit_also))
        return obj


class AuditedAdmin(RowAsRead):
    """Records operators' adds, saves and deletions with the operator as actor (`<type>.created`,
    `.updated`, `.deleted`, and `.password_set` when only the password changed).

    A save is compared with the row as read for the form. Admin actions and saves that call
    services are recorded by the services; an add a service already recorded (`create_group`) is
    not recorded again.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.audit_type = _object_type(self.model)
        recording.ACTIONS.update(f"{self.audit_type}.{verb}" for verb in ("created", "updated", "deleted"))

    def log_addition(self, request, obj, message):
        changes = recording.changes_between(None, recording.snapshot(obj, self.audit_also))
        recording.record(f"{self.audit_type}.created", obj, changes, once=True)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        before = getattr(obj, recording.AS_READ, None)
        after = recording.snapshot(obj, self.audit_also)
        changes = recording.changes_between(before, after) if before is not None else {}
        verb = "password_set" if set(changes) == {"password"} else "updated"
        recording.record(f"{self.audit_type}.{verb}", obj, changes)
        return super().log_change(request, obj, message)

    def _record_deletion(self, obj):
        changes = recording.changes_between(recording.snapshot(obj, self.audit_also), None)
        recording.record(f"{self.audit_type}.deleted", obj, changes)

    def delete_model(self, request, obj):
        with transaction.atomic():
            self._record_deletion(obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self._record_deletion(obj)
            super().delete_queryset(request, queryset)


class AuditedUserAdmin(AuditedAdmin):
    audit_also = ("roles", "identity_groups", "groups", "user_permissions")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        recording.ACTIONS.add(f"{self.audit_type}.password_set")

    def user_change_password(self, request, id, form_url=""):
        """Django's password form saves outside a transaction: the change and its record go in one."""
        with transaction.atomic():
            return super().user_change_password(request, id, form_url)
