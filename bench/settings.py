"""The production settings plus the reference view's URL (see bench/reference.py)."""

from identity.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.urls"
# The load generator speaks plain HTTP on loopback.
SECURE_SSL_REDIRECT = False
