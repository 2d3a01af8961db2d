"""The BPM engine's identity plugin (bpm_bridge/) against this backend, served live.

The plugin's JUnit integration tests (`*IT`) run an embedded CIB Seven engine on in-memory H2
whose users, groups and tenant come from the backend that pytest-django's `live_server` serves
on the test database; this test seeds a tenant, gives the tests its URL and an API client token,
runs them through Maven's failsafe plugin and fails with their reports if any fails.

`CacheEventsIT` gets a second tenant, the session's RabbitMQ node (and `rabbitmqctl` for it, to
stop and restart it) and a relay publishing the test database's outbox to it: the backend's own
events, end to end.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests
from django.core.cache import cache
from django.core.servers.basehttp import WSGIRequestHandler

from events.broker_server import SCRIPTS
from events.catalogue import MESSAGES
from tests.broker import relay_process, stop
from tests.factories import GroupFactory, TenantFactory, UserFactory
from users import services

MODULE = Path(__file__).resolve().parent.parent / "bpm_bridge"
PASSWORD = "alice's engine passphrase"


@pytest.fixture
def seeded(live_server, monkeypatch):
    monkeypatch.setattr(WSGIRequestHandler, "disable_nagle_algorithm", True)
    cache.clear()
    tenant = TenantFactory(slug="bpm")
    _, token = services.create_api_client(tenant, "cib-seven", ["users:read", "users:write", "credentials:verify"])
    people = {
        "alice": UserFactory(tenant=tenant, username="alice", email="alice@example.com", first_name="Alice",
                             last_name="Smith", password=PASSWORD),
        "bob": UserFactory(tenant=tenant, username="bob", email="bob@example.com", first_name="Bob",
                           last_name="Smithers"),
        "carol": UserFactory(tenant=tenant, username="carol", email="carol@corp.io", first_name="Carol",
                             last_name="Jones"),
        "dan": UserFactory(tenant=tenant, username="dan", email=None, first_name="Dan", last_name="Asmith"),
    }
    admins = GroupFactory(tenant=tenant, name="camunda-admins")
    sales = GroupFactory(tenant=tenant, name="sales")
    north = GroupFactory(tenant=tenant, name="north", parent=sales)
    services.add_user_group(people["alice"], admins)
    services.add_user_group(people["alice"], sales)
    services.add_user_group(people["bob"], sales)
    services.add_user_group(people["bob"], north)
    # Another tenant's look-alikes must never reach the engine.
    other = TenantFactory(slug="bpm-other")
    services.add_user_group(UserFactory(tenant=other, username="alice", first_name="Alice", last_name="Smith"),
                            GroupFactory(tenant=other, name="sales"))
    seed = {
        "users": {name: str(user.pk) for name, user in people.items()},
        "groups": {group.path: str(group.pk) for group in (admins, sales, north)},
        "password": PASSWORD,
    }
    yield live_server.url.replace("localhost", "127.0.0.1"), token, seed
    cache.clear()


@pytest.fixture
def events_seed(transactional_db):
    """A tenant of its own for CacheEventsIT, whose changes must not disturb BackendIdentityIT's."""
    tenant = TenantFactory(slug="bpm-events")
    _, token = services.create_api_client(tenant, "cib-seven", ["users:read", "users:write"])
    erin = UserFactory(tenant=tenant, username="erin", first_name="Erin", last_name="Evans")
    frank = UserFactory(tenant=tenant, username="frank", first_name="Frank", last_name="Fox")
    ops = GroupFactory(tenant=tenant, name="ops")
    temp = GroupFactory(tenant=tenant, name="temp")
    services.add_user_group(frank, ops)
    return {"token": token, "tenant": tenant.slug, "users": {"erin": str(erin.pk), "frank": str(frank.pk)},
            "groups": {group.path: str(group.pk) for group in (ops, temp)}}


def broker_control(broker) -> dict:
    """`rabbitmqctl` for the session's node: the command and the environment it needs beyond ours."""
    return {"command": [str(SCRIPTS / "rabbitmqctl"), "-n", broker.node],
            "env": {name: value for name, value in broker.env.items() if os.environ.get(name) != value}}


def test_the_engine_reads_users_and_groups_from_the_backend(seeded, events_seed, broker, transactional_db):
    url, token, seed = seeded
    # The first request loads the URLconf and the API: not a cost the engine's start should carry.
    assert requests.get(f"{url}/v1/groups", headers={"Authorization": f"Bearer {token}"}, timeout=60).status_code == 200
    env = {"BPM_BRIDGE_BASE_URL": url, "BPM_BRIDGE_TOKEN": token, "BPM_BRIDGE_SEED": json.dumps(seed),
           "BPM_BRIDGE_EVENTS_SEED": json.dumps(events_seed), "BPM_BRIDGE_BROKER_URL": broker.url,
           "BPM_BRIDGE_BROKER_CONTROL": json.dumps(broker_control(broker))}
    relay = relay_process(broker)
    try:
        result = subprocess.run(
            ["mvn", "-B", "-q", "verify", "-DskipUnitTests=true"], cwd=MODULE, capture_output=True, text=True,
            timeout=1500, env={**os.environ, **env},
        )
    finally:
        stop(relay)
    reports = sorted((MODULE / "target" / "failsafe-reports").glob("*.txt"))
    summary = "\n".join(report.read_text() for report in reports)
    assert result.returncode == 0, f"{result.stdout[-20000:]}\n{result.stderr[-5000:]}\n{summary}"
    for test_class, count in (("BackendIdentityIT", 9), ("CacheEventsIT", 2)):
        assert re.search(rf"Tests run: {count}, Failures: 0, Errors: 0, Skipped: 0.*{test_class}", summary), summary


def test_the_engines_queue_is_bound_to_the_catalogues_user_and_group_events():
    """The plugin's routing keys are the catalogue's names, and every user or group event that can
    change what the engine sees is among them (a new one fails here until the plugin knows it)."""
    source = (MODULE / "src/main/java/com/identitybackend/bpm/EventInvalidation.java").read_text()
    bound = set()
    for constant in ("USER_EVENTS", "GROUP_CREATED", "GROUP_TREE_EVENTS"):
        listed = re.search(rf"{constant} = List\.of\(([^;]*)\);", source)
        assert listed, constant
        bound |= set(re.findall(r'"(\w+)"', listed.group(1)))
    published = {m.name: m for m in MESSAGES if m.exchange == "users" and not m.command}
    assert bound <= set(published), bound - set(published)
    # Passwords are never cached (each check asks the backend), roles are not the engine's groups,
    # API clients and the operators' flag are not users or groups.
    unseen = {"UserPasswordChanged", "UserPasswordResetIssued", "UserRolesChanged", "RoleCreated", "RoleDeleted",
              "ApiClientChanged", "OperatorsTenantChanged"}
    assert set(published) - bound == unseen
