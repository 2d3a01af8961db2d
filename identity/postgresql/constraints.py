"""Constraints set aside for a bulk insert and added back after it.

A row inserted under a foreign key queues a check of that row, run one row at a time (at commit,
for the deferred keys this schema declares). Added back after the insert, a key checks every row in
one join. The key is re-created from its own definition (`pg_get_constraintdef`), so it comes back
exactly as declared: deferrable, with its actions. Unique constraints are set aside the same way
(`drop_constraints`, `add_constraints`), their index built again once. Used by a large Keycloak
import (`users.keycloak_import.bulk`) and by the benchmark's seeding (`bench.seed`).
"""

FOREIGN_KEYS = """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
                  WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY 1, 2"""


def drop_foreign_keys(cursor, tables) -> list[tuple[str, str, str]]:
    """Drop every foreign key of `tables`; returns (table, name, definition) for `add_constraints`.
    The tables must have no checks queued (`SET CONSTRAINTS ALL IMMEDIATE` runs those first)."""
    cursor.execute(FOREIGN_KEYS, [list(tables)])
    keys = cursor.fetchall()
    drop_constraints(cursor, keys)
    return keys


def drop_constraints(cursor, constraints) -> None:
    """Drop each (table, name, definition) of `constraints`."""
    for table, name, _ in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')


def add_constraints(cursor, constraints) -> None:
    """Add back what was dropped, from each one's definition; a key validates every row by one join."""
    for table, name, definition in constraints:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
