"""The session's RabbitMQ node and the outbox relay as a process, for the tests that need real
events (`tests/test_events.py`, `tests/test_bpm_bridge.py`); the `broker` fixture is in
`tests/conftest.py`."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def relay_process(broker, **env) -> subprocess.Popen:
    """`manage.py relay_events` on the test database, publishing to `broker`."""
    settings_dict = connection.settings_dict
    database = (f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/"
                f"{settings_dict['NAME']}")
    return subprocess.Popen(
        [sys.executable, "manage.py", "relay_events"], cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database,
             "EVENTS_BROKER_URL": broker.url, "EVENTS_RELAY_POLL_SECONDS": "1",
             "EVENTS_RELAY_MAX_BACKOFF_SECONDS": "1", "LOG_LEVEL": "WARNING", **env},
    )


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
