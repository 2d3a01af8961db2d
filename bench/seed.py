"""Seed N users for the benchmarks, fast: `python -m bench.seed --users 1000000`.

Rows are generated inside PostgreSQL (`INSERT … SELECT generate_series`), in batches so that
progress shows, by one connection per core (generating the rows is CPU-bound, one backend used one
core). The users table's secondary indexes are dropped first and rebuilt at the end, two at a time
(one per core), which is much faster than maintaining them row by row; the table is vacuumed before
they are built, while it has no index to clean. Foreign keys are dropped for the inserts and added
back after them, as PostgreSQL's "Populating a Database" advises. Everyone shares one Argon2 hash of
`BENCH_PASSWORD`, made with the configured cost, so logins cost what they would.
"""

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import django

from identity.postgresql.constraints import add_constraints, drop_foreign_keys

FIRST_NAMES = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
               "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
               "Charles", "Karen", "Christopher", "Nancy", "Daniel", "Lisa", "Matthew", "Betty", "Anthony",
               "Margaret", "Mark", "Sandra", "Donald", "Ashley"]
LAST_NAMES = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
              "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
              "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez",
              "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen",
              "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
              "Carter", "Roberts"]
DEPARTMENTS = ["sales", "support", "engineering", "marketing", "finance", "legal", "operations", "design"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.net", "fans.example.io"]
BENCH_PASSWORD = "bench-password-1"
# Names repeat every BLOCK users (first name i % 32, last name (i / 32) % 50); domains and departments
# follow i / BLOCK, so that they do not depend on the name, as in real data. (When they followed
# i % 4 and i % 8, every "sales" user had one of four first names, and a search walking the
# username index met them only after a third of the table.)
BLOCK = len(FIRST_NAMES) * len(LAST_NAMES)


def email_domain(i: int) -> str:
    """The domain of bench user i's address (bench/wrk/request.lua computes the same)."""
    return DOMAINS[(i // BLOCK) % len(DOMAINS)]


TENANT = "bench"
SEEDED_TABLES = ("users_user", "users_user_roles", "users_user_identity_groups")
BATCH = 100_000
# One user in RARE_EVERY has the rare last name: the "rare substring" of the search benchmarks.
RARE_EVERY = 100_000
RARE_LAST_NAME = "Quaintrelle"


def uuid_of(i: int) -> str:
    """The id of bench user i, known to the load scripts without a lookup."""
    return "00000000-0000-4000-8000-" + f"{i:012d}"


def username_of(i: int) -> str:
    return f"{FIRST_NAMES[i % 32].lower()}.{LAST_NAMES[(i // 32) % 50].lower()}{i}"


def fill(template: str, i: int) -> str:
    """A request path of bench/wrk/request.lua's, filled for user i as its `fill` does."""
    username = username_of(i)
    values = {"i": str(i), "id": uuid_of(i), "username": username,
              "email": f"{username}%40{email_domain(i)}", "phone": f"%2B1555{i:07d}"}
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def log(message):
    print(f"[seed] {message}", file=sys.stderr, flush=True)


USERS_SQL = """
INSERT INTO users_user (id, tenant_id, username, email, email_verified, phone_number, phone_verified,
    first_name, last_name, is_active, deactivated_at, is_staff, is_superuser, attributes, created_at,
    updated_at, password, last_login, external_id)
SELECT
    ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
    %(tenant)s,
    lower(f.name) || '.' || lower(l.name) || i,
    lower(f.name) || '.' || lower(l.name) || i || '@' || (%(domains)s::text[])[1 + (i / %(block)s) %% 4],
    i %% 3 <> 0,
    '+1555' || lpad(i::text, greatest(7, length(i::text)), '0'),  -- padded, never cut (at 10,000,000)
    i %% 2 = 0,
    f.name,
    CASE WHEN i %% %(rare_every)s = 0 THEN %(rare)s ELSE l.name END,
    i %% 50 <> 0,
    CASE WHEN i %% 50 = 0 THEN now() END,
    false,
    false,
    jsonb_build_object('department', jsonb_build_array((%(departments)s::text[])[1 + (i / %(block)s) %% 8]),
                       'employee_id', jsonb_build_array('E' || i)),
    now() - make_interval(secs => i),
    now(),
    %(password)s,
    NULL,
    'X' || i
FROM generate_series(%(start)s, %(stop)s) AS i,
     LATERAL (SELECT (%(first)s::text[])[1 + i %% 32] AS name) f,
     LATERAL (SELECT (%(last)s::text[])[1 + (i / 32) %% 50] AS name) l
"""


def secondary_indexes(cursor):
    """Every index of users_user but the primary key, with its definition."""
    cursor.execute("""
        SELECT i.relname, pg_get_indexdef(i.oid), c.conname
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        LEFT JOIN pg_constraint c ON c.conindid = i.oid
        WHERE x.indrelid = 'users_user'::regclass AND NOT x.indisprimary
    """)
    return cursor.fetchall()


def seed(count: int, workers: int = 2) -> dict:
    from django.contrib.auth.hashers import make_password
    from django.db import connection, connections

    from users.models import Group, Role, Tenant

    started = time.monotonic()
    tenant, _ = Tenant.objects.get_or_create(slug=TENANT, defaults={"display_name": "Benchmarks"})
    password = make_password(BENCH_PASSWORD)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM users_user WHERE tenant_id = %s", [tenant.id])
        if cursor.fetchone()[0]:
            raise SystemExit(f"Tenant {TENANT!r} already has users; seed into a fresh database.")
        indexes = secondary_indexes(cursor)
        for name, _, constraint in indexes:
            if constraint:
                cursor.execute(f'ALTER TABLE users_user DROP CONSTRAINT "{constraint}"')
            else:
                cursor.execute(f'DROP INDEX "{name}"')
        # Checked row by row, the users' tenant and the memberships' keys were a tenth of
        # PostgreSQL's CPU in a seeding's profile (profiles/postgresql-seeding-N1000000.svg).
        foreign_keys = drop_foreign_keys(cursor, SEEDED_TABLES)
        cursor.execute("SET synchronous_commit = off")
    params = {"tenant": tenant.id, "password": password, "first": FIRST_NAMES, "last": LAST_NAMES,
              "departments": DEPARTMENTS, "domains": DOMAINS, "rare": RARE_LAST_NAME, "block": BLOCK,
              "rare_every": RARE_EVERY}
    done = []

    def insert(start):
        stop = min(start + BATCH - 1, count)
        db = connections.create_connection("default")
        try:
            with db.cursor() as c:
                c.execute("SET synchronous_commit = off")
                c.execute(USERS_SQL, {**params, "start": start, "stop": stop})
        finally:
            db.close()
        done.append(stop - start + 1)
        inserted = sum(done)
        log(f"{inserted:>10,} users  {inserted / (time.monotonic() - started):>9,.0f} rows/s")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(insert, range(1, count + 1, BATCH)))
    inserted = time.monotonic() - started
    with connection.cursor() as cursor:
        roles = {name: Role.objects.get_or_create(tenant=tenant, name=name)[0].id for name in ("fan", "admin")}
        group = Group.objects.filter(tenant=tenant, path="/bench").first()
        if group is None:
            from users.services import create_group

            group = create_group(tenant, "bench")
        # Every tenth user is a fan, every thousandth an admin; every hundredth is in /bench.
        cursor.execute("""
            INSERT INTO users_user_roles (user_id, role_id)
            SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, %s
            FROM generate_series(10, %s, 10) i
        """, [roles["fan"], count])
        cursor.execute("""
            INSERT INTO users_user_roles (user_id, role_id)
            SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, %s
            FROM generate_series(1000, %s, 1000) i
        """, [roles["admin"], count])
        cursor.execute("""
            INSERT INTO users_user_identity_groups (user_id, group_id)
            SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, %s
            FROM generate_series(100, %s, 100) i
        """, [group.id, count])

    with connection.cursor() as cursor:
        add_constraints(cursor, foreign_keys)
        # VACUUM sets the visibility map, so that counts and deep offsets are index-only scans, as
        # they are on a table autovacuum has visited; before the indexes, it has none to visit.
        for table in SEEDED_TABLES:
            cursor.execute(f"VACUUM {table}")
    vacuumed = time.monotonic() - started
    log(f"rebuilding {len(indexes)} indexes, {workers} at a time")
    index_started = time.monotonic()

    def rebuild(item):
        name, definition, constraint = item
        db = connections.create_connection("default")
        try:
            with db.cursor() as c:
                # A GIN build accumulates its keys in this memory and merges a batch into the index
                # each time it fills (at 10M users, 1 GB filled several times over per trigram
                # index); a btree build sorts its entries in it, on disk when they do not fit (the
                # covering index's 10M entries, about 1.5 GB with the sort's overhead, do not fit
                # in 1 GB).
                c.execute("SET maintenance_work_mem = '4GB'")
                # A btree build takes a parallel worker (GIN builds cannot before PostgreSQL 18):
                # once the other connection has nothing left to build, the last btrees use both
                # cores rather than one (at 10M the covering index built alone for 40 s).
                c.execute("SET max_parallel_maintenance_workers = 1")
                c.execute(definition)
            log(f"  {name} built after {time.monotonic() - index_started:.1f}s")
        finally:
            db.close()

    # Longest first, shortest last, so that the two workers finish together: the username, e-mail
    # and attribute GINs, the names' GINs, the btrees, and last the small partial indexes of flags.
    order = sorted(indexes, key=lambda item: (" gin " not in item[1], "_name_" in item[0] and " gin " in item[1],
                                              " WHERE (NOT " in item[1]))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(rebuild, order))
    with connection.cursor() as cursor:
        # Constraints take their built indexes only now: ADD CONSTRAINT … USING INDEX locks the
        # table exclusively, so during the builds it waited for the other worker's build to end,
        # and that worker's next build waited behind it (a core idle each time, 25 s at 10M).
        for name, _, constraint in indexes:
            if constraint:
                cursor.execute(f'ALTER TABLE users_user ADD CONSTRAINT "{constraint}" UNIQUE USING INDEX "{name}"')
        for table in SEEDED_TABLES:
            cursor.execute(f"ANALYZE {table}")  # after the indexes: statistics of their expressions
    total = time.monotonic() - started
    result = {"users": count, "seconds": round(total, 1), "rows_per_second": round(count / total),
              "insert_seconds": round(inserted, 1), "vacuum_seconds": round(vacuumed - inserted, 1),
              "index_seconds": round(time.monotonic() - index_started, 1), "workers": workers}
    log(f"{count:,} users in {total:.1f}s ({result['rows_per_second']:,} users/s, indexes included)")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identity.settings")
    django.setup()
    seed(args.users)


if __name__ == "__main__":
    main()
