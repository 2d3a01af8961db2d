"""Through Keycloak, side by side: the same admin searches and password logins on realm A (users in
the backend, found through our provider) and realm B (the same users imported into Keycloak's own
storage), in one run, on one Keycloak and one PostgreSQL server, at the same concurrency. Then what
a person's access token costs on the API compared with a service token.

Realm B holds the same N users. The first thousand go through Keycloak's partial import with
pre-hashed credentials: the backend's shared Argon2id hash is converted into Keycloak's
representation, so both realms check the same hash at the same cost (Argon2id, t=5, m=7168 KiB,
p=1) and loading costs no hashing. Partial import runs at a few hundred users a second, so the
rest are written with SQL into the same tables in the shape Keycloak gave the imported ones
(`copy_into_realm_b`), and `check_copies` compares the two through the admin API.
"""

import base64
import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from bench.load import log, measure
from bench.seed import username_of

REALM_A = "bench-federated"
REALM_B = "bench-local"
KEYCLOAK_DATABASE = "keycloak"
TOKEN_PATH = "/realms/{realm}/protocol/openid-connect/token"
# Admin REST searches, as the admin console and services call them; {…} are filled per request.
SEARCHES = {
    "search substring, common (*smi*)": "search=*smi*&max=20",
    "search substring, rare (*uaintrel*)": "search=*uaintrel*&max=20",
    "username exact": "username={username}&exact=true&max=20",
    "email exact": "email={email}&exact=true&max=20",
    "phone (q=phone_number:…)": "q=phone_number:{phone}&max=20",
}
# Admin REST reads besides the searches; {realm} is the realm's name, {id} the user's id in that realm.
# Keycloak finds a user by id only in its own rows: realm A has them for the users it has seen, so
# the id lookups ask for users of the login pool, after their first logins.
COUNT = "count (users/count?search=*smi*)"
ID_LOOKUP = "id exact (users/{id})"
READS = {
    COUNT: "/admin/realms/{realm}/users/count?search=*smi*",
    ID_LOOKUP: "/admin/realms/{realm}/users/{id}",
}
LOGIN = "password login (direct grant)"


# --------------------------------------------------------------------------- Keycloak on PostgreSQL


def create_database(database_url):
    """A `keycloak` database on the bench's server; Keycloak's JDBC options for it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {KEYCLOAK_DATABASE}")
        cursor.execute(f"CREATE DATABASE {KEYCLOAK_DATABASE}")
    url = urllib.parse.urlparse(database_url)
    return ["--db=postgres", f"--db-url=jdbc:postgresql://{url.hostname}:{url.port}/{KEYCLOAK_DATABASE}",
            f"--db-username={url.username or 'postgres'}", "--db-password=unused"]


def start_keycloak(database_url, data_dir):
    """Keycloak from its own copy of the distribution: `start-dev` re-augments the installation
    when the database kind changes, which must not disturb test runs using the shared copy."""
    from keycloak_bridge.dev import keycloak_runner

    shared = keycloak_runner.cache_dir().parent
    previous = os.environ.get("KEYCLOAK_CACHE_DIR")
    os.environ["KEYCLOAK_CACHE_DIR"] = str(shared.with_name(shared.name + "-bench-postgres"))
    try:
        return keycloak_runner.start_keycloak(data_dir=data_dir, db_args=create_database(database_url))
    finally:
        if previous is None:
            os.environ.pop("KEYCLOAK_CACHE_DIR", None)
        else:
            os.environ["KEYCLOAK_CACHE_DIR"] = previous


def tune_realm(admin, realm, **settings):
    _, rep = admin.request("GET", f"/admin/realms/{realm}")
    rep.update(settings)
    admin.request("PUT", f"/admin/realms/{realm}", rep)


def realm_a(admin, kc, backend_url, api_token, cache_policy):
    """The demo realm's configuration, users from the backend through the provider."""
    from keycloak_bridge.dev.realm import apply_realm

    info = apply_realm(kc.base_url, kc.admin_user, kc.admin_password, backend_url, api_token, realm=REALM_A,
                       cache_policy=cache_policy)
    tune_realm(admin, REALM_A, passwordPolicy="hashAlgorithm(argon2)", accessTokenLifespan=3600)
    return info


def set_cache_policy(admin, component_id, policy):
    path = f"/admin/realms/{REALM_A}/components/{component_id}"
    _, component = admin.request("GET", path)
    component["config"]["cachePolicy"] = [policy]
    admin.request("PUT", path, component)


