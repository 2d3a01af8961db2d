"""Keycloak as a cluster: two production-mode nodes on one PostgreSQL, and two backend processes.

    client ──► balancer ──► node 1 ─┐  Infinispan (jdbc-ping discovery in Keycloak's database,
                       └──► node 2 ─┘  JGroups on 127.0.0.1), one `keycloak_cluster` database
    both nodes' provider ──► balancer ──► backend 1, backend 2 (gunicorn, the test database)

Both nodes run the pinned release only, from their own production-mode copy of the distribution
(`keycloak_bridge/dev/keycloak_cluster.py`). Their `hostname` is the Keycloak balancer's URL, so
every token names one issuer whichever node made it. The provider's `baseUrl` is realm data,
stored once in the shared database, so both nodes call the same URL: the backends' balancer, which
spreads their connections over both processes.

Everything here is package-scoped, as in `tests/e2e`: pytest finishes this package, and stops its
nodes and backends, before it starts another package's Keycloak, so one Keycloak set runs at a
time. Tests commit their rows (the backends read them); pytest-django flushes them after each.
"""

import os
import signal
import urllib.parse
from dataclasses import dataclass, field

import pytest
from django.db import connection

from keycloak_bridge import sessions as keycloak_sessions
from keycloak_bridge.dev.keycloak_cluster import ClusterDistribution, free_jgroups_port
from keycloak_bridge.dev.keycloak_runner import KeycloakServer, keycloak_version
from keycloak_bridge.dev.processes import free_port
from keycloak_bridge.dev.realm import AdminClient, apply_realm
from tests.cluster.balancer import Balancer
from tests.e2e.conftest import Backend, provider_client
from users import services
from users.models import Role, Tenant

REALM = "cluster"
CACHED_REALM = "cluster-cached"  # the same, with Keycloak's user cache on (cache policy DEFAULT)
REDIRECT_URI = "http://127.0.0.1:9/callback"
KEYCLOAK_DATABASE = "keycloak_cluster"
API_KEY, API_SECRET = "clusterkeycloak0", "a-secret-of-the-cluster-realms-provider"
API_TOKEN = f"{services.TOKEN_PREFIX}{API_KEY}.{API_SECRET}"
CACHED_API_KEY = "clustercached000"
KEYCLOAK_ADMIN_CLIENT_KEY = "a-key-of-the-cluster-realms-backend-client"


@dataclass
class Node:
    """One Keycloak node: fixed ports, so that it can be killed and started again as itself."""

    name: str
    port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)
    jgroups_port: int = field(default_factory=free_jgroups_port)
    server: KeycloakServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Cluster:
    def __init__(self, distribution, balancer, nodes, data_dir, db_url, db_user):
        self.distribution, self.balancer, self.nodes = distribution, balancer, nodes
        self.data_dir, self.db_url, self.db_user = data_dir, db_url, db_user
        self.start_times: list[tuple[str, float]] = []  # (what, seconds), for the README's figures

    @property
    def url(self) -> str:
        """Where clients reach Keycloak, and the `hostname` of every node."""
        return self.balancer.url

    def start(self, node: Node, what: str):
        node.server = self.distribution.start_node(
            node.name, self.data_dir / node.name, self.url, self.db_url, self.db_user, port=node.port,
            management_port=node.management_port, jgroups_port=node.jgroups_port, timeout=900)
        self.start_times.append((what, node.server.started_in))
        print(f"\n[cluster] {what}: node {node.name} ready in {node.server.started_in:.1f} s")

    def stop(self, node: Node):
        if node.server is not None:
            node.server.stop()
            node.server = None

    def kill(self, node: Node):
        """kill -9 of the node's process group: no shutdown, no goodbye to the cluster."""
        os.killpg(node.server.pid, signal.SIGKILL)
        node.server.process.wait(timeout=30)
        node.server = None


@pytest.fixture(scope="package")
def keycloak_database(django_db_setup, django_db_blocker):
    """Keycloak's own database, beside the test database on the same server."""
    settings = connection.settings_dict
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {KEYCLOAK_DATABASE}")
        cursor.execute(f"CREATE DATABASE {KEYCLOAK_DATABASE}")
    yield f"jdbc:postgresql://{settings['HOST']}:{settings['PORT']}/{KEYCLOAK_DATABASE}", settings["USER"]
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {KEYCLOAK_DATABASE} WITH (FORCE)")


