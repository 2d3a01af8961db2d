"""Which database a read goes to: the primary, or a streaming replica (`DATABASE_REPLICA_URL`).

Replicas lag the primary by a few milliseconds or more, so only reads that tolerate it go there,
and the read layer asks for them by name: `queryset.using(read_replica())`, or
`connections[read_replica()]` for raw SQL (a raw cursor never consults a router). Searches, lists,
counts and the admin's change lists do; lookups by a unique key (what Keycloak's provider asks
right after it creates a user) and everything else read the primary.

`read_replica()` answers the primary whenever a replica could contradict what this request did or
is doing: without replicas, in a transaction, in a request that is not a GET or HEAD, and after a
write in the same request (the router sees every ORM write). A request keeps one replica, so that
its page's keys and rows come from one snapshot of the data.
"""

import contextvars
import random
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

REPLICA_PREFIX = "replica"
# Bookkeeping that GETs write and no routed read depends on: the cache table (throttles, caches) and
# a credential's last use (written once a minute while it is used).
_UNTRACKED_MODELS = frozenset({"django_cache.cacheentry", "users.apiclient"})


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith(REPLICA_PREFIX)]


@dataclass
class _RequestReads:
    primary_only: bool
    replica: str | None


_request: contextvars.ContextVar[_RequestReads | None] = contextvars.ContextVar("request_reads", default=None)


def read_replica() -> str:
    """The alias for a read that may lag: a replica when one may answer, else the primary's."""
    replicas = replica_aliases()
    if not replicas or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    reads = _request.get()
    if reads is None:  # outside a request (a command) that has not written
        return random.choice(replicas)
    if reads.primary_only:
        return DEFAULT_DB_ALIAS
    return reads.replica


class PrimaryRouter:
    """Every write goes to the primary (a row read from a replica is saved there too), and marks
    the request as one whose reads stay on the primary; migrations run on the primary only.
    Reads are left to Django (the primary, or the replica a row came from): lag-tolerant reads
    name their replica explicitly."""

    def db_for_read(self, model, **hints):
        return None

    def db_for_write(self, model, **hints):
        if f"{model._meta.app_label}.{model._meta.model_name}" not in _UNTRACKED_MODELS:
            reads = _request.get()
            if reads is None:  # outside a request: from now on, for the rest of the command
                _request.set(_RequestReads(primary_only=True, replica=None))
            else:
                reads.primary_only = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # a replica holds the primary's rows: the same objects

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if db.startswith(REPLICA_PREFIX) else None


class ReadRoutingMiddleware:
    """Gives each request its replica; requests that write read the primary throughout."""

    SAFE_METHODS = frozenset({"GET", "HEAD"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        replicas = replica_aliases()
        token = _request.set(_RequestReads(primary_only=request.method not in self.SAFE_METHODS,
                                           replica=random.choice(replicas) if replicas else None))
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
