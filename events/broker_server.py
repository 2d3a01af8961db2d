"""A private RabbitMQ node on loopback, for `make run` (kept under `.run/rabbitmq`) and the tests
(thrown away).

It installs Debian's `rabbitmq-server` if the machine lacks it, and never uses that package's own
service: the node runs from the package's scripts with everything of its own, so that it can share
the machine with the system's node or with other private ones. Its name, its AMQP, distribution and
epmd ports (loopback only), its Erlang cookie (in a HOME of its own), its configuration, plugins
file, data and logs all live in one folder. `python -m events.broker_server` starts one and waits.
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPTS = Path("/usr/lib/rabbitmq/bin")
KEPT_NODE_NAME = "identity-run"


def log(message: str):
    print(f"[rabbitmq] {message}", file=sys.stderr, flush=True)


def _port_below(limit: int) -> int:
    """A free loopback port; rabbitmqctl derives ports from the distribution port, so stay low."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port < limit:
            return port


def install_server():
    if (SCRIPTS / "rabbitmq-server").exists():
        return
    if os.geteuid() != 0:
        sys.exit("RabbitMQ is not installed. Run: sudo apt-get install -y rabbitmq-server  (then run this again)")
    log("installing RabbitMQ from Debian's packages (once per machine)...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "rabbitmq-server"], check=True, env=env)
    # The package may start the system's node: it is not ours, and it would hold the default ports.
    if shutil.which("systemctl") and subprocess.run(["systemctl", "is-system-running"], capture_output=True).returncode == 0:
        subprocess.run(["systemctl", "disable", "--now", "rabbitmq-server"], check=False)
    elif shutil.which("service"):
        subprocess.run(["service", "rabbitmq-server", "stop"], check=False, capture_output=True)


class Broker:
    """One node: in a temporary folder removed by `stop()`, or in `data_dir`, kept between runs."""

    def __init__(self, data_dir: Path | None = None):
        self.kept = data_dir is not None
        self.root = Path(data_dir).resolve() if self.kept else Path(tempfile.mkdtemp(prefix="identity-rabbitmq-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.home = self.root / "home"
        self.home.mkdir(exist_ok=True)
        self.node = f"{KEPT_NODE_NAME if self.kept else 'identity-' + secrets.token_hex(4)}@localhost"
        self.port = _port_below(55000)
        self.dist_port = _port_below(55000)
        self.epmd_port = _port_below(55000)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    @property
    def env(self) -> dict:
        return {
            **os.environ,
            "HOME": str(self.home),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_USE_LONGNAME": "false",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_PID_FILE": str(self.root / "node.pid"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.root / "plugins-expand"),
        }

    def _write_config(self):
        cookie = self.home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(20))
        cookie.chmod(0o400)
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "disk_free_limit.absolute = 50MB\n"
            "log.console = false\n"
        )
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq-env.conf").write_text("")

    def ctl(self, *args, check=True, timeout=120) -> subprocess.CompletedProcess:
        """`rabbitmqctl ARGS` against this node (such as `stop_app`, `start_app`, `list_queues`)."""
        return subprocess.run([str(SCRIPTS / "rabbitmqctl"), "-n", self.node, *args], env=self.env, check=check,
                              capture_output=True, text=True, timeout=timeout)

    def _stop_leftover(self):
        """A kept node that a killed run left running holds the node name: stop it (its ports are on file)."""
        ports = self.root / "ports.json"
        if ports.exists():
            mine = (self.port, self.dist_port, self.epmd_port)
            self.port, self.dist_port, self.epmd_port = json.loads(ports.read_text())
            if self.answers():
                log("a node an earlier run left running is stopped first")
                self.ctl("stop", check=False)
            subprocess.run([shutil.which("epmd") or "/usr/lib/erlang/bin/epmd", "-port", str(self.epmd_port),
                            "-kill"], env=self.env, capture_output=True, check=False)
            self.port, self.dist_port, self.epmd_port = mine
        ports.write_text(json.dumps([self.port, self.dist_port, self.epmd_port]))

    def start(self, timeout: float = 120):
        install_server()
        if self.kept:
            self._stop_leftover()
        self._write_config()
        log(f"starting node {self.node} in {self.root}")
        with open(self.root / "server.out", "ab") as out:
            self.process = subprocess.Popen([str(SCRIPTS / "rabbitmq-server")], env=self.env, cwd=self.root,
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"RabbitMQ exited at start; see {self.root / 'server.out'} and {self.root / 'log'}")
            if self.answers():
                log(f"ready at {self.url}")
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"RabbitMQ did not answer within {timeout} s")

    def answers(self) -> bool:
        """Whether the node accepts an AMQP connection now."""
        import logging

        import pika

        quiet = logging.getLogger("pika")
        level, quiet.level = quiet.level, logging.CRITICAL  # a refused connection is the expected answer
        try:
            pika.BlockingConnection(pika.URLParameters(self.url + "?connection_attempts=1&socket_timeout=2")).close()
            return True
        except Exception:
            return False
        finally:
            quiet.level = level

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(subprocess.SubprocessError):
                self.ctl("stop", check=False, timeout=60)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # The node's own epmd, on its private port, outlives it: end it (it serves nobody else).
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], env=self.env, capture_output=True, check=False)
        self.process = None
        if not self.kept:
            shutil.rmtree(self.root, ignore_errors=True)


def main():
    broker = Broker(Path(sys.argv[1]) if len(sys.argv) > 1 else None).start()
    print(broker.url, flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        broker.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    main()
