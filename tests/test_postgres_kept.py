"""`make run`'s PostgreSQL (tests/postgres.py with a data folder): what one run writes, the next reads,
and stopping leaves no server behind."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from tests.postgres import Server, install_server


@pytest.fixture
def data_dir():
    parent = Path(tempfile.mkdtemp(prefix="identity-pg-kept-"))
    parent.chmod(0o755)  # the postgres user must reach the folder inside
    yield parent / "postgres"
    shutil.rmtree(parent, ignore_errors=True)


def server_pids(data: Path) -> list[str]:
    found = subprocess.run(["pgrep", "-f", f"postgres -D {data}"], capture_output=True, text=True)
    return found.stdout.split()


def test_a_kept_cluster_keeps_its_rows_between_starts(data_dir):
    first = Server(install_server(), fast=True, data_dir=data_dir)
    first.start()
    try:
        assert server_pids(data_dir / "data")
        with psycopg.connect(first.url, autocommit=True) as connection:
            connection.execute("CREATE TABLE kept (name text)")
            connection.execute("INSERT INTO kept VALUES ('alice')")
    finally:
        first.stop()
    assert (data_dir / "data" / "PG_VERSION").exists() and not server_pids(data_dir / "data")

    second = Server(install_server(), fast=True, data_dir=data_dir)
    second.start()
    try:
        with psycopg.connect(second.url) as connection:
            assert connection.execute("SELECT name FROM kept").fetchall() == [("alice",)]
    finally:
        second.stop()
    assert not server_pids(data_dir / "data")


def test_a_server_left_running_is_replaced_on_the_next_start(data_dir):
    abandoned = Server(install_server(), fast=True, data_dir=data_dir)
    abandoned.start()  # and never stopped, as when make run is killed
    replacement = Server(install_server(), fast=True, data_dir=data_dir)
    try:
        replacement.start()
        with psycopg.connect(replacement.url) as connection:
            assert connection.execute("SELECT current_database()").fetchone() == ("identity",)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(abandoned.url, connect_timeout=2)
    finally:
        replacement.stop()
    assert not server_pids(data_dir / "data")