def realm_b(admin):
    """The same realm without the storage component (nor the provider's login listener)."""
    from keycloak_bridge.dev.realm import STORAGE_COMPONENT_TYPE, build_realm

    rep = build_realm("http://127.0.0.1:9", "unused", realm=REALM_B)
    del rep["components"][STORAGE_COMPONENT_TYPE]
    rep["eventsListeners"] = ["jboss-logging"]
    rep["passwordPolicy"] = "hashAlgorithm(argon2)"
    rep["accessTokenLifespan"] = 3600
    status, _ = admin.request("GET", f"/admin/realms/{REALM_B}")
    if status == 200:
        admin.request("DELETE", f"/admin/realms/{REALM_B}")
    admin.request("POST", "/admin/realms", rep, ok=(201,))


# --------------------------------------------------------------------------- loading realm B

# Users 1..IMPORTED (at least the login pool) go through Keycloak's partial import, which manages a
# few hundred users a second (half an hour for 1,000,000); the rest are written with SQL in the
# same shape, thousands a second.
IMPORTED = 1000

# Users 1..N of the bench tenant as realm B receives them, one row each, in the backend's database:
# the phone number joins the other attributes, as the provider maps it.
SOURCE_SQL = """
SELECT row_number() OVER (ORDER BY u.id), u.id::text, u.username, u.email, u.email_verified, u.first_name,
       u.last_name, u.is_active, (extract(epoch FROM u.created_at) * 1000)::bigint,
       (u.attributes - 'phone_number' - 'phone_verified')
       || jsonb_build_object('phone_number', jsonb_build_array(u.phone_number),
                             'phone_verified', jsonb_build_array(u.phone_verified::text)),
       ARRAY(SELECT r.name FROM users_user_roles ur JOIN users_role r ON r.id = ur.role_id
             WHERE ur.user_id = u.id ORDER BY r.name),
       u.password
FROM users_user u JOIN users_tenant t ON t.id = u.tenant_id
WHERE t.slug = {tenant} AND u.id > {after} AND u.id <= {until}
"""
SOURCE_COLUMNS = ("n bigint, backend_id text, username text, email text, email_verified boolean, first_name text, "
                  "last_name text, enabled boolean, created_ms bigint, attributes jsonb, roles text[], password text")


def keycloak_id(backend_id):
    """Realm B's id for a backend user: its UUID with the variant digit 8 made b. Not the backend's
    UUID itself: realm A's provider imports its users' rows under that id, and user ids are unique
    across realms. wrk computes it as it computes the backend's (`REALM_B_ID_FORMAT`)."""
    if backend_id[19] != "8":
        raise ValueError(f"expected a bench user's id (variant digit 8), got {backend_id}")
    return backend_id[:19] + "b" + backend_id[20:]


KEYCLOAK_ID_SQL = "overlay(s.backend_id placing 'b' from 20 for 1)"
# bench/wrk/request.lua's {id} for user i in realm B (bench.seed.uuid_of's, variant digit b).
REALM_B_ID_FORMAT = "00000000-0000-4000-b000-%012d"


def source_query(after, until):
    from psycopg import sql

    from bench.seed import TENANT, uuid_of

    return sql.SQL(SOURCE_SQL).format(tenant=sql.Literal(TENANT), after=sql.Literal(uuid_of(after)),
                                      until=sql.Literal(uuid_of(until)))


def keycloak_credential(django_hash):
    """Django's `argon2$argon2id$v=19$m=…,t=…,p=…$salt$hash` as Keycloak's password credential
    (`PasswordSecretData` / `PasswordCredentialData` of its Argon2PasswordHashProvider)."""
    _, variant, version, params, salt, digest = django_hash.split("$")
    if variant != "argon2id" or version != "v=19":
        raise ValueError(f"expected an argon2id v=19 hash, got {variant} {version}")
    cost = dict(part.split("=") for part in params.split(","))

    def raw(text):
        return base64.b64decode(text + "=" * (-len(text) % 4))

    digest = raw(digest)
    return {
        "type": "password",
        "secretData": json.dumps({"value": base64.b64encode(digest).decode(),
                                  "salt": base64.b64encode(raw(salt)).decode(), "additionalParameters": {}}),
        "credentialData": json.dumps({
            "hashIterations": int(cost["t"]), "algorithm": "argon2",
            "additionalParameters": {"hashLength": [str(len(digest))], "memory": [cost["m"]], "type": ["id"],
                                     "version": ["1.3"], "parallelism": [cost["p"]]}}),
    }


