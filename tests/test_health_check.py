"""The database connection (identity/postgresql/base.py): its health check is skipped for a
connection used moments ago, run for an idle one, and a connection the server dropped is replaced
either way; its sessions run without JIT unless DATABASE_JIT says otherwise."""

import pytest
from django.core.signals import request_finished
from django.db import connection

from identity.postgresql import own

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def checks(monkeypatch):
    """The health checks the connection runs (each is a `SELECT 1` on the server)."""
    seen = []
    is_usable = connection.is_usable

    def counted():
        seen.append(is_usable())
        return seen[-1]

    monkeypatch.setattr(connection, "is_usable", counted)
    return seen


def new_request():
    """What Django does when a request starts or ends (the test client leaves it out): a connection
    with errors is closed, and the next cursor may check a kept one again."""
    request_finished.send(sender=None)


def terminate_backend():
    """The server drops this connection, as a restart or a failover would."""
    pid = connection.connection.info.backend_pid
    with own.connect(autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    return pid


def test_a_connection_used_just_now_is_not_checked(settings, checks):
    settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS = 60
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    for _ in range(3):
        new_request()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    assert checks == []


def test_an_idle_connection_is_checked_and_replaced_when_the_server_dropped_it(settings, checks):
    settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS = 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    new_request()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert checks == [True]
    dropped = terminate_backend()
    new_request()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != dropped
    assert checks == [True, False]


def test_a_dropped_connection_used_just_now_costs_one_503_then_the_next_request_reconnects(settings, api, tenant):
    settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS = 60
    assert api.get("/v1/users").status_code == 200
    new_request()
    terminate_backend()
    failed = api.get("/v1/users")
    assert failed.status_code == 503 and failed.json()["code"] == "database_unavailable"
    new_request()
    assert api.get("/v1/users").status_code == 200


def jit_of_a_new_connection():
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        return cursor.fetchone()[0]


def test_sessions_run_without_jit_unless_asked(settings):
    assert jit_of_a_new_connection() == "off"
    with own.connect() as mine:  # the relay's connections too, with their own settings
        assert mine.execute("SHOW jit").fetchone()[0] == "off"
    with own.connect(options="-c timezone=UTC") as mine:
        assert mine.execute("SHOW jit").fetchone()[0] == "off"
        assert mine.execute("SHOW timezone").fetchone()[0] == "UTC"
    settings.DATABASE_JIT = True
    assert jit_of_a_new_connection() == "on"  # the server's default
