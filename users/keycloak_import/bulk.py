"""A large import's bulk mode: the written tables' indexes and foreign keys set aside for the
insert, and restored before the import commits.

Inserting a row costs an update of each index of its table, and `users_user`'s trigram and JSONB GIN
indexes cost most: building an index over the rows once they are in (a sort, or GIN's bulk build) is
several times cheaper than upkeep row by row. Likewise each inserted user and fan profile queues a
foreign-key check per key, run one row at a time at commit (three per user, a fifth of a
million-user import's time), where adding the key back checks every row in one join. So an import
that creates many users (`REBUILD_FROM`, and at least half as many as the table holds, since a
build reads the whole table) drops, inside its transaction, every index of `users_user` and of the
fan profiles but their primary keys (which other tables' keys reference) and any index a foreign
key depends on, and their foreign keys; it inserts, adds the keys back (each validated), and builds
the indexes again from their own definitions. Unique constraints and unique indexes come back
unique: a build that meets two equal values fails the run as an insert would have, so they stay the
final judge of the users written.

Locks: `DROP INDEX` and `ALTER TABLE` take ACCESS EXCLUSIVE locks on `users_user` and the fan
profiles, held until commit, so every reader of users (the API, logins through the Keycloak
provider) waits for the end of the import's writes, then sees the finished table; nothing reads it
without its indexes or writes it without its keys checked. That is meant for an import an operator
runs before cutover; a delta pass (few new users) never takes it. The locks are taken first, before
the import's own row writes, so that it waits for readers rather than deadlocks; a first import
into a tenant with no users takes them before it reads the export (`load._write_as_read`), the
others once the export is staged. A failed run rolls back, its drops with it.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from identity.postgresql.constraints import add_constraints, drop_constraints, drop_foreign_keys

REBUILD_FROM = 50_000  # new users
# Per build. A GIN build gathers its keys in this memory and merges them into the index each time it
# fills: a million users' e-mail trigrams fill 256 MB several times over.
BUILD_MEMORY = "1GB"

# Every index of the tables but primary keys and those a foreign key depends on: the unique (or
# exclusion) constraints that own theirs as (table, name, definition), the other indexes as (name,
# definition).
_SET_ASIDE = """FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype IN ('u', 'x')
               WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)"""
CONSTRAINTS = f"""SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) {_SET_ASIDE}
                  AND c.oid IS NOT NULL ORDER BY 1, 2"""
INDEXES = f"""SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) {_SET_ASIDE}
              AND c.oid IS NULL ORDER BY 1"""


def worth_it(cursor, new_users: int) -> bool:
    """Whether inserting `new_users` costs more in index upkeep than building the indexes again."""
    if new_users < REBUILD_FROM:
        return False
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'users_user'::regclass")
    return new_users * 2 >= max(cursor.fetchone()[0], 0)  # an estimate (-1: never analysed)


@contextmanager
def set_aside(cursor, new_users: int, report, tables: tuple[str, ...]):
    """Drop the indexes and foreign keys of `tables` (`users_user` first) for the block when
    `new_users` is many; restore them after it (counted and timed in `report`)."""
    if not worth_it(cursor, new_users):
        yield
        return
    for table in tables:
        cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    # ALTER TABLE refuses a table with checks queued: the run's own few (groups, roles) run now.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    foreign_keys = drop_foreign_keys(cursor, tables)
    cursor.execute(CONSTRAINTS, [list(tables)])
    constraints = cursor.fetchall()
    drop_constraints(cursor, constraints)
    cursor.execute(INDEXES, [list(tables)])
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    started = time.monotonic()
    add_constraints(cursor, foreign_keys)
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # as every foreign key of the schema is declared
    report.seconds["foreign keys"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    cursor.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
    add_constraints(cursor, constraints)
    for _, definition in indexes:
        cursor.execute(definition)
    report.counts["indexes built after the insert (users locked until commit)"] = len(constraints) + len(indexes)
    report.counts["foreign keys checked after the insert"] = len(foreign_keys)
    report.seconds["index build"] = round(time.monotonic() - started, 1)
