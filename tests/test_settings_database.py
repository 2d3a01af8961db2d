"""The backend runs on PostgreSQL only: without a PostgreSQL DATABASE_URL the settings refuse to load."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_settings(**env):
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    code = "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['NAME'])"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**clean, "DJANGO_SETTINGS_MODULE": "identity.settings", "DJANGO_DEBUG": "true", **env})


def test_a_postgres_url_is_the_database():
    loaded = load_settings(DATABASE_URL="postgres://someone@127.0.0.1:5432/people")
    assert loaded.returncode == 0 and loaded.stdout.strip() == "people"


def test_without_database_url_the_settings_say_to_set_it():
    refused = load_settings()
    assert refused.returncode != 0 and "Set DATABASE_URL=postgres://" in refused.stderr
    assert "make run" in refused.stderr


def test_another_engine_is_refused():
    refused = load_settings(DATABASE_URL="sqlite:///db.sqlite3")
    assert refused.returncode != 0 and "DATABASE_URL must name a PostgreSQL database" in refused.stderr


def load_databases(**env):
    code = ("import json, django; django.setup(); from django.conf import settings; "
            "print(json.dumps({'databases': {alias: [db['PORT'], db.get('TEST', {}).get('MIRROR')] "
            "for alias, db in settings.DATABASES.items()}, 'routers': settings.DATABASE_ROUTERS, "
            "'routing_middleware': 'identity.db_routing.ReadRoutingMiddleware' in settings.MIDDLEWARE}))")
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_REPLICA_URL")}
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**clean, "DJANGO_SETTINGS_MODULE": "identity.settings", "DJANGO_DEBUG": "true",
                                 "DATABASE_URL": "postgres://someone@127.0.0.1:5432/people", **env})
    return loaded


def test_without_replicas_there_is_one_database_and_no_routing():
    loaded = load_databases()
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout) == {"databases": {"default": [5432, None]}, "routers": [],
                                         "routing_middleware": False}


def test_replica_urls_add_replica_aliases_mirroring_default_in_tests():
    loaded = load_databases(DATABASE_REPLICA_URL="postgres://someone@10.0.0.2:5433/people, postgres://someone@10.0.0.3:5434/people")
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout) == {
        "databases": {"default": [5432, None], "replica1": [5433, "default"], "replica2": [5434, "default"]},
        "routers": ["identity.db_routing.PrimaryRouter"], "routing_middleware": True}


def test_a_replica_of_another_engine_is_refused():
    refused = load_databases(DATABASE_REPLICA_URL="sqlite:///replica.sqlite3")
    assert refused.returncode != 0 and "DATABASE_REPLICA_URL must name PostgreSQL replicas" in refused.stderr
