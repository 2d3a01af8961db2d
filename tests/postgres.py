"""A private PostgreSQL server: `python -m tests.postgres -- CMD ...` for tests and benchmarks,
and the kept one of `make run`.

It installs Debian's PostgreSQL if the machine lacks it and starts a cluster on a free loopback
port (TCP only). By default the cluster is thrown away: CMD runs with `DATABASE_URL` pointing at it,
then the server stops and its folder is deleted, whatever CMD did. Given a data folder (`make run`
keeps `.run/postgres`), the cluster is created there once and reused by every later start. PostgreSQL
refuses to run as root, so as root the cluster belongs to the `postgres` system user.

Every cluster can feed streaming replicas over loopback (`wal_level=replica`, a `replication` line in
pg_hba.conf): `Replica` copies a running one with `pg_basebackup -R` and runs it as a hot standby,
and `--replica` runs CMD with `DATABASE_REPLICA_URL` pointing at one.
"""

import argparse
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def log(message: str):
    print(f"[postgres] {message}", file=sys.stderr, flush=True)


def find_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def install_server() -> Path:
    bindir = find_bindir()
    if bindir:
        return bindir
    if os.geteuid() != 0:
        sys.exit("PostgreSQL is not installed. Run: sudo apt-get install -y postgresql  (then run this again)")
    log("installing PostgreSQL from Debian's packages (once per machine)...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "postgresql", "postgresql-contrib"], check=True, env=env)
    bindir = find_bindir()
    if not bindir:
        sys.exit("PostgreSQL was installed but no server binary was found under /usr/lib/postgresql.")
    return bindir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One cluster: in a temporary folder deleted by `stop()`, or in `data_dir`, kept between runs."""

    def __init__(self, bindir: Path, fast: bool, settings: list[str] = (), data_dir: Path | None = None):
        self.bindir = bindir
        self.fast = fast
        self.settings = list(settings)
        self.port = free_port()
        self.kept = data_dir is not None
        if self.kept:
            self.root = Path(data_dir).resolve()
            self.root.mkdir(parents=True, exist_ok=True)
        else:
            self.root = Path(tempfile.mkdtemp(prefix="identity-pg-"))
        self.data = self.root / "data"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            os.chmod(self.root, 0o700)
            if subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(self.root)]).returncode:
                sys.exit(f"PostgreSQL runs as the postgres user, who cannot reach {self.root}: "
                         "a folder above it is closed to other users.")

    def _run(self, *args, **kwargs):
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, **{"check": True, **kwargs})

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/identity"

    def _running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False,
                         stdout=subprocess.DEVNULL).returncode == 0

    def _has_database(self) -> bool:
        found = self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                          "-tAc", "SELECT 1 FROM pg_database WHERE datname = 'identity'",
                          capture_output=True, text=True)
        return found.stdout.strip() == "1"

    def start(self):
        if (self.data / "PG_VERSION").exists():
            log(f"reusing the cluster in {self.data}")
            if self._running():  # left behind by a run that was killed: its port is unknown, restart it
                log("a server an earlier run left running is stopped first")
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", stdout=subprocess.DEVNULL)
        else:
            log(f"creating a cluster in {self.data}")
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                      "--locale=C.UTF-8", stdout=subprocess.DEVNULL)
            self._allow_replication()
        self._start_server(["wal_level=replica", "max_wal_senders=10"])
        if not self._has_database():
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "identity")
        log(f"ready at {self.url}")

    def _allow_replication(self):
        """Replicas connect over loopback as `postgres` (initdb's file already says so; it is not left to that)."""
        hba = self.data / "pg_hba.conf"
        if REPLICATION_HBA not in hba.read_text():
            with hba.open("a") as f:
                f.write(f"{REPLICATION_HBA}\n")

    def _start_server(self, settings: list[str]):
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k '' -c max_connections=200"
        if self.fast:  # durability is worthless for a test database
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        options += "".join(f" -c {setting}" for setting in [*settings, *self.settings])
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log),
                  "-w", "-t", "60", "start", stdout=subprocess.DEVNULL)

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def stop(self):
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", stdout=subprocess.DEVNULL)
        if self.kept:
            log(f"stopped; the data stays in {self.data}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
            log("stopped and removed")


REPLICATION_HBA = "host    replication     all             127.0.0.1/32            trust"


class Replica(Server):
    """A throw-away hot standby of the server on `primary_port`: a copy by `pg_basebackup -R` (which
    writes `primary_conninfo` and `standby.signal`), then WAL streamed from the primary and replayed
    as it comes. Read-only; its databases are the primary's."""

    def __init__(self, bindir: Path, primary_port: int, settings: list[str] = ()):
        super().__init__(bindir, fast=True, settings=settings)
        self.primary_port = primary_port

    def start(self):
        log(f"copying the server on port {self.primary_port} into {self.data}")
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                  "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", stdout=subprocess.DEVNULL)
        self._start_server(["hot_standby=on"])
        log(f"replica ready at {self.url}")

    def url_of(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--durable", action="store_true", help="keep fsync on (for benchmarks)")
    parser.add_argument("-c", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="a server setting, as postgres -c takes it (repeatable)")
    parser.add_argument("--replica", action="store_true",
                        help="also start a streaming replica, named to CMD by DATABASE_REPLICA_URL")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --")
    bindir = install_server()
    server = Server(bindir, fast=not args.durable, settings=args.settings)
    replica = None
    try:
        server.start()
        env = {**os.environ, "DATABASE_URL": server.url}
        if args.replica:
            replica = Replica(bindir, server.port)
            replica.start()
            env["DATABASE_REPLICA_URL"] = replica.url
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 130
    finally:
        if replica is not None:
            replica.stop()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
