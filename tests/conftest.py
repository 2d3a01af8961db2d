import itertools
import types

import pytest
from rest_framework.test import APIClient

pytest.register_assert_rewrite("tests.access")  # the shared access checks (before they are imported)

from tests.factories import TenantFactory  # noqa: E402
from users import services  # noqa: E402
from users.models import User  # noqa: E402

ALL_SCOPES = ["users:read", "users:write", "credentials:verify"]
_names = itertools.count()


@pytest.fixture
def tenant(db):
    return TenantFactory(slug="acme")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(slug="globex")


@pytest.fixture
def frozen_clock(monkeypatch):
    """`frozen_clock(module, now)` makes `module._clock()` answer `.now` of what it returns, which
    the test moves: throttles and back-offs are tested without waiting."""

    def freeze(module, now: float):
        clock = types.SimpleNamespace(now=now)
        monkeypatch.setattr(module, "_clock", lambda: clock.now, raising=False)
        return clock

    return freeze


@pytest.fixture
def operator(client, db):
    """A superuser signed in to the admin through `client`."""
    user = User.objects.create_superuser("root", "root@example.com", "an operator passphrase")
    client.force_login(user)
    return user


@pytest.fixture
def operators(db):
    """The operators' tenant: the only one whose users can be operators; read-only through /v1."""
    return TenantFactory(slug="ops", display_name="Operators", is_operators=True)


@pytest.fixture
def make_client(db):
    """An HTTP client that authenticates as a new API client of `tenant` with `scopes`."""

    def make(tenant, scopes=ALL_SCOPES, name=None):
        _, token = services.create_api_client(tenant, name or f"client-{next(_names)}", scopes)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        client.token = token
        return client

    return make


@pytest.fixture
def api(tenant, make_client):
    return make_client(tenant)


@pytest.fixture
def other_api(other_tenant, make_client):
    return make_client(other_tenant)


@pytest.fixture(scope="session")
def broker():
    """One private RabbitMQ node for the session (`events.broker_server`), removed at its end."""
    from events.broker_server import Broker

    node = Broker().start()
    yield node
    node.stop()


# --- profiles ---------------------------------------------------------------------------------

import http.server  # noqa: E402
import json  # noqa: E402

from tests.local_server import JsonHandler, serving  # noqa: E402

PROFILE_SCOPES = ["profiles:read", "profiles:write"]


@pytest.fixture
def papi(tenant, make_client):
    """A service client of `tenant` with both profiles scopes (the tenant's admin)."""
    return make_client(tenant, PROFILE_SCOPES)


@pytest.fixture
def reader(tenant, make_client):
    return make_client(tenant, ["profiles:read"])


@pytest.fixture
def other_papi(other_tenant, make_client):
    return make_client(other_tenant, PROFILE_SCOPES)


@pytest.fixture
def anon(db):
    return APIClient()


@pytest.fixture
def fake_http_server():
    """A local HTTP server on 127.0.0.1 (port 0) that records requests and answers with `respond`.

    `respond(method, path, headers, body)` returns (status, JSON-able body); set it on the fixture.
    """

    class Server:
        def __init__(self):
            self.requests = []
            self.respond = lambda method, path, headers, body: (200, {})

    state = Server()

    class Handler(JsonHandler):
        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            state.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                   "body": body})
            status, answer = state.respond(self.command, self.path, self.headers, body)
            self.answer(status, answer)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler), state):
        yield state