def user_batches(count, batch):
    """Users 1..count as Keycloak user representations, `batch` at a time."""
    from django.db import connection

    credentials = {}
    with connection.cursor() as cursor:
        cursor.execute(source_query(0, count).as_string(None) + " ORDER BY u.id")
        while rows := cursor.fetchmany(batch):
            users = []
            for (_n, backend_id, username, email, email_verified, first, last, enabled, created_ms, attributes,
                 roles, password) in rows:
                if isinstance(attributes, str):  # jsonb comes back as text through a raw cursor
                    attributes = json.loads(attributes)
                if password not in credentials:
                    credentials[password] = keycloak_credential(password)
                users.append({
                    "id": keycloak_id(backend_id), "username": username, "email": email,
                    "emailVerified": email_verified, "firstName": first, "lastName": last, "enabled": enabled,
                    "createdTimestamp": created_ms, "attributes": attributes,
                    "realmRoles": [f"default-roles-{REALM_B}", *roles], "credentials": [credentials[password]],
                })
            yield users


def load_realm_b(admin, count, batch=50, workers=4):
    """Partial import, `workers` batches in flight. Batches stay small: Keycloak imports a batch in
    one transaction, and Hibernate's flush checks every entity of it before each query, so the
    cost per user grows with the batch (500 users per batch loaded ~70 users/s)."""
    started = last_report = time.monotonic()
    done = 0

    def post(users):
        admin.request("POST", f"/admin/realms/{REALM_B}/partialImport",
                      {"ifResourceExists": "FAIL", "users": users})
        return len(users)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = []
        try:
            for users in user_batches(count, batch):
                pending.append(pool.submit(post, users))
                if len(pending) >= 2 * workers:
                    done += pending.pop(0).result()
                    if time.monotonic() - last_report > 10:
                        last_report = time.monotonic()
                        log(f"  realm {REALM_B}: {done:>9,} users  {done / (last_report - started):>7,.0f} users/s")
            for future in pending:
                done += future.result()
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    seconds = time.monotonic() - started
    log(f"imported {done:,} users through partial import in {seconds:.1f}s ({done / seconds:,.0f} users/s)")
    return {"users": done, "seconds": round(seconds, 1), "users_per_second": round(done / seconds),
            "batch": batch, "concurrent_batches": workers, "method": "POST /admin/realms/{realm}/partialImport"}


# One statement per table, over the staged users s with n in (%(lo)s, %(hi)s]: the rows Keycloak's
# JPA store writes for an imported user (check_copies compares the two).
COPY_SQL = [
    f"""INSERT INTO user_entity (id, email, email_constraint, email_verified, enabled, federation_link, first_name,
            last_name, realm_id, username, created_timestamp, service_account_client_link, not_before)
        SELECT {KEYCLOAK_ID_SQL}, lower(nullif(s.email, '')), coalesce(lower(nullif(s.email, '')),
               gen_random_uuid()::text), s.email_verified, s.enabled, NULL, s.first_name, s.last_name, %(realm)s,
               lower(s.username), s.created_ms, NULL, 0
        FROM bench_users s WHERE s.n > %(lo)s AND s.n <= %(hi)s""",
    f"""INSERT INTO user_attribute (name, value, user_id, id)
        SELECT a.key, v.value, {KEYCLOAK_ID_SQL}, gen_random_uuid()::text
        FROM bench_users s, jsonb_each(s.attributes) a, jsonb_array_elements_text(a.value) v
        WHERE s.n > %(lo)s AND s.n <= %(hi)s""",
    f"""INSERT INTO credential (id, salt, type, user_id, created_date, user_label, secret_data, credential_data,
            priority, version)
        SELECT gen_random_uuid()::text, NULL, 'password', {KEYCLOAK_ID_SQL}, %(now_ms)s, NULL, c.secret_data,
               c.credential_data, 10, 0
        FROM bench_users s JOIN bench_credentials c ON c.password = s.password
        WHERE s.n > %(lo)s AND s.n <= %(hi)s""",
    f"""INSERT INTO user_role_mapping (role_id, user_id)
        SELECT r.id, {KEYCLOAK_ID_SQL}
        FROM bench_users s, unnest(%(default_role)s || s.roles) AS m(name)
        JOIN keycloak_role r ON r.realm_id = %(realm)s AND NOT r.client_role AND r.name = m.name
        WHERE s.n > %(lo)s AND s.n <= %(hi)s""",
]
COPIED_TABLES = ("user_entity", "user_attribute", "credential", "user_role_mapping")


def secondary_indexes(target):
    """The indexes of COPIED_TABLES but their primary keys (which foreign keys reference), with
    their definitions and the unique constraints they back."""
    return target.execute("""
        SELECT i.relname, pg_get_indexdef(i.oid), c.conname, x.indrelid::regclass::text
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.contype = 'u'
        WHERE x.indrelid = ANY(%s::regclass[]) AND NOT x.indisprimary""", [list(COPIED_TABLES)]).fetchall()


