"""Production settings pass Django's deployment checks as they are; development (`make run`, with
DJANGO_DEBUG) keeps working over plain HTTP. Each case runs the settings in a fresh process, with
only the environment it names."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
SECURITY = ["DEBUG", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER",
            "SECURE_REDIRECT_EXEMPT"]


@pytest.fixture
def production_env(db):
    """DEBUG off, a long random key and the test database; nothing else from this process's DJANGO_*."""
    database = connection.settings_dict
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ADMIN_"))}
    return {**clean, "DJANGO_SETTINGS_MODULE": "identity.settings", "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64), "DATABASE_URL": url}


def run(args, env):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def security_settings(env) -> dict:
    code = ("import django, json; django.setup(); from django.conf import settings; "
            f"print(json.dumps({{n: getattr(settings, n) for n in {SECURITY!r}}}))")
    result = run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_finds_nothing_in_production(production_env):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr and "ERRORS" not in result.stdout + result.stderr


def test_production_defaults_are_secure_and_each_can_be_set(production_env):
    found = security_settings(production_env)
    assert found["SECURE_SSL_REDIRECT"] and found["SESSION_COOKIE_SECURE"] and found["CSRF_COOKIE_SECURE"]
    assert found["SECURE_HSTS_SECONDS"] >= 31536000 and found["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert found["SECURE_PROXY_SSL_HEADER"] is None  # trusting a header is a choice for a proxy that sets it
    # Load balancers probe health over plain HTTP.
    assert {"^healthz$", "^readyz$"} <= set(found["SECURE_REDIRECT_EXEMPT"])

    found = security_settings({**production_env, "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
                               "DJANGO_SECURE_SSL_REDIRECT": "false", "DJANGO_SECURE_HSTS_SECONDS": "60",
                               "DJANGO_SECURE_COOKIES": "false"})
    assert found["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert not found["SECURE_SSL_REDIRECT"] and found["SECURE_HSTS_SECONDS"] == 60
    assert not found["SESSION_COOKIE_SECURE"] and not found["CSRF_COOKIE_SECURE"]


def test_development_keeps_plain_http(production_env):
    found = security_settings({**production_env, "DJANGO_DEBUG": "true"})
    assert found["DEBUG"] and not found["SECURE_SSL_REDIRECT"] and found["SECURE_HSTS_SECONDS"] == 0
    assert not found["SESSION_COOKIE_SECURE"] and not found["CSRF_COOKIE_SECURE"]
