"""Keycloak in production mode, as cluster nodes on loopback: for the cluster tests.

A cluster needs ``kc.sh build --db=postgres --cache=ispn`` and ``kc.sh start --optimized``. The
build rewrites the installation it runs in, and ``start-dev`` (the end-to-end tests, ``make run``)
re-augments the shared one in ``~/.cache/identity-backend/keycloak/<version>`` whenever it starts,
so the nodes run from a copy of their own: ``~/.cache/identity-backend/keycloak-cluster/<version>``
(or ``$KEYCLOAK_CLUSTER_CACHE_DIR/<version>``), built once and built again only when the provider
jar's contents or the build options change.

A ``ClusterDistribution`` is held while nodes run: it keeps a shared lock on the copy, and a rebuild
(another checkout's jar) waits for an exclusive one, so it never rewrites a running installation.

Each node: its own HTTP and management ports, one shared PostgreSQL database, Infinispan with the
``jdbc-ping`` stack (each node writes its JGroups address into that database and finds the others
there), JGroups bound to 127.0.0.1 on a port of its own. ``hostname`` is the URL that clients use
(a load balancer's): every node then issues tokens with the same ``iss``, and accepts refresh
tokens another node issued, which it would refuse if each named itself.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import random
import shutil
import socket
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Sequence

from keycloak_bridge.dev.keycloak_runner import (
    DEFAULT_ADMIN_PASSWORD, DEFAULT_ADMIN_USER, DEFAULT_START_TIMEOUT, KeycloakRunnerError, KeycloakServer,
    _file_lock, _say, build_provider, fetch_distribution, install_provider, keycloak_version, launch,
)
from keycloak_bridge.dev.processes import free_port

BUILD_OPTIONS = ("--db=postgres", "--cache=ispn", "--health-enabled=true")
STAMP = ".identity-backend-build"
FD_SOCK2_OFFSET = 50000  # JGroups' failure detection listens on the node's port plus this


def free_jgroups_port() -> int:
    """A loopback port for JGroups whose failure-detection port (plus FD_SOCK2_OFFSET) is free too."""
    for _ in range(200):
        port = random.randrange(7800, 65535 - FD_SOCK2_OFFSET)
        try:
            for candidate in (port, port + FD_SOCK2_OFFSET):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise KeycloakRunnerError("no free port pair for JGroups on 127.0.0.1")


def cluster_cache_dir(version: str) -> Path:
    base = os.environ.get("KEYCLOAK_CLUSTER_CACHE_DIR") or str(
        Path.home() / ".cache" / "identity-backend" / "keycloak-cluster")
    return Path(base).expanduser() / version


def _jar_fingerprint(jar: Path) -> str:
    """The jar's entries (names and CRCs), not its bytes: a rebuild from the same sources differs
    only in timestamps, and must not rebuild Keycloak."""
    digest = hashlib.sha256(" ".join(BUILD_OPTIONS).encode())
    with zipfile.ZipFile(jar) as archive:
        for entry in sorted(archive.infolist(), key=lambda e: e.filename):
            digest.update(f"{entry.filename}:{entry.CRC}\n".encode())
    return digest.hexdigest()


class ClusterDistribution:
    """The production-mode copy of Keycloak ``version`` with our jar, built and locked for use."""

    def __init__(self, version: str | None = None):
        self.version = version or keycloak_version()
        self.root = cluster_cache_dir(self.version)
        self.home = self.root / f"keycloak-{self.version}"
        self._lock = None

    def open(self, build_timeout: float = 1800) -> "ClusterDistribution":
        jar = build_provider()
        fingerprint = _jar_fingerprint(jar)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.root / ".use.lock", "w")
        while True:
            fcntl.flock(self._lock, fcntl.LOCK_EX)
            if self._stamp() != fingerprint:
                self._copy()
                install_provider(self.home, jar)
                self._build(fingerprint, build_timeout)
            fcntl.flock(self._lock, fcntl.LOCK_SH)  # not atomic: check that nobody rebuilt in between
            if self._stamp() == fingerprint:
                return self

    def close(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> "ClusterDistribution":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stamp(self) -> str | None:
        stamp = self.home / STAMP
        return stamp.read_text().strip() if stamp.exists() else None

    def _copy(self) -> None:
        """The shared distribution without its data and providers (copied while no start-dev runs
        there), once."""
        if (self.home / "bin" / "kc.sh").exists():
            return
        shared = fetch_distribution(self.version)
        staging = self.root / f".copy-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        _say(f"copying Keycloak {self.version} into {self.home} for production-mode builds")

        def left_out(folder: str, names: list[str]) -> list[str]:
            if Path(folder) == shared:
                return [n for n in names if n == "data"]
            if Path(folder) == shared / "providers":
                return [n for n in names if n.endswith(".jar")]
            return []

        with _file_lock(shared.parent / ".start.lock"):
            shutil.copytree(shared, staging, symlinks=True, ignore=left_out)
        staging.rename(self.home)

    def _build(self, fingerprint: str, timeout: float) -> None:
        (self.home / STAMP).unlink(missing_ok=True)
        _say(f"kc.sh build {' '.join(BUILD_OPTIONS)} in {self.home}")
        started = time.monotonic()
        result = subprocess.run([str(self.home / "bin" / "kc.sh"), "build", *BUILD_OPTIONS],
                                cwd=self.home, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise KeycloakRunnerError("kc.sh build failed:\n" + (result.stdout + result.stderr)[-4000:])
        (self.home / STAMP).write_text(fingerprint)
        _say(f"built in {time.monotonic() - started:.0f}s")

    def start_node(
        self,
        name: str,
        data_dir: Path,
        hostname: str,
        db_url: str,
        db_username: str,
        db_password: str = "unused",
        port: int | None = None,
        management_port: int | None = None,
        jgroups_port: int | None = None,
        timeout: float = DEFAULT_START_TIMEOUT,
        extra_args: Sequence[str] = (),
    ) -> KeycloakServer:
        """Starts one node (``kc.sh start --optimized``) and waits until it is ready. The first
        node on a new database creates the schema and the bootstrap admin; start nodes one at a
        time."""
        if self._lock is None:
            raise KeycloakRunnerError("open() the distribution before starting nodes")
        port = port or free_port()
        management_port = management_port or free_port()
        jgroups_port = jgroups_port or free_jgroups_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path = data_dir / "keycloak.log"
        env = {**os.environ,
               "KC_BOOTSTRAP_ADMIN_USERNAME": DEFAULT_ADMIN_USER, "KC_BOOTSTRAP_ADMIN_PASSWORD": DEFAULT_ADMIN_PASSWORD}
        env.setdefault("JAVA_OPTS_KC_HEAP", "-XX:MaxRAMPercentage=20 -XX:InitialRAMPercentage=3")
        # The TCP stack reads its port from jgroups.tcp.port; 26.5's --cache-embedded-network-bind-port
        # sets jgroups.bind_port, which it does not read (the node stays on 7800, or the next free one).
        env["JAVA_OPTS_APPEND"] = f"{env.get('JAVA_OPTS_APPEND', '')} -Djgroups.tcp.port={jgroups_port}".strip()
        args = [
            str(self.home / "bin" / "kc.sh"), "start", "--optimized",
            "--http-enabled=true", "--http-host=127.0.0.1", f"--http-port={port}",
            f"--http-management-port={management_port}",
            f"--hostname={hostname}",
            f"--db-url={db_url}", f"--db-username={db_username}", f"--db-password={db_password}",
            "--cache-stack=jdbc-ping",
            "--cache-embedded-network-bind-address=127.0.0.1",
            *extra_args,
        ]
        _say(f"starting cluster node {name} on http://127.0.0.1:{port} (management {management_port}, "
             f"JGroups 127.0.0.1:{jgroups_port}), log {log_path}")
        server = launch(args, env, KeycloakServer(
            base_url=f"http://127.0.0.1:{port}", port=port, management_port=management_port,
            admin_user=DEFAULT_ADMIN_USER, admin_password=DEFAULT_ADMIN_PASSWORD, data_dir=data_dir,
            log_path=log_path, home=self.home, version=self.version,
        ), timeout)
        _say(f"node {name} ready after {server.started_in:.0f}s")
        return server