def rebuild_indexes(database_url, indexes, workers=2):
    """As bench/seed.py does: building an index once is much faster than maintaining it row by row.
    Unique constraints come back through their index, which checks every row again."""
    import psycopg

    started = time.monotonic()

    def rebuild(item):
        name, definition, constraint, table = item
        with psycopg.connect(database_url, dbname=KEYCLOAK_DATABASE, autocommit=True) as db:
            db.execute("SET maintenance_work_mem = '512MB'")
            db.execute("SET max_parallel_maintenance_workers = 0")
            db.execute(definition)
            if constraint:
                db.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" UNIQUE USING INDEX "{name}"')
        log(f"    index {name} on {table} built after {time.monotonic() - started:.1f}s")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(rebuild, sorted(indexes, key=lambda item: item[3] != "user_attribute")))


def copy_into_realm_b(database_url, after, count, chunk=100_000):
    """Users after+1..count written straight into Keycloak's tables, set-based: copied from the
    backend's database into a staging table, then inserted `chunk` users per transaction, with the
    tables' secondary indexes dropped and their foreign keys unchecked (the rows refer to users and
    roles inserted just before), then indexes rebuilt. Safe while Keycloak runs: nothing of these
    users is cached before their first lookup, and realm-level caches hold no user rows."""
    import psycopg
    from psycopg import sql

    started = time.monotonic()
    with psycopg.connect(database_url) as source, \
            psycopg.connect(database_url, dbname=KEYCLOAK_DATABASE, autocommit=True) as target:
        target.execute("SET synchronous_commit = off")
        target.execute("SET session_replication_role = replica")  # no foreign-key triggers
        target.execute(f"CREATE TEMP TABLE bench_users ({SOURCE_COLUMNS})")
        with source.cursor().copy(sql.SQL("COPY ({}) TO STDOUT").format(source_query(after, count))) as out, \
                target.cursor().copy("COPY bench_users FROM STDIN") as into:
            for data in out:
                into.write(data)
        target.execute("CREATE INDEX ON bench_users (n)")
        target.execute("ANALYZE bench_users")
        staged = target.execute("SELECT count(*) FROM bench_users").fetchone()[0]
        log(f"  staged {staged:,} users in {time.monotonic() - started:.1f}s")
        if staged != count - after:
            raise RuntimeError(f"expected {count - after:,} backend users to copy, found {staged:,}")
        if target.execute("SELECT 1 FROM bench_users s, jsonb_each(s.attributes) a, jsonb_array_elements_text("
                          "a.value) v WHERE length(v.value) > 255 LIMIT 1").fetchone():
            raise RuntimeError("an attribute value is over 255 characters: Keycloak stores those differently")

        target.execute("CREATE TEMP TABLE bench_credentials (password text, secret_data text, credential_data text)")
        for (password,) in target.execute("SELECT DISTINCT password FROM bench_users").fetchall():
            credential = keycloak_credential(password)
            target.execute("INSERT INTO bench_credentials VALUES (%s, %s, %s)",
                           [password, credential["secretData"], credential["credentialData"]])
        realm = target.execute("SELECT id FROM realm WHERE name = %s", [REALM_B]).fetchone()[0]
        default_role = [f"default-roles-{REALM_B}"]
        missing = target.execute("""
            SELECT DISTINCT m.name FROM bench_users s, unnest(%s || s.roles) AS m(name)
            WHERE NOT EXISTS (SELECT 1 FROM keycloak_role r
                              WHERE r.realm_id = %s AND NOT r.client_role AND r.name = m.name)""",
                                 [default_role, realm]).fetchall()
        if missing:
            raise RuntimeError(f"roles missing from realm {REALM_B}: {[name for (name,) in missing]}")

        indexes = secondary_indexes(target)
        for name, _, constraint, table in indexes:
            target.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"' if constraint
                           else f'DROP INDEX "{name}"')
        params = {"realm": realm, "default_role": default_role, "now_ms": int(time.time() * 1000)}
        for lo in range(0, staged, chunk):
            with target.transaction():
                for statement in COPY_SQL:
                    target.execute(statement, {**params, "lo": lo, "hi": lo + chunk})
            done = min(lo + chunk, staged)
            log(f"  realm {REALM_B}: {after + done:>9,} users  "
                f"{done / (time.monotonic() - started):>7,.0f} users/s (SQL copy)")
        target.execute("DROP TABLE bench_users, bench_credentials")
        log(f"  rebuilding {len(indexes)} indexes, 2 at a time")
        rebuild_indexes(database_url, indexes)
        for table in COPIED_TABLES:  # as autovacuum would leave them before anyone searched
            target.execute(f"VACUUM ANALYZE {table}")
    seconds = time.monotonic() - started
    log(f"  wrote {staged:,} users into Keycloak's tables in {seconds:.1f}s ({staged / seconds:,.0f} users/s)")
    return {"users": staged, "seconds": round(seconds, 1), "users_per_second": round(staged / seconds),
            "method": f"INSERT … SELECT into {', '.join(COPIED_TABLES)}, {chunk:,} users per transaction, "
                      "secondary indexes rebuilt after"}


