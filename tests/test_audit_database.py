"""The database itself keeps the audit trail append-only, whatever the code does."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError

from audit.models import AuditEvent
from users import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(tenant):
    services.create_user(tenant, username="watched")
    return AuditEvent.objects.get(action="user.created")


def refused(operation):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        operation()


def test_the_orm_cannot_update_or_delete_events(event):
    refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(action="user.forged"))
    refused(lambda: AuditEvent.objects.filter(pk=event.pk).delete())
    event.action = "user.forged"
    refused(event.save)
    refused(lambda: AuditEvent.objects.get(pk=event.pk).delete())
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.action == "user.created"


@pytest.mark.parametrize("sql", [
    "UPDATE audit_auditevent SET changes = '{}'::jsonb",
    "UPDATE audit_auditevent SET actor_display = 'nobody' WHERE id = %s",
    "DELETE FROM audit_auditevent WHERE id = %s",
    "DELETE FROM audit_auditevent WHERE false",
])
def test_raw_sql_cannot_update_or_delete_events(event, sql):
    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql, [event.pk] if "%s" in sql else None)

    refused(run)
    assert AuditEvent.objects.get(pk=event.pk).actor_display == "system"


def test_inserting_stays_possible(event, tenant):
    services.update_user(services.User.objects.get(username="watched"), {"first_name": "W"})
    assert AuditEvent.objects.filter(tenant=tenant).count() == 2


def test_a_tenant_with_history_cannot_be_deleted(event, tenant):
    with pytest.raises(ProtectedError), transaction.atomic():
        services.User.objects.filter(tenant=tenant).delete()
        tenant.delete()
    assert AuditEvent.objects.filter(tenant=tenant).exists()
