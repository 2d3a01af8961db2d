"""The user table's search indexes set aside during a large import and built again before it commits.

Inserting a row costs an update of each of `users_user`'s indexes, and its trigram and JSONB GIN
indexes cost most: building an index over the rows once they are in is several times cheaper than
upkeep row by row. So an import that creates many users (`REBUILD_FROM`, and at least half as many
as the table holds, since a build reads the whole table) drops the non-unique indexes (search,
ordering, the GINs) inside its transaction, inserts, and creates them again from their own
definitions. The unique indexes stay: they are the final judge of the users written.

Locks: `DROP INDEX` takes an ACCESS EXCLUSIVE lock on `users_user`, held until commit, so every
reader of users (the API, logins through the Keycloak provider) waits for the end of the import's
writes, then sees the finished table; nothing reads it without its indexes. That is meant for an
import an operator runs before cutover; a delta pass (few new users) never takes it. The lock is
taken first, before the import's own row writes, so that it waits for readers rather than deadlocks.
A failed run rolls back, its drops with it.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

REBUILD_FROM = 50_000  # new users

NON_UNIQUE = """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
                WHERE i.indrelid = 'users_user'::regclass AND NOT i.indisunique ORDER BY 1"""


@contextmanager
def set_aside(cursor, new_users: int, report):
    """Drop the non-unique indexes of `users_user` for the block when `new_users` is many; build
    them again after it (counted and timed in `report`)."""
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'users_user'::regclass")
    rows = max(cursor.fetchone()[0], 0)  # an estimate (-1: never analysed)
    if new_users < REBUILD_FROM or new_users * 2 < rows:
        yield
        return
    cursor.execute("LOCK TABLE users_user IN ACCESS EXCLUSIVE MODE")
    cursor.execute(NON_UNIQUE)
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    started = time.monotonic()
    # An index cannot be built on a table with checks pending: the inserted rows' foreign keys,
    # deferred to commit, are checked here instead (the same work), then deferred again.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    report.seconds["foreign keys"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for _, definition in indexes:
        cursor.execute(definition)
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # as every foreign key of the schema is declared
    report.counts["indexes built after the insert (users locked until commit)"] = len(indexes)
    report.seconds["index build"] = round(time.monotonic() - started, 1)
