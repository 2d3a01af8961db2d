"""A streaming replica (`DATABASE_REPLICA_URL`): searches, counts and the admin's change lists read
from it, lookups and writes from the primary.

The replica is real: a hot standby of the test server (`tests.postgres.Replica`), fed over loopback,
logging every statement. The backend runs under gunicorn on the test database, as the end-to-end
tests run it, with `DATABASE_REPLICA_URL` naming the replica's copy of that database: what Django's
test MIRROR of `default` would be, with no test database created on the replica. This process
itself has no replica alias, so its test client is the backend without the setting.

Where a read went is proved by pausing the replica's replay: rows written then exist on the
primary only, so a read that finds them read the primary, and one that does not read the replica.
"""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from tests.e2e.conftest import Backend
from tests.postgres import Replica, find_bindir
from users import services
from users.models import Tenant, User

ITERATIONS = 500
SCOPES = ["users:read", "users:write"]
# Connections and credentials kept between requests, as in production (the end-to-end backend keeps
# neither, for Keycloak's sake): a request then costs what the lookups cost.
KEEP = {"DATABASE_CONN_MAX_AGE": "60", "API_CLIENT_CACHE_SECONDS": "10"}


@pytest.fixture(scope="module")
def replica(django_db_setup):
    server = Replica(find_bindir(), int(connection.settings_dict["PORT"]),
                     settings=["log_statement=all", "log_line_prefix=%a:"])
    server.start()
    server.database_url = server.url_of(connection.settings_dict["NAME"])
    yield server
    server.stop()


def primary_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@pytest.fixture(scope="module")
def with_replica(replica, tmp_path_factory):
    backend = Backend(primary_url(), tmp_path_factory.mktemp("with-replica"),
                      extra_env={**KEEP, "DATABASE_REPLICA_URL": replica.database_url})
    backend.start()
    yield backend
    backend.stop()


def connect(replica):
    """A connection to the replica's copy of the test database, as its superuser."""
    return psycopg.connect(replica.database_url, autocommit=True, application_name="probe")


@pytest.fixture
def probe(replica):
    with connect(replica) as conn:
        yield conn


@pytest.fixture
def paused(probe):
    """The replica stops replaying WAL until the test ends: what is written meanwhile is on the
    primary only. `paused.resume()` lets it catch up before the end."""

    class Pause:
        def resume(self):
            probe.execute("SELECT pg_wal_replay_resume()")

    probe.execute("SELECT pg_wal_replay_pause()")
    deadline = time.monotonic() + 30
    while probe.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] != "paused":
        assert time.monotonic() < deadline, "the replica did not pause"
        time.sleep(0.01)
    pause = Pause()
    yield pause
    pause.resume()


@pytest.fixture
def token(transactional_db):
    """A committed tenant and a service credential of it, as the backends see them."""
    tenant = Tenant.objects.create(slug=f"replica-{uuid.uuid4().hex[:8]}", display_name="Replica")
    _, secret = services.create_api_client(tenant, "keycloak", SCOPES)
    return secret


def http(token):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


class InProcess:
    """requests' calls of `reads` on Django's test client."""

    def __init__(self, client):
        self.client = client

    def get(self, url, params=None):
        return self.client.get(url, params or {})


def replica_log(replica) -> str:
    return replica.log.read_text(errors="replace")


def test_a_user_created_is_found_at_once_by_id_username_and_email(with_replica, replica, token):
    """Keycloak's provider creates a user (POST /v1/users with the id it chose) and at once looks it
    up by id, username and e-mail (its getUserById/ByUsername/ByEmail): none may miss. Two callers
    at a time, as the backend's two workers serve them."""
    run = uuid.uuid4().hex[:6]

    def create_and_look_up(caller):
        api, base, behind = http(token), with_replica.url, 0
        with connect(replica) as probe:
            for i in range(caller, ITERATIONS, 2):
                user_id, name = str(uuid.uuid4()), f"kc-{run}-{i}"
                created = api.post(f"{base}/v1/users",
                                   json={"id": user_id, "username": name, "email": f"{name}@example.com"})
                assert created.status_code == 201, created.text
                by_id = api.get(f"{base}/v1/users/{user_id}")
                assert by_id.status_code == 200 and by_id.json()["username"] == name, (i, by_id.text)
                for field, value in (("username", name), ("email", f"{name}@example.com")):
                    found = api.get(f"{base}/v1/users:search",
                                    params={field: value, "exact": "true", "first": 0, "max": 1})
                    assert found.status_code == 200, found.text
                    assert [u["id"] for u in found.json()["results"]] == [user_id], (i, field)
                # Had those lookups read the replica, they would have missed whenever this is true.
                behind += probe.execute("SELECT NOT EXISTS (SELECT 1 FROM users_user WHERE id = %s)",
                                        [user_id]).fetchone()[0]
        return behind

    with ThreadPoolExecutor(2) as callers:
        behind = sum(callers.map(create_and_look_up, range(2)))
    assert f"kc-{run}" not in replica_log(replica), "a lookup by key read the replica"
    print(f"\nthe replica had not replayed the create when its lookups were answered in {behind} of {ITERATIONS}")


