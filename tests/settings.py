"""Test settings: the project's settings on the PostgreSQL server that `make test` starts."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

from identity.settings import *  # noqa: E402,F401,F403  (which refuse anything but PostgreSQL)
