"""The backend runs on PostgreSQL only: without a PostgreSQL DATABASE_URL the settings refuse to load."""

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
