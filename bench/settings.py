"""The production settings plus the reference view's URL (see bench/reference.py)."""

from identity.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.urls"
