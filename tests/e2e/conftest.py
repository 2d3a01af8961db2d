"""A real Keycloak (with our provider) in front of a real backend process on the test database.

Every test here runs once on each supported Keycloak release (`KEYCLOAK_VERSIONS`: the pinned one,
then the oldest, which production's realms run; its test ids say which). The `keycloak` fixture is
parametrized at package scope, so pytest runs all of one release's tests before the other's, and
only one Keycloak runs at a time: the first, with the backend and realms that depend on it, is
stopped before the second starts. `KEYCLOAK_VERSIONS=26.5.4` (comma- or space-separated) narrows
the run while working, or names another release to try.

The backend runs as its own gunicorn process, so a test can stop and start it, and its access
log is the record of what Keycloak asked. Tests commit their rows (the backend process reads
them) and pytest-django flushes them after each test.

Two realms, as in production: `demo`, a customer's (tenant `e2e`, which most tests use), and
`operators`, the operators' tenant's, the only realm the admin's single sign-on trusts. The
backend refuses to start unless `ADMIN_OIDC_ISSUER` is the operators' tenant's issuer, so that
tenant is there whenever it starts (before the first test, and in every test through `e2e_tenant`).
"""

import hashlib
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
from django.db import connection

from keycloak_bridge.dev.keycloak_runner import start_keycloak, supported_versions
from keycloak_bridge.dev.processes import free_port, wait_until_answers
from keycloak_bridge import sessions as keycloak_sessions
from keycloak_bridge.dev.realm import AdminClient, apply_realm
from tests import fake_twilio
from users import services
from users.models import ApiClient, Role, Tenant

REALM = "demo"
OPERATORS_REALM = "operators"
ROOT = Path(__file__).resolve().parents[2]
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never contacted: the test reads the code from Location
ACCESS_LINE = re.compile(r'"(GET|POST|PUT|PATCH|DELETE) (\S+) HTTP/1\.[01]"')
KEYCLOAK_VERSIONS = os.environ.get("KEYCLOAK_VERSIONS", "").replace(",", " ").split() or supported_versions()


def release(version: str) -> tuple[int, ...]:
    """A Keycloak version as a tuple that compares in release order: "26.3.2" -> (26, 3, 2)."""
    return tuple(int(part) for part in re.findall(r"\d+", version))


class Backend:
    """gunicorn serving the backend on the test database, on a fixed loopback port."""

    def __init__(self, database_url: str, log_dir: Path, extra_env: dict[str, str] | None = None, workers: int = 2):
        self.port = free_port()
        self.workers = workers
        self.database_url = database_url
        self.extra_env = dict(extra_env or {})
        self.access_log = log_dir / "access.log"
        self.error_log = log_dir / "error.log"
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        # No token or issuer cache: each test re-creates its tenant and the provider's client row.
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": self.database_url,
               "DATABASE_CONN_MAX_AGE": "0", "API_CLIENT_CACHE_SECONDS": "0",
               "OIDC_ISSUER_CACHE_SECONDS": "0", "OIDC_LEEWAY_SECONDS": "1", **self.extra_env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "identity.wsgi", "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}",
             "--access-logfile", str(self.access_log), "--error-logfile", str(self.error_log)],
            cwd=ROOT, env=env,
        )
        if not wait_until_answers(f"{self.url}/readyz", 180, self.process):
            raise RuntimeError(f"the backend did not start; see {self.error_log}")

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def requests(self) -> list[tuple[str, str]]:
        """(method, unquoted path with query) of every request served so far."""
        text = self.access_log.read_text() if self.access_log.exists() else ""
        return [(m, urllib.parse.unquote_plus(p)) for m, p in ACCESS_LINE.findall(text)]

    def wait_until_idle(self, quiet: float = 0.3, timeout: float = 5):
        """Until no request has been logged for `quiet` seconds: Keycloak reports logins after
        the fact, and a report landing while the test's rows are flushed could deadlock."""
        deadline = time.monotonic() + timeout
        size = -1
        while time.monotonic() < deadline:
            current = self.access_log.stat().st_size if self.access_log.exists() else 0
            if current == size:
                return
            size = current
            time.sleep(quiet)

    def mark(self) -> int:
        """How many requests were served so far, once the log has caught up: gunicorn writes a
        request's line just after sending its response, so a count taken at once can miss it."""
        self.wait_until_idle(quiet=0.2)
        return len(self.requests())

    def paths_since(self, mark: int, expected_prefix: str, timeout: float = 5) -> list[str]:
        """Paths served after the first `mark` requests, once one starting with `expected_prefix`
        is logged: gunicorn writes the access line just after it sends the response."""
        deadline = time.monotonic() + timeout
        while True:
            paths = [path for _, path in self.requests()[mark:]]
            if any(p.startswith(expected_prefix) for p in paths) or time.monotonic() > deadline:
                return paths
            time.sleep(0.05)