# --------------------------------------------------------------------------- checks and logins


def direct_grant(kc_url, realm, username):
    from bench.seed import BENCH_PASSWORD

    form = urllib.parse.urlencode({"grant_type": "password", "client_id": "identity-frontend",
                                   "username": username, "password": BENCH_PASSWORD}).encode()
    request = urllib.request.Request(kc_url + TOKEN_PATH.format(realm=realm), data=form, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["access_token"]
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"login of {username} in {realm} failed: {error.code} {error.read()[:300]!r}") from None


def first_logins(kc_url, realm, pool, connections):
    """Every user of the login pool logs in once: realm A imports their minimal rows here, and
    both realms start the measured logins with the same users already seen."""
    users = [username_of(i) for i in range(1, pool + 1) if i % 50]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=connections) as executor:
        list(executor.map(lambda u: direct_grant(kc_url, realm, u), users))
    seconds = time.monotonic() - started
    log(f"first logins in {realm}: {len(users)} users in {seconds:.1f}s ({len(users) / seconds:,.1f}/s)")
    return {"users": len(users), "seconds": round(seconds, 1), "logins_per_second": round(len(users) / seconds, 1)}


def see_disabled(admin, realm, pool):
    """The pool's disabled users (every 50th), whom first logins skip, looked up once by username:
    then Keycloak has a row for every user of the pool."""
    for i in range(50, pool + 1, 50):
        admin.request("GET", f"/admin/realms/{realm}/users?username={username_of(i)}&exact=true")


def fill(template, i):
    from bench.seed import email_domain

    username = username_of(i)
    return template.format(username=username, email=urllib.parse.quote(f"{username}@{email_domain(i)}"),
                           phone=urllib.parse.quote(f"+1555{i:07d}"))


