"""Through Keycloak, side by side: the same admin searches and password logins on realm A (users in
the backend, found through our provider) and realm B (the same users imported into Keycloak's own
storage), in one run, on one Keycloak and one PostgreSQL server, at the same concurrency. Then what
a person's access token costs on the API compared with a service token.

Realm B is loaded through Keycloak's partial import with pre-hashed credentials: the backend's
shared Argon2id hash is converted into Keycloak's representation, so both realms check the same
hash at the same cost (Argon2id, t=5, m=7168 KiB, p=1) and loading costs no hashing.
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
from pathlib import Path

from bench.load import log, measure

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
    from keycloak_bridge import keycloak_runner

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
    from keycloak_bridge.realm import apply_realm

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
    from keycloak_bridge.realm import STORAGE_COMPONENT_TYPE, build_realm

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
    """Users 1..count of the bench tenant, as Keycloak user representations, `batch` at a time."""
    from django.db import connection

    from bench.seed import TENANT, uuid_of

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT u.id, u.username, u.email, u.email_verified, u.first_name, u.last_name, u.is_active,
                   u.phone_number, u.phone_verified, u.attributes, u.password,
                   ARRAY(SELECT r.name FROM users_user_roles ur JOIN users_role r ON r.id = ur.role_id
                         WHERE ur.user_id = u.id ORDER BY r.name)
            FROM users_user u JOIN users_tenant t ON t.id = u.tenant_id
            WHERE t.slug = %s AND u.id <= %s ORDER BY u.id
        """, [TENANT, uuid_of(count)])
        credentials = {}
        while rows := cursor.fetchmany(batch):
            users = []
            for (_pk, username, email, email_verified, first, last, active, phone, phone_verified, attributes,
                 password, roles) in rows:
                if isinstance(attributes, str):  # jsonb comes back as text through a raw cursor
                    attributes = json.loads(attributes)
                if password not in credentials:
                    credentials[password] = keycloak_credential(password)
                users.append({  # no id: user ids are unique across realms, and realm A's are the UUIDs
                    "username": username, "email": email, "emailVerified": email_verified,
                    "firstName": first, "lastName": last, "enabled": active,
                    "attributes": {**attributes, "phone_number": [phone],
                                   "phone_verified": [str(phone_verified).lower()]},
                    "realmRoles": [f"default-roles-{REALM_B}", *roles],
                    "credentials": [credentials[password]],
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
                      {"ifResourceExists": "SKIP", "users": users})
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
    log(f"loaded {done:,} users into Keycloak's own storage in {seconds:.1f}s ({done / seconds:,.0f} users/s)")
    return {"users": done, "seconds": round(seconds, 1), "users_per_second": round(done / seconds),
            "batch": batch, "concurrent_batches": workers, "method": "POST /admin/realms/{realm}/partialImport"}


# --------------------------------------------------------------------------- checks and logins


def username_of(i):
    from bench.seed import FIRST_NAMES, LAST_NAMES

    return f"{FIRST_NAMES[i % 32].lower()}.{LAST_NAMES[(i // 32) % 50].lower()}{i}"


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


def fill(template, i):
    from bench.seed import email_domain

    username = username_of(i)
    return template.format(username=username, email=urllib.parse.quote(f"{username}@{email_domain(i)}"),
                           phone=urllib.parse.quote(f"+1555{i:07d}"))


def check_searches(admin, count):
    """Both realms must answer every search alike before their speed means anything."""
    found = {}
    for name, query in SEARCHES.items():
        query = fill(query, count // 2 + 1)
        found[name] = {realm: len(admin.request("GET", f"/admin/realms/{realm}/users?{query}")[1])
                       for realm in (REALM_A, REALM_B)}
        log(f"  {name:<40} results: {found[name]}")
    return found


# --------------------------------------------------------------------------- the step


def row(result):
    return {k: result[k] for k in ("rps", "p50_ms", "p99_ms", "errors")}


def run(backend_url, api_token, args, database_url):
    """Returns the `keycloak` section of latest.json; stops everything it started."""
    from bench.seed import BENCH_PASSWORD
    from keycloak_bridge.realm import AdminClient

    count = min(args.keycloak_users, args.users)
    pool = min(args.keycloak_login_users, count)
    policies = [p.strip() for p in args.keycloak_cache_policies.split(",") if p.strip()]
    data_dir = Path(tempfile.mkdtemp(prefix="bench-keycloak-"))
    results = {"users_loaded": count, "backend_users": args.users, "realms": {
        "A": f"{REALM_A}: users in the backend through the provider",
        "B": f"{REALM_B}: users in Keycloak's own storage (partial import)"},
        "password_hash": "argon2id t=5 m=7168 p=1 in both realms (realm policy hashAlgorithm(argon2))",
        "login_pool": pool, "cache_policies_realm_a": policies}
    log(f"starting Keycloak on the bench's PostgreSQL (database {KEYCLOAK_DATABASE})")
    kc = start_keycloak(database_url, data_dir)
    try:
        admin = AdminClient(kc.base_url, kc.admin_user, kc.admin_password, timeout=600)
        tune_realm(admin, "master", accessTokenLifespan=3600)  # one admin token lasts a whole measurement
        info = realm_a(admin, kc, backend_url, api_token, policies[0])
        realm_b(admin)
        log(f"loading {count:,} users into realm {REALM_B} (partial import, pre-hashed credentials)")
        results["load"] = load_realm_b(admin, count, batch=args.keycloak_batch)
        log("checking logins and searches in both realms")
        for realm in (REALM_A, REALM_B):
            direct_grant(kc.base_url, realm, username_of(1))
        results["checks"] = check_searches(admin, count)

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
                ops.setdefault(name, {})[label] = row(measure(kc.base_url, f"{label}: {name}", path, args, auth,
                                                              users=count))
            if label.startswith("A") and policy == policies[0] or label.startswith("B"):
                results.setdefault("first_logins", {})[label] = first_logins(kc.base_url, realm, pool,
                                                                               args.connections)
            ops.setdefault(LOGIN, {})[label] = row(measure(
                kc.base_url, f"{label}: {LOGIN}", TOKEN_PATH.format(realm=realm), args, None, users=pool, body=body))
        results["operations"] = ops
        results["ratios"] = ratios(ops, policies)
        results["auth_overhead"] = auth_overhead(kc.base_url, backend_url, api_token, args)
    finally:
        kc.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        log("Keycloak stopped")
    return results


def ratios(ops, policies):
    """Searches: realm B's p50 over realm A's (how many times faster the provider is).
    Login: realm A's p50 over realm B's (target <= 1.2)."""
    out = {}
    for policy in policies:
        a = f"A federated ({policy})"
        out[f"search speed-up, B p50 / A p50 ({policy})"] = {
            name: round(ops[name]["B keycloak storage"]["p50_ms"] / ops[name][a]["p50_ms"], 2) for name in SEARCHES}
        out[f"login time, A p50 / B p50 ({policy})"] = round(
            ops[LOGIN][a]["p50_ms"] / ops[LOGIN]["B keycloak storage"]["p50_ms"], 2)
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