class Outbox:
    """E-mails as Django's file-based backend writes them: one file per message. The folder serves
    the whole run (both Keycloak releases), so a link is taken from the messages no earlier call
    has returned: an older e-mail to the same address is never mistaken for the one just asked."""

    def __init__(self, path: Path):
        self.path = path
        self.taken: set[str] = set()

    def _to(self, address: str) -> list[tuple[str, str]]:
        """(file name, text) of each message to `address`, oldest first."""
        files = sorted(self.path.glob("*.log"), key=lambda f: f.stat().st_mtime_ns)
        texts = ((f.name, f.read_text()) for f in files)
        return [(name, text) for name, text in texts if re.search(rf"^To: {re.escape(address)}$", text, re.M)]

    def messages_to(self, address: str) -> list[str]:
        return [text for _, text in self._to(address)]

    def wait_link(self, address: str, timeout: float = 10) -> str:
        """The link in the next e-mail to `address` that no earlier call returned (sends run after
        the answer); every message to it seen so far is then taken."""
        deadline = time.monotonic() + timeout
        while not (new := [(name, text) for name, text in self._to(address) if name not in self.taken]):
            assert time.monotonic() < deadline, f"no new e-mail to {address} within {timeout} s"
            time.sleep(0.05)
        self.taken.update(name for name, _ in new)
        return re.search(r"^(https?://\S+)$", new[-1][1], re.M).group(1)


# The tokens Keycloak's components hold for the whole run; their rows are re-created for every
# test, since each test's rows are flushed when it ends.
API_KEY, API_SECRET = "e2ekeycloak00000", secrets.token_urlsafe(32)
API_TOKEN = f"{services.TOKEN_PREFIX}{API_KEY}.{API_SECRET}"
OPERATORS_API_KEY, OPERATORS_API_SECRET = "e2eoperators0000", secrets.token_urlsafe(32)
OPERATORS_API_TOKEN = f"{services.TOKEN_PREFIX}{OPERATORS_API_KEY}.{OPERATORS_API_SECRET}"
# The operators' realm's identity-admin client, chosen before the backend starts: single sign-on.
ADMIN_CLIENT_SECRET = secrets.token_urlsafe(32)
# The key of every realm's identity-backend client secret, with which the backend ends sessions.
KEYCLOAK_ADMIN_CLIENT_KEY = secrets.token_urlsafe(32)


def backend_client_secret(realm: str) -> str:
    """The realm's identity-backend client secret, as the backend derives it."""
    return keycloak_sessions.client_secret(realm, KEYCLOAK_ADMIN_CLIENT_KEY)


def provider_client(tenant, key, secret):
    """The API client of a realm's provider, with every scope, as connect_keycloak makes it."""
    return ApiClient.objects.create(tenant=tenant, name="keycloak", key=key, scopes=sorted(services.KNOWN_SCOPES),
                                    secret_hash=hashlib.sha256(secret.encode()).hexdigest())


def ensure_operators_tenant(issuer) -> Tenant:
    """The operators' tenant of the `operators` realm, its roles and its provider's API client."""
    tenant, created = Tenant.objects.get_or_create(
        slug=OPERATORS_REALM, defaults={"display_name": "Operators", "oidc_issuer": issuer, "is_operators": True})
    if created:
        for name in ("operator", "superuser", "fan"):
            Role.objects.create(tenant=tenant, name=name)
        provider_client(tenant, OPERATORS_API_KEY, OPERATORS_API_SECRET)
    return tenant


