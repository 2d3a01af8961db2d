"""Build the Java provider, fetch the official Keycloak distribution and run it on loopback.

Keycloak comes from Maven Central as ``org.keycloak:keycloak-quarkus-dist:<version>:zip``, fetched
once through Maven into a cache outside the repository (``~/.cache/identity-backend/keycloak``, or
``$KEYCLOAK_CACHE_DIR``; one sub-folder per version) and unzipped there. The supported releases are
in ``keycloak_bridge/provider/pom.xml``: ``keycloak.version`` is the pinned one, which runs unless
another is asked for, and ``keycloak.spi.version`` the oldest, whose SPI the one jar is compiled
against (so that it runs on both).

Library use (e.g. a pytest session fixture)::

    from keycloak_bridge.dev.keycloak_runner import start_keycloak
    server = start_keycloak(data_dir=tmp_path / "kc")     # builds, fetches, starts, waits
    server = start_keycloak(data_dir=..., version="26.3.2")  # another supported release
    try:
        ... server.base_url, server.admin_user, server.admin_password ...
    finally:
        server.stop()

Command line::

    python -m keycloak_bridge.dev.keycloak_runner build      # provider jar (only if stale)
    python -m keycloak_bridge.dev.keycloak_runner fetch      # distribution into the cache
    python -m keycloak_bridge.dev.keycloak_runner run --port 8080 --data-dir var/keycloak
    python -m keycloak_bridge.dev.keycloak_runner run --keycloak-version 26.3.2 --data-dir var/kc263
    python -m keycloak_bridge.dev.keycloak_runner start --port 8080 --data-dir var/keycloak  # background
    python -m keycloak_bridge.dev.keycloak_runner stop --data-dir var/keycloak

Admin credentials come from ``KC_BOOTSTRAP_ADMIN_USERNAME`` / ``KC_BOOTSTRAP_ADMIN_PASSWORD``
(default ``admin`` / ``admin``, for local development only). They create the master-realm admin
the first time a data directory is used.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from keycloak_bridge.dev.processes import free_port

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "provider"
POM = PROVIDER_DIR / "pom.xml"
JAR_NAME = "identity-backend-keycloak-provider.jar"
JAR = PROVIDER_DIR / "target" / JAR_NAME
DIST_ARTIFACT = "org.keycloak:keycloak-quarkus-dist:{version}:zip"

DEFAULT_ADMIN_USER = "admin"
DEFAULT_ADMIN_PASSWORD = "admin"
DEFAULT_START_TIMEOUT = 600.0  # a cold start augments and creates the schema: minutes on a busy machine


class KeycloakRunnerError(RuntimeError):
    """Building, fetching or starting Keycloak failed."""


def _say(message: str) -> None:
    print(f"[keycloak] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- version and paths


def _pom_property(name: str) -> str:
    match = re.search(rf"<{re.escape(name)}>\s*([^<\s]+)\s*</{re.escape(name)}>", POM.read_text())
    if not match:
        raise KeycloakRunnerError(f"no <{name}> in {POM}")
    return match.group(1)


def keycloak_version() -> str:
    """The Keycloak release pinned in the provider's pom.xml: what runs unless told otherwise."""
    return _pom_property("keycloak.version")


def supported_versions() -> list[str]:
    """The releases the one jar supports and the end-to-end tests run, the pinned one first: it and
    the oldest (``keycloak.spi.version``, the SPI the jar is compiled against)."""
    return list(dict.fromkeys([keycloak_version(), _pom_property("keycloak.spi.version")]))


