"""`read_replica()`'s rules, decided in this process with a replica alias named in the settings
(never connected to: tests/test_replicas.py reads a real replica through a live backend)."""

import contextvars

import pytest
from django.db import DEFAULT_DB_ALIAS, router, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from identity import db_routing
from identity.db_routing import PrimaryRouter, ReadRoutingMiddleware, read_replica
from tests.factories import TenantFactory
from users import services
from users.models import ApiClient


# The alias is only named, never connected to: Django's warning about changing DATABASES is moot.
pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


@pytest.fixture
def replicated(settings):
    """A replica alias and the router; what a write outside a request marks is forgotten after."""
    settings.DATABASES = {**settings.DATABASES, "replica1": {**settings.DATABASES["default"]}}
    settings.DATABASE_ROUTERS = ["identity.db_routing.PrimaryRouter"]
    token = db_routing._request.set(None)
    yield
    db_routing._request.reset(token)


def serve(method, view):
    """`view()` run inside the middleware, as a request of `method`; its answer is the body."""
    request = getattr(RequestFactory(), method.lower())("/")
    return ReadRoutingMiddleware(lambda request: HttpResponse(view()))(request).content.decode()


def test_without_replicas_every_read_is_the_primarys(settings):
    assert list(settings.DATABASES) == ["default"]
    assert read_replica() == DEFAULT_DB_ALIAS
    assert serve("GET", read_replica) == DEFAULT_DB_ALIAS


def test_a_get_reads_a_replica_and_a_write_request_the_primary(replicated):
    assert serve("GET", read_replica) == "replica1"
    assert serve("HEAD", read_replica) == "replica1"
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert serve(method, read_replica) == DEFAULT_DB_ALIAS


def test_after_a_write_the_request_reads_the_primary(replicated, transactional_db):
    def view():
        before = read_replica()
        TenantFactory(slug="written")
        return f"{before} {read_replica()}"

    assert serve("GET", view) == f"replica1 {DEFAULT_DB_ALIAS}"
    assert serve("GET", read_replica) == "replica1"  # the next request starts afresh


def test_bookkeeping_writes_leave_reads_on_the_replica(replicated, transactional_db):
    client, _ = services.create_api_client(TenantFactory(), "svc", ["users:read"])

    def view():
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=timezone.now())
        return read_replica()

    assert serve("GET", view) == "replica1"


def test_in_a_transaction_reads_are_the_primarys(replicated, transactional_db):
    def view():
        with transaction.atomic():
            return read_replica()

    assert serve("GET", view) == DEFAULT_DB_ALIAS


def test_outside_a_request_a_replica_until_a_write(replicated, transactional_db):
    def command():
        first = read_replica()
        TenantFactory(slug="by-a-command")
        return first, read_replica()

    assert contextvars.copy_context().run(command) == ("replica1", DEFAULT_DB_ALIAS)


def test_rows_read_from_a_replica_are_written_to_the_primary_and_migrations_skip_replicas(replicated):
    tenant = TenantFactory.build()
    tenant._state.db = "replica1"
    assert router.db_for_write(type(tenant), instance=tenant) == DEFAULT_DB_ALIAS
    assert PrimaryRouter().allow_migrate("replica1", "users") is False
    assert PrimaryRouter().allow_migrate(DEFAULT_DB_ALIAS, "users") is None