@pytest.fixture
def operators_tenant(transactional_db, operators_realm, backend):
    """The operators' tenant (read-only through /v1), committed for the backend to see."""
    yield ensure_operators_tenant(operators_realm["issuer"])
    backend.wait_until_idle()


@pytest.fixture
def e2e_tenant(transactional_db, realm, backend, operators_tenant):
    """The customer realm's tenant, its roles and the provider's API client, committed for the
    backend to see (with the operators' tenant, which the backend needs to start)."""
    tenant = Tenant.objects.create(slug="e2e", display_name="End to end", oidc_issuer=realm["issuer"])
    for name in ("admin", "celebrity", "fan"):
        Role.objects.create(tenant=tenant, name=name)
    provider_client(tenant, API_KEY, API_SECRET)
    yield tenant
    backend.wait_until_idle()


@pytest.fixture(scope="package")
def sms():
    """The fake Twilio the backend texts codes to, for the whole package."""
    with fake_twilio.running() as state:
        yield state


@pytest.fixture(scope="package")
def outbox(tmp_path_factory):
    """The folder where the backend's file-based e-mail backend writes every message."""
    return Outbox(tmp_path_factory.mktemp("outbox"))


@pytest.fixture(scope="package")
def backend(django_db_setup, django_db_blocker, tmp_path_factory, keycloak, sms, outbox):
    settings = connection.settings_dict
    url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    operators_issuer = f"{keycloak.base_url}/realms/{OPERATORS_REALM}"
    with django_db_blocker.unblock():  # committed: the backend refuses to start without it
        ensure_operators_tenant(operators_issuer)
    env = {"ADMIN_OIDC_ISSUER": operators_issuer,
           "ADMIN_OIDC_CLIENT_SECRET": ADMIN_CLIENT_SECRET,
           "KEYCLOAK_ADMIN_CLIENT_KEY": KEYCLOAK_ADMIN_CLIENT_KEY,
           **fake_twilio.settings_for(sms),
           "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(outbox.path),
           "MAGIC_LINK_URL_TEMPLATE": f"{keycloak.base_url}/realms/{REALM}/magic-link?token={{token}}&state={{state}}",
           # every test's sends come from Keycloak on 127.0.0.1, and the throttle's cache outlives tests
           "VERIFICATION_SEND_RATE_PER_IP": "10000/hour"}
    server = Backend(url, tmp_path_factory.mktemp("backend"), extra_env=env)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package", params=KEYCLOAK_VERSIONS, ids=[f"keycloak-{v}" for v in KEYCLOAK_VERSIONS])
def keycloak(request, tmp_path_factory):
    """Keycloak of one supported release (the parameter), with our jar; `.version` says which."""
    version = request.param
    server = start_keycloak(data_dir=tmp_path_factory.mktemp(f"keycloak-{version}"), version=version,
                            timeout=900)  # the first start builds Keycloak with our jar: slow under load
    yield server
    server.stop()


@pytest.fixture(scope="package")
def realm(keycloak, backend):
    """The customer's realm: no identity-admin client, as the admin does not trust it."""
    info = apply_realm(keycloak.base_url, keycloak.admin_user, keycloak.admin_password, backend.url,
                       API_TOKEN, realm=REALM, cache_policy="NO_CACHE",
                       redirect_uris=[REDIRECT_URI], admin_client=False,
                       backend_client_secret=backend_client_secret(REALM))
    info["base_url"] = keycloak.base_url
    return info


@pytest.fixture(scope="package")
def operators_realm(keycloak, backend):
    """The operators' realm, whose identity-admin client signs operators in to the admin."""
    info = apply_realm(keycloak.base_url, keycloak.admin_user, keycloak.admin_password, backend.url,
                       OPERATORS_API_TOKEN, realm=OPERATORS_REALM, cache_policy="NO_CACHE",
                       redirect_uris=[REDIRECT_URI], admin_base_url=backend.url,
                       admin_client_secret=ADMIN_CLIENT_SECRET)
    info["base_url"] = keycloak.base_url
    return info


@pytest.fixture(scope="package")
def kc_admin(keycloak, realm):
    return AdminClient(keycloak.base_url, keycloak.admin_user, keycloak.admin_password)
