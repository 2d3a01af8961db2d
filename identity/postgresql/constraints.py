"""Foreign keys set aside for a bulk insert and added back after it.

A row inserted under a foreign key queues a check of that row, run one row at a time (at commit,
for the deferred keys this schema declares). Added back after the insert, a key checks every row in
one join. The key is re-created from its own definition (`pg_get_constraintdef`), so it comes back
exactly as declared: deferrable, with its actions. Used by a large Keycloak import
(`users.keycloak_import.bulk`) and by the benchmark's seeding (`bench.seed`).
"""

FOREIGN_KEYS = """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
                  WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY 1, 2"""


def drop_foreign_keys(cursor, tables) -> list[tuple[str, str, str]]:
    """Drop every foreign key of `tables`; returns (table, name, definition) for `add_foreign_keys`.
    The tables must have no checks queued (`SET CONSTRAINTS ALL IMMEDIATE` runs those first)."""
    cursor.execute(FOREIGN_KEYS, [list(tables)])
    keys = cursor.fetchall()
    for table, name, _ in keys:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return keys


def add_foreign_keys(cursor, keys) -> None:
    """Add back what `drop_foreign_keys` dropped; each key validates every row by one join."""
    for table, name, definition in keys:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