def cache_dir(version: str | None = None) -> Path:
    """Where the distribution of ``version`` is kept: ``$KEYCLOAK_CACHE_DIR/<version>``."""
    base = os.environ.get("KEYCLOAK_CACHE_DIR") or str(Path.home() / ".cache" / "identity-backend" / "keycloak")
    return Path(base).expanduser() / (version or keycloak_version())


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise KeycloakRunnerError("Maven (mvn) is not on PATH; it builds the provider and fetches Keycloak")
    return mvn


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock (several test workers may start Keycloak at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- provider jar


def _newest_source_mtime() -> float:
    newest = POM.stat().st_mtime
    for path in (PROVIDER_DIR / "src" / "main").rglob("*"):
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
    return newest


def provider_jar_is_stale() -> bool:
    return not JAR.exists() or JAR.stat().st_mtime < _newest_source_mtime()


def build_provider(force: bool = False) -> Path:
    """``mvn -q -B -DskipTests package`` when the jar is missing or older than its sources."""
    with _file_lock(PROVIDER_DIR / "target" / ".build.lock"):
        if force or provider_jar_is_stale():
            _say("building the provider jar (mvn -q -B -DskipTests package)")
            started = time.monotonic()
            result = subprocess.run(
                [_mvn(), "-q", "-B", "-DskipTests", "package"],
                cwd=PROVIDER_DIR, capture_output=True, text=True,
            )
            if result.returncode != 0 or not JAR.exists():
                raise KeycloakRunnerError(
                    "provider build failed:\n" + (result.stdout + result.stderr)[-4000:]
                )
            _say(f"built {JAR.name} in {time.monotonic() - started:.0f}s")
    return JAR


# --------------------------------------------------------------------------- distribution


def distribution_home(version: str | None = None) -> Path:
    version = version or keycloak_version()
    return cache_dir(version) / f"keycloak-{version}"


def fetch_distribution(version: str | None = None) -> Path:
    """Downloads (through Maven) and unzips the Quarkus distribution once; returns its home."""
    version = version or keycloak_version()
    target = cache_dir(version)
    home = distribution_home(version)
    with _file_lock(target / ".fetch.lock"):
        if (home / "bin" / "kc.sh").exists():
            return home
        artifact = DIST_ARTIFACT.format(version=version)
        zip_path = target / f"keycloak-quarkus-dist-{version}.zip"
        if not zip_path.exists():
            _say(f"downloading {artifact} from Maven Central (about 180 MB, once) ...")
            # interactive Maven shows a live download progress bar; batch mode when not on a terminal
            batch = [] if sys.stderr.isatty() else ["-B"]
            result = subprocess.run(
                [_mvn(), *batch, "-Dstyle.color=never", "dependency:copy",
                 f"-Dartifact={artifact}", f"-DoutputDirectory={target}"],
                cwd=target, stdout=sys.stderr, stderr=subprocess.STDOUT,
            )
            if result.returncode != 0 or not zip_path.exists():
                raise KeycloakRunnerError(f"could not fetch {artifact} through Maven (exit {result.returncode})")
        _say(f"unpacking {zip_path.name} into {target}")
        staging = target / f".unpack-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
            step = max(1, len(members) // 10)
            for index, member in enumerate(members, 1):
                extracted = Path(archive.extract(member, staging))
                mode = (member.external_attr >> 16) & 0o777
                if mode and not member.is_dir():
                    extracted.chmod(mode)
                if index % step == 0 or index == len(members):
                    _say(f"  unpacked {index}/{len(members)} files ({100 * index // len(members)}%)")
        unpacked = staging / f"keycloak-{version}"
        if not (unpacked / "bin" / "kc.sh").exists():
            raise KeycloakRunnerError(f"{zip_path} does not contain keycloak-{version}/bin/kc.sh")
        for script in (unpacked / "bin").glob("*.sh"):
            script.chmod(0o755)
        unpacked.rename(home)
        shutil.rmtree(staging, ignore_errors=True)
        zip_path.unlink(missing_ok=True)  # Maven's local repository keeps a copy
        _say(f"Keycloak {version} ready in {home}")
    return home


def install_provider(home: Path, jar: Path | None = None) -> Path:
    """Copies the provider jar into ``<home>/providers`` (dev mode rebuilds when it changes)."""
    jar = jar or JAR
    dest = home / "providers" / JAR_NAME
    if not dest.exists() or dest.read_bytes() != jar.read_bytes():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".tmp")
        shutil.copyfile(jar, tmp)
        tmp.replace(dest)
    return dest


# --------------------------------------------------------------------------- running


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class KeycloakServer:
    """A running Keycloak; ``stop()`` terminates its whole process group."""

    base_url: str
    port: int
    management_port: int
    admin_user: str
    admin_password: str
    data_dir: Path
    log_path: Path
    home: Path
    process: subprocess.Popen | None = field(default=None, repr=False)
    pid: int | None = None
    version: str | None = None
    started_in: float | None = None

    def is_running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return self.pid is not None and _pid_alive(self.pid)

    def stop(self, timeout: float = 30.0) -> None:
        pid = self.process.pid if self.process is not None else self.pid
        if pid is None:
            return
        _terminate_group(pid, timeout)
        if self.process is not None:
            with contextlib.suppress(Exception):
                self.process.wait(timeout=5)
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / "keycloak.pid").unlink()

    def log_tail(self, lines: int = 60) -> str:
        return _tail(self.log_path, lines)

    def __enter__(self) -> "KeycloakServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _terminate_group(pid: int, timeout: float) -> None:
    """SIGTERM to the process group Keycloak leads, then SIGKILL if it does not exit in time."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    if pgid != pid:  # only ever signal a group this runner created (the server leads its own)
        pgid = None
    with contextlib.suppress(ProcessLookupError):
        if pgid is not None:
            os.killpg(pgid, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
            if finished:
                break
        except ChildProcessError:
            if not _pid_alive(pid):
                break
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError):
            if pgid is not None:
                os.killpg(pgid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until_ready(server: KeycloakServer, timeout: float = DEFAULT_START_TIMEOUT) -> None:
    """Polls the management ``/health/ready`` and ``/realms/master`` until both answer 200."""
    deadline = time.monotonic() + timeout
    health = f"http://127.0.0.1:{server.management_port}/health/ready"
    realm = f"{server.base_url}/realms/master"
    while time.monotonic() < deadline:
        if not server.is_running():
            raise KeycloakRunnerError(
                f"Keycloak exited during startup (log {server.log_path}):\n{server.log_tail()}"
            )
        if _http_ok(health) and _http_ok(realm):
            return
        time.sleep(1.0)
    tail = server.log_tail()
    server.stop()
    raise KeycloakRunnerError(
        f"Keycloak was not ready within {timeout:.0f}s (log {server.log_path}):\n{tail}"
    )


def launch(args: Sequence[str], env: dict[str, str], server: KeycloakServer, timeout: float) -> KeycloakServer:
    """Runs ``args`` in ``server.data_dir`` in a session of its own (so ``stop()`` ends the whole
    JVM tree), logging to ``server.log_path``, and returns once Keycloak answers; a start that
    fails or times out is stopped, not left behind. ``server.started_in`` is the wait, in seconds."""
    with open(server.log_path, "ab") as log:
        server.process = subprocess.Popen(args, cwd=server.data_dir, env=env, stdout=log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
    server.pid = server.process.pid
    (server.data_dir / "keycloak.pid").write_text(str(server.pid))
    started = time.monotonic()
    try:
        wait_until_ready(server, timeout)
    except BaseException:
        server.stop()
        raise
    server.started_in = time.monotonic() - started
    return server


def start_keycloak(
    port: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    admin_user: str | None = None,
    admin_password: str | None = None,
    management_port: int | None = None,
    timeout: float = DEFAULT_START_TIMEOUT,
    extra_args: Sequence[str] = (),
    build: bool = True,
    db_args: Sequence[str] | None = None,
    version: str | None = None,
) -> KeycloakServer:
    """Builds the jar if stale, fetches Keycloak ``version`` (default: the pinned one) if missing,
    installs the jar, starts ``start-dev`` on 127.0.0.1 and waits until it is ready. The embedded
    H2 database lives in ``data_dir`` unless ``db_args`` (e.g. ``["--db=postgres",
    "--db-url=jdbc:postgresql://…"]``) replace it."""
    version = version or keycloak_version()
    if build:
        build_provider()
    elif not JAR.exists():
        raise KeycloakRunnerError(f"{JAR} is missing; build it first")
    home = fetch_distribution(version)
    port = port or free_port()
    management_port = management_port or free_port()
    admin_user = admin_user or os.environ.get("KC_BOOTSTRAP_ADMIN_USERNAME") or DEFAULT_ADMIN_USER
    admin_password = admin_password or os.environ.get("KC_BOOTSTRAP_ADMIN_PASSWORD") or DEFAULT_ADMIN_PASSWORD
    data = Path(data_dir or (cache_dir(version) / "data")).expanduser().resolve()
    data.mkdir(parents=True, exist_ok=True)
    log_path = data / "keycloak.log"

    env = dict(os.environ)
    env["KC_BOOTSTRAP_ADMIN_USERNAME"] = admin_user
    env["KC_BOOTSTRAP_ADMIN_PASSWORD"] = admin_password
    env.setdefault("JAVA_OPTS_KC_HEAP", "-XX:MaxRAMPercentage=25 -XX:InitialRAMPercentage=5")
    args = [
        str(home / "bin" / "kc.sh"), "start-dev",
        "--http-host=127.0.0.1",
        f"--http-port={port}",
        f"--http-management-port={management_port}",
        "--health-enabled=true",
        *(db_args if db_args is not None else (
            "--db=dev-file",
            # no AUTO_SERVER: H2 must not open a network port
            f"--db-url=jdbc:h2:file:{data / 'h2' / 'keycloakdb'};NON_KEYWORDS=VALUE",
        )),
        "--cache=local",
        *extra_args,
    ]
    # One start at a time per distribution: start-dev re-augments the shared installation
    # when the providers changed.
    with _file_lock(home.parent / ".start.lock"):
        install_provider(home)
        _say(f"starting Keycloak {version} on http://127.0.0.1:{port} (management {management_port}), "
             f"log {log_path}")
        server = launch(args, env, KeycloakServer(
            base_url=f"http://127.0.0.1:{port}", port=port, management_port=management_port,
            admin_user=admin_user, admin_password=admin_password, data_dir=data,
            log_path=log_path, home=home, version=version,
        ), timeout)
    _say(f"Keycloak {version} ready at {server.base_url} after {server.started_in:.0f}s")
    return server


def stop_keycloak(data_dir: str | os.PathLike[str], timeout: float = 30.0) -> bool:
    """Stops a server started in the background with ``start`` (its pid file is in ``data_dir``)."""
    pid_file = Path(data_dir).expanduser().resolve() / "keycloak.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().strip())
    _terminate_group(pid, timeout)
    pid_file.unlink(missing_ok=True)
    return True


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keycloak_bridge.dev.keycloak_runner",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build the provider jar if it is missing or stale")
    p_build.add_argument("--force", action="store_true")
    p_fetch = sub.add_parser("fetch", help="fetch and unpack the Keycloak distribution into the cache")
    p_fetch.add_argument("--keycloak-version", default=None, help="a release (default: the pinned one)")
    sub.add_parser("version", help="print the pinned and supported Keycloak versions and paths")
    for name, text in (("run", "start Keycloak in the foreground until Ctrl-C"),
                       ("start", "start Keycloak in the background and return when ready")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--port", type=int, default=int(os.environ.get("KEYCLOAK_PORT", "8080")))
        p.add_argument("--management-port", type=int, default=None)
        p.add_argument("--data-dir", default=os.environ.get("KEYCLOAK_DATA_DIR"))
        p.add_argument("--timeout", type=float, default=DEFAULT_START_TIMEOUT)
        p.add_argument("--keycloak-version", default=None, help="a release (default: the pinned one)")
    p_stop = sub.add_parser("stop", help="stop a server started with 'start'")
    p_stop.add_argument("--data-dir", default=os.environ.get("KEYCLOAK_DATA_DIR"))
    p_stop.add_argument("--keycloak-version", default=None, help="whose default data folder (default: pinned)")
    args = parser.parse_args(argv)

    try:
        if args.command == "build":
            print(build_provider(force=args.force))
        elif args.command == "fetch":
            print(fetch_distribution(args.keycloak_version))
        elif args.command == "version":
            print(f"version {keycloak_version()}\nsupported {' '.join(supported_versions())}\n"
                  f"cache {cache_dir()}\njar {JAR}")
        elif args.command in ("run", "start"):
            server = start_keycloak(port=args.port, management_port=args.management_port,
                                    data_dir=args.data_dir, timeout=args.timeout,
                                    version=args.keycloak_version)
            print(server.base_url, flush=True)
            if args.command == "start":
                return 0
            stop_now = []
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop_now.append(True))
            while not stop_now and server.is_running():
                time.sleep(0.5)
            _say("stopping Keycloak")
            server.stop()
        elif args.command == "stop":
            data = args.data_dir or str(cache_dir(args.keycloak_version) / "data")
            print("stopped" if stop_keycloak(data) else "no server recorded in " + data)
    except KeycloakRunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
