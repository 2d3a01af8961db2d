"""Two Keycloak nodes and two backend processes, then a node killed, then every node restarted.

The tests run in this file's order: the last two take node 1, then node 2, away.
"""

import json
import re
import statistics
import threading
import time
import urllib.error
import urllib.request
import uuid

import psycopg
import pytest
from django.db import connection

from keycloak_bridge.dev.realm import AdminClient
from tests.cluster.conftest import CACHED_REALM, REALM
from tests.e2e.keycloak_api import claims, direct_grant, refresh
from users import services

pytestmark = pytest.mark.e2e
PASSWORD = "a passphrase only the backend knows"
VIEW = re.compile(r"ISPN000094: Received new cluster view for channel \S+: \[[^\]]*\] \((\d+)\)")


def person(tenant, **fields):
    user = services.create_user(tenant, username=f"p{uuid.uuid4().hex[:10]}", **fields)
    services.set_password(user, PASSWORD)
    return user


def call(base_url, path, token, method="GET", body=None):
    request = urllib.request.Request(f"{base_url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or "null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or "null")


def login(base_url, user, realm=REALM):
    """A password login (direct grant): (status, body), status None when the connection failed."""
    try:
        return direct_grant(base_url, realm, user.username, PASSWORD)
    except (OSError, ValueError) as error:  # reset by a dead node, or no answer at all
        return None, {"error": repr(error)}


def eventually(read, expected, timeout=30):
    """`read()` once it equals `expected` (invalidations reach the other node asynchronously), or
    its last value."""
    deadline = time.monotonic() + timeout
    while (value := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


def admin(node):
    return AdminClient(node.base_url, node.server.admin_user, node.server.admin_password)


def admin_user(node, user_id, realm=REALM):
    status, rep = admin(node).request("GET", f"/admin/realms/{realm}/users/{user_id}")
    assert status == 200, rep
    return rep


def test_the_nodes_find_each_other_through_the_database(cluster, tenant):
    for node in cluster.nodes:
        views = [int(size) for size in VIEW.findall(node.server.log_path.read_text(errors="replace"))]
        assert views and views[-1] == 2, f"{node.name} saw the cluster views {views}"
    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"], user=settings["USER"],
                         dbname="keycloak_cluster") as db:
        addresses = [row[0] for row in db.execute("SELECT ip FROM jgroups_ping")]
    assert sorted(addresses) == sorted(f"127.0.0.1:{node.jgroups_port}" for node in cluster.nodes)


def test_a_session_made_on_node_1_refreshes_on_node_2(cluster, backends, tenant):
    node_1, node_2 = cluster.nodes
    user = person(tenant)
    status, tokens = login(node_1.base_url, user)
    assert status == 200, tokens
    first = claims(tokens["access_token"])
    assert first["iss"] == f"{cluster.url}/realms/{REALM}" and first["sub"] == str(user.id)

    status, refreshed = refresh(node_2.base_url, REALM, tokens["refresh_token"])
    assert status == 200, refreshed
    assert claims(refreshed["access_token"])["sid"] == first["sid"]  # the same session, held by both nodes
    sessions = AdminClient(node_2.base_url, "admin", "admin").request(
        "GET", f"/admin/realms/{REALM}/users/{user.id}/sessions")[1]
    assert [s["id"] for s in sessions] == [first["sid"]]
    for backend in backends[0]:
        status, me = call(backend.url, "/v1/me", refreshed["access_token"])
        assert status == 200 and me["id"] == str(user.id)


def test_a_change_in_the_backend_shows_on_both_nodes_at_once(cluster, backends, tenant):
    """The realm reads users with the NO_CACHE policy: no node keeps a user between requests, so
    each asks the backend again, and a change made there needs no invalidation."""
    (backend_1, backend_2), _ = backends
    user = person(tenant, first_name="Ann")
    status, tokens = login(cluster.nodes[0].base_url, user)
    assert status == 200, tokens
    assert [admin_user(node, user.id)["firstName"] for node in cluster.nodes] == ["Ann", "Ann"]
    _, service_token = services.create_api_client(tenant, "support", ["users:read", "users:write"])

    status, body = call(backend_2.url, f"/v1/users/{user.id}", service_token, "PATCH", {"first_name": "Anna"})
    assert status == 200, body
    assert [admin_user(node, user.id)["firstName"] for node in cluster.nodes] == ["Anna", "Anna"]

    status, body = call(backend_1.url, f"/v1/users/{user.id}:deactivate", service_token, "POST")
    assert status == 200, body
    assert [admin_user(node, user.id)["enabled"] for node in cluster.nodes] == [False, False]
    for node in cluster.nodes:
        assert refresh(node.base_url, REALM, tokens["refresh_token"])[0] == 400
        assert login(node.base_url, user)[0] != 200


