"""Writes survive a crash of every backend process.

Clients create users and change them through /v1 (several threads); in the middle gunicorn's
master and workers are killed with SIGKILL, the clients meet a dead port, gunicorn is started
again and the load goes on. Then the tables are compared with what the clients were told:
every write answered 2xx is there, once; a write whose answer was lost is there entirely or not at
all; and nothing is half-written: every user has its fan profile, its creation in the audit trail
and its events in the outbox (one transaction writes them all).
"""

import time
from collections import defaultdict

import pytest

from tests.faults.conftest import Load

# The suite's test database, which the backend's own database starts as a copy of.
pytestmark = pytest.mark.django_db

THREADS = 6
KILL_AFTER = 500  # writes answered 2xx before the kill
IN_ALL = 1100  # writes answered 2xx in all (creates and updates)
AFTER_RESTART = 300  # of which at least this many after the restart


def answered(call) -> bool:
    return call["status"] is not None and 200 <= call["status"] < 300


def writer(load, number):
    """Creates a user, changes its name twice, gives it a role and changes its fan profile; again."""
    n = 0
    while not load.stopping.is_set():
        username = f"w{number}-{n}"
        n += 1
        created = load.log({**load.api.call("POST", "/v1/users", {"username": username, "first_name": "v0"}),
                            "op": "create", "username": username, "value": "v0"})
        if created["status"] != 201:
            time.sleep(0.05)  # the port is dead: the clients come back a little later
            continue
        user_id = created["json"]["id"]
        steps = [("PATCH", f"/v1/users/{user_id}", {"first_name": "v1"}, "update", "v1"),
                 ("PATCH", f"/v1/users/{user_id}", {"first_name": "v2"}, "update", "v2"),
                 ("POST", f"/v1/users/{user_id}/roles/vip", None, "role", "vip"),
                 ("PATCH", f"/v1/fans/{user_id}", {"metadata": f"m-{username}"}, "fan", f"m-{username}")]
        for method, path, body, op, value in steps:
            call = load.log({**load.api.call(method, path, body), "op": op, "user_id": user_id, "value": value})
            if call["status"] is None:
                time.sleep(0.05)
                break


def possible_values(attempts) -> set:
    """What a field may hold after `attempts` (calls in order, the first answered): the value of the
    last one answered 2xx, or of a later one whose answer was lost."""
    last = max(i for i, call in enumerate(attempts) if answered(call))
    return {attempts[last]["value"]} | {call["value"] for call in attempts[last + 1:] if call["status"] is None}


