"""A psycopg connection of one's own to Django's database, outside Django's connection handling
(the events relay's claims and its LISTEN): the same server, credentials, TLS and timeouts."""

import psycopg
from django.db import connections

LIBPQ_KEYS = ("dbname", "user", "password", "host", "port", "sslmode", "sslrootcert", "sslcert", "sslkey",
              "connect_timeout", "application_name", "options")


def connect(alias: str = "default", **options) -> psycopg.Connection:
    params = connections[alias].get_connection_params()
    return psycopg.connect(**{k: params[k] for k in LIBPQ_KEYS if params.get(k)}, **options)
