"""Django's PostgreSQL backend, whose health check leaves alone a connection that has just answered.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request that
reuses a kept connection, so that a worker recovers by itself from a database restart
(identity/unavailable.py). Under load that round trip was a third of an exact lookup's time in a
worker (bench/results/profiles/README.md). A connection that opened a cursor less than
DATABASE_HEALTH_CHECK_IDLE_SECONDS ago (default 1) is not checked: a busy worker meets a restart
through its queries anyway, answers 503 for that request, and Django closes the failed connection
when the request ends, so the next request opens a new one. Idle connections are checked as before.

Its sessions also run with `jit = off` (DATABASE_JIT=true leaves the server's setting). PostgreSQL
compiles a statement with LLVM once the planner's cost passes `jit_above_cost`, as the count of
200,000 matches among 10,000,000 users does (`make bench`'s plans). Forced on a 300,000-user table,
the compile took 280 ms for a count that ran in 3 ms without it, and each parallel worker compiles
again: this API's statements are all short.
"""

import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    used_at = None  # time.monotonic() of the last cursor opened on this connection

    def get_connection_params(self):
        params = super().get_connection_params()
        if not settings.DATABASE_JIT:  # after any `options` of DATABASE_URL, so that this one wins
            params["options"] = f"{params.get('options', '')} -c jit=off".strip()
        return params

    def create_cursor(self, name=None):
        self.used_at = time.monotonic()
        return super().create_cursor(name)

    def close_if_health_check_failed(self):
        if (self.connection is not None and not self.health_check_done and self.used_at is not None
                and time.monotonic() - self.used_at < settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