def test_writes_answered_2xx_survive_kill_9_of_master_and_workers(database, seeded, backend, http):
    tenant = seeded["tenant_id"]
    began = time.monotonic()
    load = Load(http, THREADS, writer).start()
    load.wait_for(answered, KILL_AFTER)
    killed_at = time.monotonic()
    killed = backend.kill_all()
    time.sleep(0.5)  # the clients find nobody listening
    backend.start()
    back_at = time.monotonic()
    at_restart = load.count(answered)
    load.wait_for(lambda call: answered(call) and call["started"] > back_at, AFTER_RESTART)
    load.wait_for(answered, IN_ALL)
    calls = load.stop()
    ended = time.monotonic()

    assert len(killed) == 1 + backend.workers and not killed & backend.pids()
    refused = [c for c in calls if c["status"] is not None and not answered(c)]
    assert not refused, [(c["method"], c["path"], c["status"], c["raw"][:200]) for c in refused[:5]]
    lost = [c for c in calls if c["status"] is None]
    in_flight = [c for c in lost if c["started"] < killed_at]
    assert in_flight, "the kill met no request in flight"
    assert sum(1 for c in calls if answered(c) and c["started"] > back_at) >= AFTER_RESTART

    users = {username: (str(user_id), first_name) for user_id, username, first_name in database.rows(
        "SELECT id, username, first_name FROM users_user WHERE tenant_id = %s", tenant)}
    assert database.rows("SELECT count(*) FROM users_user WHERE tenant_id = %s", tenant)[0][0] == len(users)
    creates = [c for c in calls if c["op"] == "create"]
    acked = {c["username"]: c["json"]["id"] for c in creates if c["status"] == 201}
    lost_creates = {c["username"] for c in creates if c["status"] is None}
    # every create answered 201 is there, with the id the client was given; nobody else is
    assert {name: users.get(name, (None,))[0] for name in acked} == acked
    assert set(users) - set(acked) <= lost_creates

    attempts = defaultdict(list)
    for call in calls:
        if call["op"] == "create" and call["status"] == 201:
            attempts[(call["json"]["id"], "update")].append(call)
            attempts[(call["json"]["id"], "fan")].append({**call, "value": ""})
        elif call["op"] in ("update", "fan"):
            attempts[(call["user_id"], call["op"])].append(call)
    first_names = {user_id: first_name for user_id, first_name in users.values()}
    for user_id in acked.values():
        assert first_names[user_id] in possible_values(attempts[(user_id, "update")]), user_id

    # nothing half-written: each user with its fan profile, audit row and events; no row without its user
    ids = set(first_names)
    fans = {str(user_id): metadata for user_id, metadata in database.rows(
        "SELECT fan_user_id, metadata FROM profiles_fanprofile WHERE tenant_id = %s", tenant)}
    assert set(fans) == ids
    for user_id in acked.values():
        assert fans[user_id] in possible_values(attempts[(user_id, "fan")]), user_id
    created_audit = dict(database.rows(
        "SELECT object_id, count(*) FROM audit_auditevent WHERE tenant_id = %s AND action = 'user.created'"
        " GROUP BY object_id", tenant))
    assert created_audit == {user_id: 1 for user_id in ids}
    for event_type in ("UserCreated", "FanProfileCreated"):
        events = dict(database.rows(
            "SELECT aggregate_id, count(*) FROM events_outboxevent WHERE tenant = 'faults' AND type = %s"
            " GROUP BY aggregate_id", event_type))
        assert events == {user_id: 1 for user_id in ids}, event_type
    updated_audit = dict(database.rows(
        "SELECT object_id, count(*) FROM audit_auditevent WHERE tenant_id = %s AND action = 'user.updated'"
        " GROUP BY object_id", tenant))
    for user_id in acked.values():
        tried = attempts[(user_id, "update")][1:]
        assert sum(map(answered, tried)) <= updated_audit.get(user_id, 0) <= len(tried), user_id

    vips = {str(user_id) for (user_id,) in database.rows(
        "SELECT ur.user_id FROM users_user_roles ur JOIN users_role r ON r.id = ur.role_id"
        " WHERE r.tenant_id = %s AND r.name = 'vip'", tenant)}
    role_calls = [c for c in calls if c["op"] == "role"]
    assert {c["user_id"] for c in role_calls if answered(c)} <= vips <= {c["user_id"] for c in role_calls}
    assert database.rows(
        "SELECT count(*) FROM users_user_roles ur LEFT JOIN users_user u ON u.id = ur.user_id WHERE u.id IS NULL"
        " UNION ALL SELECT count(*) FROM profiles_fanprofile f LEFT JOIN users_user u ON u.id = f.fan_user_id"
        " WHERE u.id IS NULL") == [(0,), (0,)]

    # it serves again: reads and writes of the restarted processes
    some_user = next(iter(acked.values()))
    assert http.call("GET", f"/v1/users/{some_user}")["status"] == 200
    assert http.call("PATCH", f"/v1/users/{some_user}", {"last_name": "after"})["status"] == 200

    print(f"\ncrash: {sum(map(answered, calls))} writes answered 2xx ({len(acked)} creates), "
          f"{at_restart} before the restart; {len(lost)} got no answer ({len(in_flight)} in flight at the kill, "
          f"the others refused or timed out while gunicorn was down or starting); "
          f"{len(set(users) & lost_creates)} of {len(lost_creates)} lost creates committed; "
          f"gunicorn served again {back_at - killed_at:.1f} s after the kill; load {ended - began:.1f} s")
