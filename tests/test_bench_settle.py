"""The Keycloak step's pause between measurements: queries wrk gave up on are waited for, then cancelled."""

import os
import threading
import time
import urllib.parse

import psycopg
import pytest

from bench import keycloak

pytestmark = pytest.mark.django_db


@pytest.fixture
def url():
    """The test database's URL: settle() only looks at the databases it is given."""
    from django.db import connection

    return urllib.parse.urlparse(os.environ["DATABASE_URL"])._replace(
        path=f"/{connection.settings_dict['NAME']}").geturl()


def sleeper(url, seconds, cancelled):
    def run():
        with psycopg.connect(url, autocommit=True) as db:
            try:
                db.execute("SELECT pg_sleep(%s)", [seconds])
            except psycopg.errors.QueryCanceled:
                cancelled.append(seconds)
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def running(url):
    name = urllib.parse.urlparse(url).path.lstrip("/")
    with psycopg.connect(url, autocommit=True) as db:
        return db.execute(keycloak._RUNNING, [[name]]).fetchall()


def wait_for(condition, seconds=5):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_query_that_ends_in_time_is_waited_for_not_cancelled(url, monkeypatch):
    monkeypatch.setattr(keycloak, "SETTLE_SECONDS", 5)
    cancelled = []
    thread = sleeper(url, 0.6, cancelled)
    wait_for(lambda: running(url))
    assert keycloak.settle(url, [urllib.parse.urlparse(url).path.lstrip("/")]) == 0
    assert not running(url)
    thread.join(5)
    assert cancelled == []


def test_a_query_still_running_after_the_pause_is_cancelled(url, monkeypatch):
    monkeypatch.setattr(keycloak, "SETTLE_SECONDS", 0.5)
    cancelled = []
    thread = sleeper(url, 60, cancelled)
    wait_for(lambda: running(url))
    started = time.monotonic()
    assert keycloak.settle(url, [urllib.parse.urlparse(url).path.lstrip("/")]) == 1
    thread.join(10)
    assert cancelled == [60] and time.monotonic() - started < 10
    assert not running(url)