def test_with_keycloaks_user_cache_on_each_eviction_reaches_both_nodes(cluster, backends, cached_tenant):
    """With a cache policy other than NO_CACHE each node keeps the users it read. A change made
    through Keycloak (on any node) evicts the user on every node; a change made in the backend
    reaches Keycloak only when the user is evicted: by such a change, the policy's lifespan, or a
    clear of the realm's user cache, which also reaches every node."""
    (backend_1, _), _ = backends
    node_1, node_2 = cluster.nodes
    user = person(cached_tenant, first_name="Ann")
    assert login(node_1.base_url, user, CACHED_REALM)[0] == 200
    first_names = lambda: [admin_user(node, user.id, CACHED_REALM)["firstName"] for node in cluster.nodes]  # noqa: E731
    assert first_names() == ["Ann", "Ann"]  # now cached on both nodes
    _, service_token = services.create_api_client(cached_tenant, "support", ["users:read", "users:write"])
    patch = lambda name: call(backend_1.url, f"/v1/users/{user.id}", service_token, "PATCH", {"first_name": name})  # noqa: E731

    assert patch("Anna")[0] == 200
    assert first_names() == ["Ann", "Ann"]  # the backend's change is not seen while cached

    rep = admin_user(node_1, user.id, CACHED_REALM)
    admin(node_1).request("PUT", f"/admin/realms/{CACHED_REALM}/users/{user.id}", {**rep, "firstName": "Bea"})
    assert eventually(first_names, ["Bea", "Bea"]) == ["Bea", "Bea"]  # written to the backend through node 1, evicted on node 2 too
    user.refresh_from_db()
    assert user.first_name == "Bea"

    assert patch("Cleo")[0] == 200
    assert first_names() == ["Bea", "Bea"]
    admin(node_2).request("POST", f"/admin/realms/{CACHED_REALM}/clear-user-cache")
    assert eventually(first_names, ["Cleo", "Cleo"]) == ["Cleo", "Cleo"]


def test_the_provider_reconnects_when_the_backend_processes_restart(cluster, backends, tenant):
    started, balancer = backends
    user = person(tenant)
    assert login(cluster.nodes[0].base_url, user)[0] == 200
    for backend in started:
        backend.stop()
    for node in cluster.nodes:
        assert login(node.base_url, user)[0] != 200  # the provider cannot check the password
    for backend in started:
        backend.start()
    for node in cluster.nodes:
        status, body = login(node.base_url, user)
        assert status == 200, body


def test_after_node_1_is_killed_logins_and_refreshes_go_on_on_node_2(cluster, tenant):
    node_1, node_2 = cluster.nodes
    user = person(tenant)
    status, before = login(node_1.base_url, user)
    assert status == 200, before

    attempts = []  # (started, ended, status) of logins through the balancer, one at a time
    stop = threading.Event()

    def log_in_again_and_again():
        while not stop.is_set():
            started = time.monotonic()
            status, _ = login(cluster.url, user)
            attempts.append((started, time.monotonic(), status))

    worker = threading.Thread(target=log_in_again_and_again)
    worker.start()
    try:
        deadline = time.monotonic() + 300
        while sum(a[2] == 200 for a in attempts) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        killed_at = time.monotonic()
        cluster.kill(node_1)
        dead_at = time.monotonic()  # a login started while the JVM was dying may still be reset
        while sum(a[2] == 200 and a[0] > killed_at for a in attempts) < 8 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(timeout=120)

    after = [a for a in attempts if a[1] > killed_at]
    refused = [a for a in after if a[2] != 200]
    successes = [a[1] for a in attempts if a[2] == 200]
    gap = max(later - earlier for earlier, later in zip(successes, successes[1:]) if later > killed_at)
    durations = [a[1] - a[0] for a in attempts if a[2] == 200]
    print(f"\n[cluster] kill -9 of node 1: {len(attempts)} logins through the balancer, {len(after)} "
          f"after the kill, {len(refused)} refused ({[a[2] for a in refused]}); longest interval between "
          f"two successful logins across the kill {gap:.2f} s, median login {statistics.median(durations):.2f} s")
    assert sum(a[2] == 200 for a in after) >= 8, after
    first_success = min((a[0] for a in after if a[2] == 200 and a[0] >= dead_at), default=None)
    assert first_success is not None, after
    assert all(a[2] == 200 for a in after if a[0] >= first_success), after  # node 2 alone refuses none
    status, refreshed = refresh(node_2.base_url, REALM, before["refresh_token"])
    assert status == 200, refreshed  # node 1's session outlived node 1
    assert login(node_2.base_url, user)[0] == 200


def test_tokens_validate_while_keycloak_is_down_and_logins_resume_after_a_restart(cluster, backends, tenant):
    """Every backend process keeps the realm's keys it fetched (OIDC_JWKS_CACHE_SECONDS); sessions
    are kept in Keycloak's database, so they outlive a restart of every node."""
    node_1, node_2 = cluster.nodes
    started, _ = backends
    user = person(tenant)
    status, tokens = login(cluster.url, user)
    assert status == 200, tokens
    for backend in started:
        assert call(backend.url, "/v1/me", tokens["access_token"])[0] == 200

    cluster.stop(node_2)  # node 1 was killed: no Keycloak runs now
    assert login(cluster.url, user)[0] is None
    down_since = time.monotonic()
    for backend in started:
        status, me = call(backend.url, "/v1/me", tokens["access_token"])
        assert status == 200 and me["id"] == str(user.id)

    cluster.start(node_1, "restart, the whole cluster having been down")
    print(f"[cluster] Keycloak was down for {time.monotonic() - down_since:.1f} s; tokens validated meanwhile")
    status, again = login(node_1.base_url, user)
    assert status == 200, again  # through the provider, which found the backend by itself
    status, refreshed = refresh(node_1.base_url, REALM, tokens["refresh_token"])
    assert status == 200, refreshed
    for backend in started:
        for token in (tokens["access_token"], again["access_token"], refreshed["access_token"]):
            assert call(backend.url, "/v1/me", token)[0] == 200