def test_searches_counts_and_lists_read_the_replica(with_replica, replica, probe, paused, token, settings):
    api = http(token)
    word = f"rp{uuid.uuid4().hex[:8]}"
    ids = []
    for i in range(3):
        created = api.post(f"{with_replica.url}/v1/users", json={"username": f"{word}{i}", "email": f"{word}{i}@example.com"})
        assert created.status_code == 201
        ids.append(created.json()["id"])

    def reads(base, api=api):
        return {
            "search": sorted(u["id"] for u in api.get(f"{base}/v1/users:search", params={"search": word}).json()["results"]),
            "field search": len(api.get(f"{base}/v1/users:search", params={"username": word}).json()["results"]),
            "list": len(api.get(f"{base}/v1/users").json()["results"]),
            "count": api.get(f"{base}/v1/users:count", params={"search": word}).json()["count"],
            "count everyone": api.get(f"{base}/v1/users:count").json()["count"],
            "lookup by username": len(api.get(f"{base}/v1/users:search",
                                              params={"username": f"{word}0", "exact": "true"}).json()["results"]),
            "lookup by id": api.get(f"{base}/v1/users/{ids[0]}").status_code,
        }

    everything = {"search": sorted(ids), "field search": 3, "list": 3, "count": 3, "count everyone": 3,
                  "lookup by username": 1, "lookup by id": 200}
    # Replay paused: the replica has none of the three; lookups by key still find them on the primary.
    assert reads(with_replica.url) == {**everything, "search": [], "field search": 0, "list": 0, "count": 0,
                                       "count everyone": 0}
    assert word in replica_log(replica)  # the log that shows no lookup by key does show the searches
    # Without the setting (this process has none) every read is the primary's.
    assert list(settings.DATABASES) == ["default"] and not settings.DATABASE_ROUTERS
    in_process = APIClient()
    in_process.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert reads("", InProcess(in_process)) == everything

    paused.resume()
    started = time.monotonic()
    deadline = started + 60
    while probe.execute("SELECT count(*) FROM users_user WHERE username LIKE %s", [f"{word}%"]).fetchone()[0] < 3:
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.01)
    print(f"\nthe replica caught up {time.monotonic() - started:.3f} s after its replay resumed")
    assert reads(with_replica.url) == everything


def test_the_admin_lists_from_the_replica_and_edits_on_the_primary(with_replica, paused, transactional_db):
    operator = User.objects.create_superuser("root", "root@example.com", "an operator passphrase")
    browser = Client()
    browser.force_login(operator)
    cookies = {"sessionid": browser.cookies["sessionid"].value}
    customer = Tenant.objects.create(slug="shop", display_name="Shop")
    user = User.objects.create(tenant=customer, username="fresh-on-primary", email="fresh@example.com")

    def change_list():
        page = requests.get(f"{with_replica.url}/admin/users/user/", params={"q": "fresh-on"}, cookies=cookies)
        assert page.status_code == 200
        return "fresh-on-primary" in page.text

    assert not change_list()  # the replica has not replayed the user
    form = requests.get(f"{with_replica.url}/admin/users/user/{user.pk}/change/", cookies=cookies)
    assert form.status_code == 200 and "fresh-on-primary" in form.text  # the change form reads the primary

    paused.resume()
    deadline = time.monotonic() + 60
    while not change_list():
        assert time.monotonic() < deadline, "the change list never showed the user"
        time.sleep(0.05)
