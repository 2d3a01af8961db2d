"""The BPM engine's identity plugin (bpm_bridge/) against this backend, served live.

The plugin's JUnit integration tests (`*IT`) run an embedded CIB Seven engine on in-memory H2
whose users, groups and tenant come from the backend that pytest-django's `live_server` serves
on the test database; this test seeds a tenant, gives the tests its URL and an API client token,
runs them through Maven's failsafe plugin and fails with their reports if any fails.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import requests
from django.core.cache import cache
from django.core.servers.basehttp import WSGIRequestHandler

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


def test_the_engine_reads_users_and_groups_from_the_backend(seeded, transactional_db):
    url, token, seed = seeded
    # The first request loads the URLconf and the API: not a cost the engine's start should carry.
    assert requests.get(f"{url}/v1/groups", headers={"Authorization": f"Bearer {token}"}, timeout=60).status_code == 200
    env = {"BPM_BRIDGE_BASE_URL": url, "BPM_BRIDGE_TOKEN": token, "BPM_BRIDGE_SEED": json.dumps(seed)}
    result = subprocess.run(
        ["mvn", "-B", "-q", "verify", "-DskipUnitTests=true"], cwd=MODULE, capture_output=True, text=True,
        timeout=900, env={**os.environ, **env},
    )
    reports = sorted((MODULE / "target" / "failsafe-reports").glob("*.txt"))
    summary = "\n".join(report.read_text() for report in reports)
    assert result.returncode == 0, f"{result.stdout[-20000:]}\n{result.stderr[-5000:]}\n{summary}"
    assert "Tests run: 9, Failures: 0, Errors: 0, Skipped: 0" in summary, summary
