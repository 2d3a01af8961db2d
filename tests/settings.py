"""Test settings: the project's settings on the PostgreSQL server that `make test` starts."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
# Tests speak plain HTTP to 127.0.0.1 (test client, gunicorn, Keycloak, Chromium); the production
# defaults are checked in a fresh process by tests/test_security_deploy.py.
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "false")

from identity.settings import *  # noqa: E402,F401,F403  (which refuse anything but PostgreSQL)
