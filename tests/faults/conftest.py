"""A backend under gunicorn on a PostgreSQL server of its own, for tests that kill one or the other.

The server is this package's, so that stopping it leaves the suite's database alone. It starts as a
copy of the migrated test database (pg_dump: quicker than migrating again), and its tenant and API
client are made by the project's services in a process of their own. The tests read the tables
back with plain SQL, to compare what the clients were told with what was stored.

The backend runs with the production defaults for connections (kept 60 s, health-checked).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from keycloak_bridge.dev.processes import free_port, wait_until_answers
from tests.postgres import Server, install_server

ROOT = Path(__file__).resolve().parents[2]
SCOPES = ["users:read", "users:write", "profiles:read", "profiles:write", "scim"]
# Every request is bounded: a request that takes longer counts as hung.
REQUEST_TIMEOUT = 10


class Database(Server):
    """A throw-away PostgreSQL cluster that a test may stop and start again (same port, same data)."""

    def halt(self):
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", stdout=subprocess.DEVNULL)

    def resume(self):
        self.start()

    def copy_from(self, settings: dict):
        """Schema and rows of another database on loopback (the migrated test database)."""
        dump = self._run("pg_dump", "--no-owner", "-h", settings["HOST"], "-p", str(settings["PORT"]),
                         "-U", settings["USER"], "-d", settings["NAME"], capture_output=True).stdout
        self._run("psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "-d", "identity", input=dump, stdout=subprocess.DEVNULL)

    def rows(self, sql: str, *params) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            return conn.execute(sql, params).fetchall()


def django_env(database_url: str) -> dict:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url}


SEED = """
import json, django
django.setup()
from users import services
from users.models import Tenant
tenant = Tenant.objects.create(slug="faults", display_name="Faults")
for name in ("fan", "vip"):
    services.create_role(tenant, name)
_, token = services.create_api_client(tenant, "faults-load", %r)
print(json.dumps({"tenant_id": tenant.pk, "token": token}))
"""


class Gunicorn:
    """gunicorn serving the backend on one loopback port, which it keeps across restarts."""

    def __init__(self, database_url: str, log_dir: Path, workers: int = 2):
        self.port = free_port()
        self.database_url = database_url
        self.workers = workers
        self.log = log_dir / "gunicorn.log"
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "identity.wsgi", "--workers", str(self.workers),
                 "--bind", f"127.0.0.1:{self.port}"],
                cwd=ROOT, env=django_env(self.database_url), stdout=log, stderr=subprocess.STDOUT)
        if not wait_until_answers(f"{self.url}/readyz", 120, self.process):
            raise RuntimeError(f"gunicorn did not start; see {self.log}")
        deadline = time.monotonic() + 30
        while len(self.worker_pids()) < self.workers and time.monotonic() < deadline:
            time.sleep(0.05)

    def worker_pids(self) -> set[int]:
        if self.process is None:
            return set()
        children = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid and fields[0] != "Z":
                children.add(int(stat.parent.name))
        return children

    def pids(self) -> set[int]:
        """The master's and its workers'."""
        return {self.process.pid, *self.worker_pids()}

    def kill_all(self) -> set[int]:
        """SIGKILL to the master first (so that it starts no new worker), then to every worker."""
        workers = self.worker_pids()
        os.kill(self.process.pid, signal.SIGKILL)
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.02)
        killed = {self.process.pid, *workers}
        self.process = None
        return killed

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer of its own (an HTTPError with its status)


_opener = urllib.request.build_opener(_NoRedirect)


class Api:
    """HTTP calls with the load's token; every call is bounded by REQUEST_TIMEOUT."""

    def __init__(self, backend: Gunicorn, token: str):
        self.backend = backend
        self.token = token

    def call(self, method: str, path: str, body=None, headers=None, auth=True) -> dict:
        """`status` None when no answer came (refused, reset, timed out), with `error` saying why."""
        request = urllib.request.Request(f"{self.backend.url}{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode())
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        started = time.monotonic()
        result = {"method": method, "path": path, "started": started}
        try:
            with _opener.open(request, timeout=REQUEST_TIMEOUT) as response:
                result.update(status=response.status, headers=dict(response.headers), raw=response.read())
        except urllib.error.HTTPError as error:
            result.update(status=error.code, headers=dict(error.headers), raw=error.read())
        except (OSError, urllib.error.URLError) as error:  # refused, reset, timed out
            result.update(status=None, headers={}, raw=b"", error=repr(error))
        result["ended"] = time.monotonic()
        result["elapsed"] = result["ended"] - started
        try:
            result["json"] = json.loads(result["raw"]) if result["raw"] else None
        except ValueError:
            result["json"] = None
        return result


class Load:
    """`threads` clients running `step(api, thread_number, log)` until stopped; `log` collects calls."""

    def __init__(self, api: Api, threads: int, step):
        self.api = api
        self.step = step
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.calls: list[dict] = []
        self.failures: list[BaseException] = []
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def log(self, call: dict) -> dict:
        with self.lock:
            self.calls.append(call)
        return call

    def _run(self, number):
        try:
            self.step(self, number)
        except BaseException as error:  # noqa: BLE001 (reported by stop())
            self.failures.append(error)

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def count(self, predicate) -> int:
        with self.lock:
            return sum(1 for call in self.calls if predicate(call))

    def wait_for(self, predicate, count: int, timeout: float = 180):
        deadline = time.monotonic() + timeout
        while self.count(predicate) < count:
            assert time.monotonic() < deadline, f"fewer than {count} such calls in {timeout} s"
            assert not self.failures, self.failures
            time.sleep(0.02)

    def stop(self) -> list[dict]:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT * 3)
        assert not self.failures, self.failures
        return sorted(self.calls, key=lambda call: call["started"])


@pytest.fixture(scope="package")
def database(django_db_setup):
    server = Database(install_server(), fast=True)
    try:
        server.start()
        server.copy_from(connection.settings_dict)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def seeded(database):
    """The tenant `faults`, its roles `fan` and `vip`, and an API client's token."""
    done = subprocess.run([sys.executable, "-c", SEED % (SCOPES,)], cwd=ROOT, env=django_env(database.url),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="package")
def backend(database, seeded, tmp_path_factory):
    server = Gunicorn(database.url, tmp_path_factory.mktemp("faults"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def http(backend, seeded):
    if backend.process is None:  # a test that killed it failed before starting it again
        backend.start()
    return Api(backend, seeded["token"])
