"""PostgreSQL stopped for a few seconds and started again under a read and write load.

While it is down every request is answered at once with a 503 in the API's error shape and a
`Retry-After` (the admin's pages too, never a 500 page), `/readyz` says not ready; once it is
back the same gunicorn processes serve again, without a restart.
"""

import time

import pytest
from django.db import OperationalError
from django.test import RequestFactory

from identity.api.errors import json_server_error
from tests.faults.conftest import REQUEST_TIMEOUT, Load

# The suite's test database, which the backend's own database starts as a copy of.
pytestmark = pytest.mark.django_db

THREADS = 4
DOWN_FOR = 2.5  # seconds between the server's stop and its start
READERS = 12
# An admin page with a session cookie: the session is looked up in the database.
ADMIN_COOKIE = {"Cookie": "sessionid=" + "a" * 32}


def ok(call) -> bool:
    return call["status"] is not None and 200 <= call["status"] < 300


def readers_and_writers(user_ids):
    def step(load, number):
        i = number
        while not load.stopping.is_set():
            i += 1
            user_id = user_ids[i % len(user_ids)]
            if i % 4 == 0:
                load.log(load.api.call("GET", f"/v1/users/{user_id}"))
            elif i % 4 == 3:
                load.log(load.api.call("GET", f"/scim/v2/Users/{user_id}"))
            elif i % 4 == 1:
                load.log(load.api.call("GET", f"/v1/users:search?username=reader{i % len(user_ids)}&exact=true"))
            else:
                load.log(load.api.call("PATCH", f"/v1/users/{user_id}", {"first_name": f"n{i}"}))
    return step


def probes(load, number):
    """/readyz and an admin page, in turn, every 50 ms."""
    while not load.stopping.is_set():
        load.log(load.api.call("GET", "/readyz", auth=False))
        load.log(load.api.call("GET", "/admin/", auth=False, headers=ADMIN_COOKIE))
        time.sleep(0.05)


def is_database_unavailable(call) -> bool:
    body = call["json"] or {}
    if call["path"].startswith("/scim/"):  # SCIM's error shape
        return (call["status"] == 503 and body.get("status") == "503" and "retry" in body.get("detail", "").lower()
                and int(call["headers"].get("Retry-After", "0")) > 0)
    return (call["status"] == 503 and call["headers"].get("Content-Type", "").startswith("application/json")
            and body.get("code") == "database_unavailable" and "retry" in body.get("message", "").lower()
            and int(call["headers"].get("Retry-After", "0")) > 0)


def test_postgres_restart_under_load_answers_503_fast_and_recovers_without_restart(database, backend, http):
    user_ids = []
    for i in range(READERS):
        created = http.call("POST", "/v1/users", {"username": f"reader{i}"})
        assert created["status"] == 201, created
        user_ids.append(created["json"]["id"])
    pids = backend.pids()

    load = Load(http, THREADS, readers_and_writers(user_ids)).start()
    watch = Load(http, 1, probes).start()
    load.wait_for(ok, 30)
    stopping_at = time.monotonic()
    database.halt()
    stopped_at = time.monotonic()
    time.sleep(DOWN_FOR)
    starting_at = time.monotonic()
    database.resume()
    up_at = time.monotonic()
    load.wait_for(lambda c: ok(c) and c["started"] > up_at, 30)
    watch.wait_for(lambda c: c["path"] == "/readyz" and c["started"] > up_at, 2)
    calls, watched = load.stop(), watch.stop()

    # no request hung or went unanswered, and none failed but for the database
    unanswered = [call for call in calls + watched if call["status"] is None]
    assert not unanswered, unanswered[:3]
    slowest = max(call["elapsed"] for call in calls + watched)
    assert slowest < REQUEST_TIMEOUT
    refused = [call for call in calls if not ok(call)]
    assert refused, "no request met the database down"
    wrong = [call for call in refused if not is_database_unavailable(call)]
    assert not wrong, [(c["method"], c["path"], c["status"], c["headers"], c["raw"][:300]) for c in wrong[:3]]
    # refused only while the server was down; every request sent once it was back was served
    assert all(stopping_at <= call["ended"] and call["started"] <= up_at for call in refused)
    assert all(ok(call) for call in calls if call["started"] > up_at)

    readyz = [call for call in watched if call["path"] == "/readyz"]
    admin = [call for call in watched if call["path"] == "/admin/"]
    while_down = [c for c in readyz if c["started"] >= stopped_at and c["ended"] <= starting_at]
    assert while_down and all(c["status"] == 503 and c["json"]["status"] == "unavailable" for c in while_down)
    assert all(c["status"] == 200 for c in readyz if c["started"] > up_at)
    admin_down = [c for c in admin if c["started"] >= stopped_at and c["ended"] <= starting_at]
    assert admin_down and all(is_database_unavailable(c) for c in admin_down), admin_down[:2]
    assert all(c["status"] == 302 for c in admin if c["started"] > up_at or c["ended"] < stopping_at)

    assert backend.pids() == pids, "gunicorn's processes were restarted"

    in_gap = [c for c in calls if c["started"] >= stopping_at and c["started"] <= up_at]
    recovered = min(c["ended"] for c in calls if ok(c) and c["started"] > up_at) - up_at
    print(f"\npostgres restart: down {up_at - stopping_at:.1f} s (stop {stopped_at - stopping_at:.2f} s, "
          f"start {up_at - starting_at:.2f} s); {len(calls)} requests, {len(refused)} refused with 503; "
          f"slowest request while down {max(c['elapsed'] for c in in_gap):.3f} s, slowest of the run "
          f"{slowest:.3f} s; first answer {recovered:.3f} s after the server was back")


def test_a_database_error_in_a_middleware_is_a_503_not_a_500():
    """What fails outside a view (a session loaded or saved) reaches the 500 handler."""
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = json_server_error(RequestFactory().get("/admin/"))
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert b'"database_unavailable"' in response.content
    assert json_server_error(RequestFactory().get("/admin/")).status_code == 500
