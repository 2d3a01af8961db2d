"""A psycopg connection of one's own to Django's database, outside Django's connection handling
(the events relay's claims and its LISTEN): the same server, credentials, TLS and timeouts."""

import psycopg
from django.db import connections

LIBPQ_KEYS = ("dbname", "user", "password", "host", "port", "sslmode", "sslrootcert", "sslcert", "sslkey",
              "connect_timeout", "application_name", "options")


def connect(alias: str = "default", **options) -> psycopg.Connection:
    params = connections[alias].get_connection_params()
    libpq = {k: params[k] for k in LIBPQ_KEYS if params.get(k)}
    if "options" in libpq and "options" in options:  # server settings from both: Django's, then the caller's
        options["options"] = f"{libpq.pop('options')} {options['options']}"
    return psycopg.connect(**libpq, **options)