def check_searches(admin, count, complete=True):
    """Both realms must answer every search alike before their speed means anything: the exact
    searches find user count/2+1 (one SQL copy when the import covered fewer) in each realm, and
    with all N users in realm B (`complete`) every search finds as many in B as in A."""
    found = {}
    for name, query in SEARCHES.items():
        query = fill(query, count // 2 + 1)
        found[name] = {realm: len(admin.request("GET", f"/admin/realms/{realm}/users?{query}")[1])
                       for realm in (REALM_A, REALM_B)}
        log(f"  {name:<40} results: {found[name]}")
    wrong = [name for name, by_realm in found.items()
             if ("exact" in name or "phone" in name) and set(by_realm.values()) != {1}
             or complete and by_realm[REALM_A] != by_realm[REALM_B]]
    if wrong:
        raise SystemExit(f"realms {REALM_A} and {REALM_B} disagree on {wrong}: {found}")
    return found


def check_reads(admin, count):
    """The id lookup finds user count/2+1 in each realm, and both realms count alike."""
    from bench.seed import uuid_of

    backend_id = uuid_of(count // 2 + 1)
    found = {}
    for realm, user_id in ((REALM_A, backend_id), (REALM_B, keycloak_id(backend_id))):
        status, user = admin.request("GET", f"/admin/realms/{realm}/users/{user_id}")
        if status != 200 or user["username"] != username_of(count // 2 + 1):
            raise SystemExit(f"realm {realm}: user {user_id} not found by id: {status} {user}")
        found[realm] = admin.request("GET", READS[COUNT].replace("{realm}", realm))[1]
    log(f"  id lookup finds user {count // 2 + 1:,} in both realms; count (search=*smi*): {found}")
    if found[REALM_A] != found[REALM_B]:
        raise SystemExit(f"realms {REALM_A} and {REALM_B} count *smi* differently: {found}")
    return found


@contextmanager
def realm_ids(realm):
    """wrk's {id} as the realm's user ids while measuring it (realm A's are the backend's)."""
    previous = os.environ.get("BENCH_ID_FORMAT")
    if realm == REALM_B:
        os.environ["BENCH_ID_FORMAT"] = REALM_B_ID_FORMAT
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("BENCH_ID_FORMAT", None)
        else:
            os.environ["BENCH_ID_FORMAT"] = previous


def user_shape(admin, i):
    """What differs by how user i was loaded, not by who they are: fields, attribute names, realm
    roles, credentials."""
    from bench.seed import uuid_of

    base = f"/admin/realms/{REALM_B}/users"
    users = admin.request("GET", f"{base}?username={username_of(i)}&exact=true&briefRepresentation=false")[1]
    if len(users) != 1 or users[0]["id"] != keycloak_id(uuid_of(i)):
        raise SystemExit(f"realm {REALM_B}: user {username_of(i)} is missing or has another id: {users}")
    user = users[0]
    return {"fields": sorted(user), "attributes": sorted(user["attributes"]),
            "roles": sorted(r["name"] for r in admin.request("GET", f"{base}/{user['id']}/role-mappings/realm")[1]),
            "credentials": [(c["type"], c.get("userLabel"), c["credentialData"])
                            for c in admin.request("GET", f"{base}/{user['id']}/credentials")[1]]}


def check_copies(admin, kc_url, imported, count):
    """A user written in SQL looks, through Keycloak's admin API, like one Keycloak imported, and
    logs in with the bench password."""
    copied = max(imported + 1, count // 2 + 1)
    while copied % 10 == 0 or copied % 50 == 0:  # like user 1: no backend role, enabled
        copied += 1
    original, copy = user_shape(admin, 1), user_shape(admin, copied)
    if original != copy:
        raise SystemExit(f"realm {REALM_B}: user {copied} (SQL) differs from user 1 (partial import):\n"
                         f"{json.dumps(copy)}\n{json.dumps(original)}")
    direct_grant(kc_url, REALM_B, username_of(copied))
    log(f"  user {copied:,} (SQL) has the shape of user 1 (partial import) and logs in")


# --------------------------------------------------------------------------- the step


def row(result):
    return {k: result[k] for k in ("rps", "p50_ms", "p99_ms", "errors", "cancelled") if k in result}


# wrk gives up on a request after its 10 s timeout, but Keycloak and PostgreSQL go on with it: the
# queries of a shape that timed out (realm B's attribute search at 1M users) kept PostgreSQL busy
# through the next measurements. Each measurement waits for them, then cancels what still runs.
SETTLE_SECONDS = 30
_RUNNING = """
    SELECT pid FROM pg_stat_activity
    WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND datname = ANY(%s)
"""


def settle(database_url, databases=None):
    """Waits until no query runs in `databases` (default: Keycloak's and the backend's) on the bench's
    PostgreSQL, for at most SETTLE_SECONDS; returns how many it then had to cancel."""
    import psycopg

    databases = list(databases or (KEYCLOAK_DATABASE, urllib.parse.urlparse(database_url).path.lstrip("/")))
    deadline = time.monotonic() + SETTLE_SECONDS
    with psycopg.connect(database_url, autocommit=True) as db:
        while db.execute(_RUNNING, [databases]).fetchone():
            if time.monotonic() > deadline:
                return len(db.execute(f"SELECT pg_cancel_backend(pid) FROM ({_RUNNING}) r", [databases]).fetchall())
            time.sleep(0.2)
    return 0


def measure_settled(database_url, *args, **kwargs):
    """measure(), then settle(): the count of cancelled queries is kept beside the figures."""
    result = measure(*args, **kwargs)
    cancelled = settle(database_url)
    if cancelled:
        log(f"  cancelled {cancelled} queries still running {SETTLE_SECONDS} s after the measurement")
        result["cancelled"] = cancelled
    return result


def run(backend_url, api_token, args, database_url, backend_pid=None):
    """Returns the `keycloak` section of latest.json; stops everything it started. `backend_pid`:
    gunicorn's master, whose CPU per login is counted with Keycloak's and PostgreSQL's."""
    from bench.seed import BENCH_PASSWORD
    from keycloak_bridge.dev.realm import AdminClient

    count = min(args.keycloak_users or args.users, args.users)
    pool = min(args.keycloak_login_users, count)
    imported = min(max(IMPORTED, pool), count)  # measured logins only meet users Keycloak imported
    policies = [p.strip() for p in args.keycloak_cache_policies.split(",") if p.strip()]
    data_dir = Path(tempfile.mkdtemp(prefix="bench-keycloak-"))
    results = {"users_loaded": count, "backend_users": args.users, "realms": {
        "A": f"{REALM_A}: users in the backend through the provider",
        "B": f"{REALM_B}: users in Keycloak's own storage (partial import, the rest written in SQL in "
             "the same shape)"},
        "password_hash": "argon2id t=5 m=7168 p=1 in both realms (realm policy hashAlgorithm(argon2))",
        "login_pool": pool, "cache_policies_realm_a": policies}
    log(f"starting Keycloak on the bench's PostgreSQL (database {KEYCLOAK_DATABASE})")
    kc = start_keycloak(database_url, data_dir)
    try:
        admin = AdminClient(kc.base_url, kc.admin_user, kc.admin_password, timeout=600)
        tune_realm(admin, "master", accessTokenLifespan=3600)
        admin.renew_token()  # one admin token now lasts a whole measurement, not the first one's 60 s
        info = realm_a(admin, kc, backend_url, api_token, policies[0])
        realm_b(admin)
        log(f"loading {count:,} users into realm {REALM_B}: {imported:,} by partial import (pre-hashed "
            f"credentials), the rest in SQL")
        started = time.monotonic()
        load = {"partial_import": load_realm_b(admin, imported, batch=args.keycloak_batch)}
        if count > imported:
            load["sql"] = copy_into_realm_b(database_url, imported, count)
        seconds = time.monotonic() - started
        results["load"] = {"users": count, "seconds": round(seconds, 1), "users_per_second": round(count / seconds),
                           **load}
        log(f"realm {REALM_B} holds {count:,} users, loaded in {seconds:.1f}s ({count / seconds:,.0f} users/s)")
        held = admin.request("GET", f"/admin/realms/{REALM_B}/users/count")[1]
        if held != count:
            raise SystemExit(f"realm {REALM_B} holds {held:,} users, expected {count:,}")
        log("checking logins and searches in both realms")
        for realm in (REALM_A, REALM_B):
            direct_grant(kc.base_url, realm, username_of(1))
        if count > imported:
            check_copies(admin, kc.base_url, imported, count)
        results["checks"] = check_searches(admin, count, complete=count == args.users)
        results["checks"]["count (search=*smi*)"] = check_reads(admin, count)

        ops = {}
        body = ("grant_type=password&client_id=identity-frontend&username={username}&password="
                + urllib.parse.quote(BENCH_PASSWORD))
        for label, realm, policy in [*((f"A federated ({p})", REALM_A, p) for p in policies),
                                     ("B keycloak storage", REALM_B, None)]:
            if policy is not None:
                set_cache_policy(admin, info["storage_component_id"], policy)
            log(f"measuring realm {label}")
            auth = f"Bearer {admin.token()}"
            for name, query in SEARCHES.items():
                path = f"/admin/realms/{realm}/users?{query}"
                ops.setdefault(name, {})[label] = row(measure_settled(
                    database_url, kc.base_url, f"{label}: {name}", path, args, auth, users=count))
            ops.setdefault(COUNT, {})[label] = row(measure_settled(
                database_url, kc.base_url, f"{label}: {COUNT}", READS[COUNT].replace("{realm}", realm), args, auth,
                users=count))
            if label.startswith("A") and policy == policies[0] or label.startswith("B"):
                results.setdefault("first_logins", {})[label] = first_logins(kc.base_url, realm, pool,
                                                                               args.connections)
                see_disabled(admin, realm, pool)
            with realm_ids(realm):
                ops.setdefault(ID_LOOKUP, {})[label] = row(measure_settled(
                    database_url, kc.base_url, f"{label}: {ID_LOOKUP}", READS[ID_LOOKUP].replace("{realm}", realm),
                    args, auth, users=pool))
            counters = login_cpu_counters(kc, backend_pid)
            login = measure(kc.base_url, f"{label}: {LOGIN}", TOKEN_PATH.format(realm=realm), args, None, users=pool,
                            body=body)
            results.setdefault("cpu_per_login", {})[label] = counters.per_request(login["requests"])
            settle(database_url)  # after the CPU counters; the next realm starts on a quiet database
            ops.setdefault(LOGIN, {})[label] = row(login)
        results["disk"] = keycloak_disk(database_url, count)
        if backend_pid is not None and not args.skip_profiles:  # after every figure, so that none carries a profiler's cost
            set_cache_policy(admin, info["storage_component_id"], policies[0])
            results["login_profiles"] = profile_logins(kc, backend_pid, args, body, pool, policies[0])
        results["operations"] = ops
        results["ratios"] = ratios(ops, policies)
        results["auth_overhead"] = auth_overhead(kc.base_url, backend_url, api_token, args)
    finally:
        kc.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        log("Keycloak stopped")
    return results


def profile_logins(kc, backend_pid, args, body, pool, policy):
    """Password logins in each realm for `profiles.SECONDS` at the run's concurrency, while
    async-profiler samples Keycloak's CPU and, in realm A, py-spy the backend's workers: where each
    realm's cost per login goes (`bench/results/profiles/`). The paths relative to the checkout."""
    from bench import async_profiler, profiles
    from bench.memory import PROFILES, in_checkout

    written = {}
    for label, realm in ((f"A ({policy})", REALM_A), ("B", REALM_B)):
        side = label[0]
        log(f"profiling logins in realm {label}: async-profiler on Keycloak"
            + (", py-spy on the backend's workers" if side == "A" else "") + f", {profiles.SECONDS} s")
        graphs = {"keycloak": PROFILES / f"keycloak-{side}-login-cpu-N{args.users}.html"}
        if side == "A":
            graphs["backend"] = PROFILES / f"gunicorn-A-login-N{args.users}.svg"
        with profiles.under_load(kc.base_url, TOKEN_PATH.format(realm=realm), pool, None, args,
                                 f"profiling logins in realm {label}", body):
            time.sleep(2)  # past the connections' first requests
            with async_profiler.profiling(kc.pid, graphs["keycloak"]):
                spy = profiles.py_spy(backend_pid, graphs["backend"]) if side == "A" else None
                time.sleep(profiles.SECONDS)
                if spy is not None:
                    spy.wait()
        written[label] = {name: in_checkout(path) for name, path in graphs.items()}
    return written


def login_cpu_counters(kc, backend_pid):
    from bench.cpu import Counters, postmaster_pid

    return Counters({"keycloak": kc.process.pid if kc.process is not None else kc.pid, "backend": backend_pid,
                     "postgresql": postmaster_pid()})


def keycloak_disk(database_url, count):
    """Bytes per user of realm B's rows, after the first logins gave realm A its minimal rows."""
    import psycopg

    from bench.disk import keycloak

    with psycopg.connect(database_url, dbname=KEYCLOAK_DATABASE, autocommit=True) as db:
        return keycloak(db, REALM_B, count)


def ratios(ops, policies):
    """Searches and reads: realm B's p50 over realm A's (how many times faster the provider is), and
    realm A's throughput over realm B's; target >= 1 for both. Login: realm A's p50 over realm B's
    (target <= 1.2). None where a side completed no request within wrk's timeout (p50 0): its
    errors show in the table."""
    def ratio(x, y):
        return round(x["p50_ms"] / y["p50_ms"], 2) if x["p50_ms"] and y["p50_ms"] else None

    def throughput(x, y):
        return round(x["rps"] / y["rps"], 2) if x["rps"] and y["rps"] else None

    out = {}
    for policy in policies:
        a = f"A federated ({policy})"
        out[f"speed-up, B p50 / A p50 ({policy})"] = {
            name: ratio(ops[name]["B keycloak storage"], ops[name][a]) for name in (*SEARCHES, *READS)}
        out[f"throughput, A req/s / B req/s ({policy})"] = {
            name: throughput(ops[name][a], ops[name]["B keycloak storage"]) for name in (*SEARCHES, *READS, LOGIN)}
        out[f"login time, A p50 / B p50 ({policy})"] = ratio(ops[LOGIN][a], ops[LOGIN]["B keycloak storage"])
    return out


def auth_overhead(kc_url, backend_url, api_token, args):
    """`GET /v1/users/{id}` with the service token and with a person's Keycloak access token
    (user 1 of the bench tenant, made an admin, whose tenant trusts realm A's issuer)."""
    from bench.seed import TENANT, uuid_of
    from users.models import Role, Tenant, User

    Tenant.objects.filter(slug=TENANT).update(oidc_issuer=f"{kc_url}/realms/{REALM_A}")
    user = User.objects.get(pk=uuid_of(1))
    user.roles.add(Role.objects.get(tenant__slug=TENANT, name="admin"))
    token = direct_grant(kc_url, REALM_A, user.username)
    path = "/v1/users/{id}"
    service = row(measure(backend_url, "lookup by id, service token", path, args, f"Bearer {api_token}"))
    person = row(measure(backend_url, "lookup by id, Keycloak access token", path, args, f"Bearer {token}"))
    return {"service token": service, "keycloak access token": person,
            "p50 ratio (person / service)": round(person["p50_ms"] / service["p50_ms"], 2),
            "rps ratio (person / service)": round(person["rps"] / service["rps"], 2)}


def table(section):
    """The Markdown table of latest.md's Keycloak part."""
    labels = list(next(iter(section["operations"].values())))
    lines = ["| operation | " + " | ".join(f"{label} req/s · p50 · p99 ms" for label in labels) + " |",
             "|---|" + "---:|" * len(labels)]
    for name, by_label in section["operations"].items():
        cells = [f"{r['rps']:,.0f} · {r['p50_ms']:.2f} · {r['p99_ms']:.2f}" + (f" ({r['errors']} errors)"
                                                                                  if r["errors"] else "")
                 for r in by_label.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    overhead = section["auth_overhead"]
    lines += ["", "| `/v1/users/{id}` | req/s | p50 ms | p99 ms |", "|---|---:|---:|---:|"]
    for name in ("service token", "keycloak access token"):
        r = overhead[name]
        lines.append(f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")
    return "\n".join(lines)