@pytest.fixture(scope="package")
def cluster(keycloak_database, tmp_path_factory):
    """Two nodes of the pinned release, started one after the other (the first creates the schema)."""
    nodes = [Node("node-1"), Node("node-2")]
    balancer = Balancer([node.port for node in nodes])
    distribution = ClusterDistribution(keycloak_version()).open()
    made = Cluster(distribution, balancer, nodes, tmp_path_factory.mktemp("keycloak-cluster"), *keycloak_database)
    try:
        made.start(nodes[0], "first start, empty database")
        made.start(nodes[1], "second node joining")
        yield made
    finally:
        for node in nodes:
            made.stop(node)
        distribution.close()
        balancer.close()
        print("\n[cluster] node starts: " + "; ".join(f"{what} {seconds:.1f} s" for what, seconds in made.start_times))


@pytest.fixture(scope="package")
def backends(django_db_setup, tmp_path_factory, cluster):
    """Two backend processes on the test database (one worker each, with threads: a process's JWKS
    cache is its own), and the balancer the provider calls them through."""
    settings = connection.settings_dict
    url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    env = {"KEYCLOAK_ADMIN_CLIENT_KEY": KEYCLOAK_ADMIN_CLIENT_KEY, "GUNICORN_CMD_ARGS": "--threads 4"}
    started = [Backend(url, tmp_path_factory.mktemp(f"backend-{n}"), extra_env=env, workers=1) for n in (1, 2)]
    balancer = Balancer([backend.port for backend in started])
    try:
        for backend in started:
            backend.start()
        yield started, balancer
    finally:
        for backend in started:
            backend.stop()
        balancer.close()


@pytest.fixture(scope="package")
def realm(cluster, backends):
    """The tenant's realm, applied through node 1; its issuer is the balancer's."""
    _, balancer = backends
    node = cluster.nodes[0]
    info = apply_realm(node.base_url, node.server.admin_user, node.server.admin_password, balancer.url, API_TOKEN,
                       realm=REALM, cache_policy="NO_CACHE", redirect_uris=[REDIRECT_URI], admin_client=False,
                       backend_client_secret=keycloak_sessions.client_secret(REALM, KEYCLOAK_ADMIN_CLIENT_KEY))
    info["issuer"] = f"{cluster.url}/realms/{urllib.parse.quote(REALM)}"
    # Tokens and sessions must outlive a node's restart, which takes minutes on a loaded machine.
    admin = AdminClient(node.base_url, node.server.admin_user, node.server.admin_password)
    _, rep = admin.request("GET", f"/admin/realms/{REALM}")
    admin.request("PUT", f"/admin/realms/{REALM}", {**rep, "accessTokenLifespan": 3600, "ssoSessionIdleTimeout": 7200})
    return info


@pytest.fixture(scope="package")
def cached_realm(cluster, backends):
    _, balancer = backends
    node = cluster.nodes[0]
    info = apply_realm(node.base_url, node.server.admin_user, node.server.admin_password, balancer.url,
                       f"{services.TOKEN_PREFIX}{CACHED_API_KEY}.{API_SECRET}", realm=CACHED_REALM,
                       cache_policy="DEFAULT", redirect_uris=[REDIRECT_URI], admin_client=False)
    info["issuer"] = f"{cluster.url}/realms/{urllib.parse.quote(CACHED_REALM)}"
    return info


@pytest.fixture
def cached_tenant(transactional_db, cached_realm, backends):
    made = Tenant.objects.create(slug=CACHED_REALM, display_name="Cluster, cached", oidc_issuer=cached_realm["issuer"])
    provider_client(made, CACHED_API_KEY, API_SECRET)
    yield made
    for backend in backends[0]:
        backend.wait_until_idle()


@pytest.fixture
def tenant(transactional_db, realm, backends):
    """The realm's tenant, its roles and the provider's API client, committed for the backends."""
    made = Tenant.objects.create(slug=REALM, display_name="Cluster", oidc_issuer=realm["issuer"])
    for name in ("admin", "fan"):
        Role.objects.create(tenant=made, name=name)
    provider_client(made, API_KEY, API_SECRET)
    yield made
    for backend in backends[0]:
        backend.wait_until_idle()
