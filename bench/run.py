"""`make bench`: seed N users, serve the API under gunicorn, load it with wrk, report.

Run through `python -m tests.postgres --durable -- python -m bench.run --users N` (the Makefile
does), so that a private PostgreSQL holds the data. Every figure is the median of `--runs` runs;
targets are ratios to the bare reference view measured in the same run (bench/reference.py).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import django

from bench import cpu, curve, disk, events, memory, profiles, runs
from bench.load import log, measure
from keycloak_bridge.dev.processes import free_port, wait_until_answers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

LOOKUPS = {
    "reference (bare DRF, no auth)": "/bench/reference/{id}",
    "lookup by id": "/v1/users/{id}",
    "lookup by username": "/v1/users:search?username={username}&exact=true&max=1",
    "lookup by email": "/v1/users:search?email={email}&exact=true&max=1",
    # Okta's and Entra's lookups before a create: SCIM filters on the same unique indexes.
    "lookup by userName, SCIM": "/scim/v2/Users?filter=userName%20eq%20%22{username}%22&startIndex=1&count=100",
    "lookup by externalId, SCIM": "/scim/v2/Users?filter=externalId%20eq%20%22X{i}%22",
    "lookup by emails.value, SCIM": "/scim/v2/Users?filter=emails.value%20eq%20%22{email}%22",
}
SEARCHES = {
    "search prefix (search=smi)": "/v1/users:search?search=smi&max=20",
    "search prefix of one user": "/v1/users:search?search={username}&max=20",
    "search substring, common (*mit*)": "/v1/users:search?search=*mit*&max=20",
    "search substring, rare (*uaintrel*)": "/v1/users:search?search=*uaintrel*&max=20",
    'search exact ("username")': '/v1/users:search?search=%22{username}%22&max=20',
    "email substring (example.org)": "/v1/users:search?email=example.org&max=20",
    "phone": "/v1/users:search?phone_number={phone}&max=20",
    "attribute, rare (employee_id)": "/v1/users:search?attr.employee_id=E{i}&max=20",
    "attribute, common (department)": "/v1/users:search?q=department:sales&max=20",
    "enabled=false": "/v1/users:search?enabled=false&max=20",
    "offset 100000 (first/max)": "/v1/users:search?search=*&first=100000&max=20",
    "cursor page at any depth": "/v1/users:search?search=*&max=20&cursor={cursor}",
    "count (search=smi)": "/v1/users:count?search=smi",
    "count (everyone)": "/v1/users:count",
}


class Gunicorn:
    """The production server as the README recommends it: sync workers, one per core."""

    def __init__(self, workers):
        self.port = free_port()
        self.workers = workers
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_CONN_MAX_AGE": "600",
               "DJANGO_DEBUG": "false", "LOG_LEVEL": "WARNING"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "identity.wsgi", "--workers", str(workers), "--worker-class", "sync",
             "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", "--timeout", "180"],
            cwd=ROOT, env=env,
        )
        # A worker's first request imports the URL configuration (SCIM's models among it): over
        # gunicorn's default 30 s on a loaded machine, which killed the workers before they answered.
        if not wait_until_answers(f"{self.url}/healthz", 240, self.process):
            self.stop()
            raise SystemExit("gunicorn did not answer /healthz within 240 s")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def worker_peak_rss_mb(self):
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        peaks = [memory.status_mb(pid, "VmHWM") for pid in children]
        return max(peaks) if peaks else None

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def plans():
    """EXPLAIN of every search shape on the seeded table: none may scan users_user sequentially."""
    from bench.seed import TENANT
    from users.models import Tenant
    from users.search import UserCriteria, search_users

    tenant = Tenant.objects.get(slug=TENANT)
    shapes = {
        "prefix": UserCriteria(search="smi"),
        "substring": UserCriteria(search="*mit*"),
        "rare substring": UserCriteria(search="*uaintrel*"),
        "exact": UserCriteria(search='"james.smith32"'),
        "username exact": UserCriteria(username="james.smith32", exact=True),
        "email exact": UserCriteria(email="james.smith32@example.com", exact=True),
        "email substring": UserCriteria(email="example.org"),
        "phone": UserCriteria(phone_number="+15550000032"),
        "attribute": UserCriteria(attributes={"employee_id": "E32"}),
        "enabled=false": UserCriteria(enabled=False),
    }
    out = {}
    for name, criteria in shapes.items():
        queryset = search_users(tenant, criteria)
        # Measured: "Rows Removed by Filter" shows how far an ordered scan walks for its page.
        page = queryset.order_by("username")[:20].explain(analyze=True, buffers=True)
        count = explain_count(queryset)
        out[name] = {"page": page, "count": count,
                     "seq_scan": "Seq Scan on users_user" in page or "Seq Scan on users_user" in count}
    return {**out, **scim_plans(tenant)}


def explain_count(queryset):
    """EXPLAIN (ANALYZE, BUFFERS) of the count the API runs (`SELECT count(*)`), JIT's timing included."""
    from django.db import connection

    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM ({sql}) AS matches", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def profiles_summary(results):
    if not results.get("profiles"):
        return ""
    graphs = "; ".join(f"{name}: `{paths['python']}` (workers, py-spy) and `{paths['postgresql']}` (PostgreSQL, "
                       f"perf)" for name, paths in results["profiles"].items())
    return f"\n\nFlame graphs under load, taken after the measurements: {graphs}.\n"


def scim_plans(tenant):
    """The SCIM lookups: the one statement that answers a lookup by a unique key, and the query
    (page of 100, count when the page is full) that any other filter runs."""
    from django.db import connection
    from scim2_models import ScimFilter

    from scim.filters import unique_key
    from scim.queries import by_key_sql, users_matching
    from scim.service import service

    model = service().provider.model_for("User")
    shapes = {
        "SCIM userName eq": 'userName eq "james.smith32"',
        "SCIM externalId eq": 'externalId eq "X32"',
        "SCIM emails.value eq": 'emails.value eq "james.smith32@example.com"',
        "SCIM emails[type eq work].value eq": 'emails[type eq "work"].value eq "james.smith32@example.com"',
    }
    out = {}
    for name, expression in shapes.items():
        scim_filter = ScimFilter[model](expression)
        queryset = users_matching(tenant, scim_filter)
        page = queryset.order_by("username")[:100].explain()
        count = queryset.order_by().values("pk")[:10001].explain()
        key = unique_key(scim_filter)
        if key is not None:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + by_key_sql(key[0]), [tenant.pk, key[1]])
                page = "\n".join(row[0] for row in cursor.fetchall())
        out[name] = {"page": page, "count": count,
                     "seq_scan": "Seq Scan on users_user " in page or "Seq Scan on users_user" in count}
    return out


def deep_cursor(users):
    from identity.api.pagination import KeysetOrOffsetPagination
    from users.models import User

    username = User.objects.filter(tenant__slug="bench").order_by("username").values_list(
        "username", flat=True)[min(100_000, users // 2)]
    return KeysetOrOffsetPagination._encode(username)


def memory_summary(results):
    if "worker_memory" not in results:
        return ""
    steps = "; ".join(f"{name} {mb} MB" for name, mb in results["worker_memory"]["rss_mb"])
    return f" One process's RSS after each step: {steps} (flame graph: `{results['worker_memory']['flame_graph']}`)."


def table(results, section="http"):
    lines = ["| measurement | req/s | p50 ms | p99 ms |", "|---|---:|---:|---:|"]
    for name, r in results[section].items():
        lines.append(f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")
    return "\n".join(lines)


def footprint(results):
    """Bytes on disk per user and CPU per password login: what a user and a login cost."""
    lines = ["| per user / per login | backend | Keycloak's own storage (realm B) |", "|---|---:|---:|",
             f"| bytes on disk per user (tables + indexes) | {results['disk']['bytes_per_user']:,} | "
             + (f"{results['keycloak']['disk']['bytes_per_user']:,}" if "disk" in results.get("keycloak", {})
                else "not measured") + " |"]
    per_login = results.get("keycloak", {}).get("cpu_per_login")
    if per_login:
        lines += ["", "| CPU ms per password login (end to end) | Keycloak | backend (gunicorn) | PostgreSQL "
                  "(whole server) | total |", "|---|---:|---:|---:|---:|"]
        for label, c in per_login.items():
            lines.append(f"| {label} | {c.get('keycloak_ms', 0)} | {c.get('backend_ms', 0)} | "
                         f"{c.get('postgresql_ms', 0)} | **{c['total_ms']}** |")
        lines.append("\nPostgreSQL's figure counts every process of the server, which the backend's and "
                     "Keycloak's databases share; the warm-up requests are counted with the measured ones.")
    return "\n".join(lines)


def keycloak_summary(section):
    from bench.keycloak import table as keycloak_table

    load = section["load"]
    return (f"\n## Through Keycloak\n\nRealm A finds the backend's {section['backend_users']:,} users through the "
            f"provider; realm B holds {section['users_loaded']:,} of them in Keycloak's own storage (loaded in "
            f"{load['seconds']} s, {load['users_per_second']:,} users/s: {load['partial_import']['users']:,} by "
            f"partial import, the rest written with SQL in the same shape). Same Keycloak, same "
            f"PostgreSQL server, {section['password_hash']}. Logins: users 1..{section['login_pool']}, "
            f"each logged in once before.\n\n{keycloak_table(section)}\n\n"
            f"```json\n{json.dumps(section['ratios'], indent=2)}\n```\n" + login_profiles_summary(section))


def login_profiles_summary(section):
    if not section.get("login_profiles"):
        return ""
    graphs = "; ".join(f"realm {label}: " + " and ".join(f"`{path}` ({side})" for side, path in paths.items())
                       for label, paths in section["login_profiles"].items())
    return f"\nFlame graphs of password logins, taken after the measurements: {graphs}.\n"


def import_summary(section):
    partial = section.get("keycloak_partial_import_users_per_second")
    phases = ", ".join(f"{phase} {seconds} s" for phase, seconds in section.get("phases", {}).items())
    return (f"\n## Importing a Keycloak export\n\n`import_keycloak_export` of a generated {section['users']:,}-user "
            f"`kc.sh export` (different_files, hashes copied) into {section.get('into', 'the bench database')}: "
            f"{section['seconds']} s, "
            f"{section['users_per_second']:,} users/s ({phases}); peak RSS {section['peak_rss_mb']} MB for the "
            f"largest process, {section.get('peak_pss_tree_mb')} MB (PSS) for the command and its workers together; "
            f"{section.get('cpu_seconds')} CPU seconds in them; load average {section.get('load_average')} at "
            f"the end" + (f"; Keycloak's own partial import in this run: {partial:,} users/s" if partial else "")
            + ".\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-keycloak", action="store_true", help="leave out the Keycloak step")
    parser.add_argument("--api-only", action="store_true",
                        help="seed and measure the API only: --skip-keycloak --skip-keycloak-import --skip-events")
    parser.add_argument("--skip-unloaded", action="store_true",
                        help="leave out the one-connection run of every API shape (p50 and p99 without queueing)")
    parser.add_argument("--skip-profiles", action="store_true",
                        help="leave out the flame graphs: the API shapes' (bench/profiles.py: py-spy and perf) "
                             "and the logins' (bench/keycloak.py: async-profiler and py-spy)")
    parser.add_argument("--only-keycloak", action="store_true",
                        help="seed, then only the Keycloak step; prints its results, leaves bench/results alone")
    parser.add_argument("--keycloak-users", type=int, default=None,
                        help="users in Keycloak's own storage (realm B); default and cap: --users")
    parser.add_argument("--keycloak-login-users", type=int, default=500,
                        help="users 1..K who log in during the login measurements")
    parser.add_argument("--keycloak-cache-policies", default="DEFAULT,NO_CACHE",
                        help="realm A's provider cache policies to measure, comma-separated")
    parser.add_argument("--keycloak-batch", type=int, default=50, help="users per partial import")
    parser.add_argument("--skip-keycloak-import", action="store_true",
                        help="leave out the import of a generated kc.sh export (import_keycloak_export)")
    parser.add_argument("--skip-events", action="store_true", help="leave out the events step (bench/events.py)")
    parser.add_argument("--only-events", action="store_true",
                        help="seed, then only the events step; writes bench/results/events.{json,md}")
    parser.add_argument("--events-seconds", type=int, default=8,
                        help="seconds of each of the four events off/on throughput runs")
    parser.add_argument("--events-sustained-seconds", type=int, default=30,
                        help="seconds of the fixed-rate writes with the relay publishing")
    args = parser.parse_args(argv)
    if args.api_only:
        if args.only_keycloak or args.only_events:
            parser.error("--api-only excludes --only-keycloak and --only-events")
        args.skip_keycloak = args.skip_keycloak_import = args.skip_events = True
    if args.only_keycloak and args.skip_keycloak:
        parser.error("--only-keycloak and --skip-keycloak exclude each other")
    if args.only_events and (args.skip_events or args.only_keycloak):
        parser.error("--only-events excludes --skip-events and --only-keycloak")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: `make bench` installs it (apt-get install wrk)")

    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key")
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    django.setup()
    from django.core.management import call_command

    from bench.seed import TENANT, seed
    from users import services
    from users.models import ApiClient, Tenant

    call_command("migrate", verbosity=0)
    results = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": runs.commit(),
               "machine": runs.machine(), "users": args.users, "connections": args.connections, "runs": args.runs,
               "seconds_per_run": args.duration, "load_before": [round(x, 2) for x in os.getloadavg()]}
    log(f"seeding {args.users:,} users")
    postgresql = cpu.postmaster_pid()
    cpu_before = cpu.tree_seconds(postgresql)
    results["seeding"] = seed(args.users)
    # The server's CPU while seeding: what the seconds would be on an idle machine, when others share it.
    results["seeding"]["postgresql_cpu_seconds"] = round(cpu.tree_seconds(postgresql) - cpu_before, 1)
    results["disk"] = disk.backend(args.users)
    tenant = Tenant.objects.get(slug=TENANT)
    ApiClient.objects.filter(tenant=tenant, name="bench").delete()
    _, token = services.create_api_client(tenant, "bench", sorted(services.KNOWN_SCOPES))
    auth = f"Bearer {token}"
    cursor = deep_cursor(args.users)

    server = Gunicorn(workers=os.cpu_count())
    try:
        results["http"] = {}
        only = args.only_keycloak or args.only_events
        for name, path in ({} if only else {**LOOKUPS, **SEARCHES}).items():
            results["http"][name] = measure(server.url, name, path.replace("{cursor}", cursor), args,
                                            None if path.startswith("/bench/") else auth)
        results["worker_peak_rss_mb"] = round(server.worker_peak_rss_mb(), 1)
        if not only:
            log("a worker's memory, step by step, under memray (bench/memory.py)")
            results["worker_memory"] = memory.profile(args.users)
        if not args.only_keycloak and not args.skip_unloaded:
            log("one connection at a time: latency without queueing")
            results["http_unloaded"] = {
                name: measure(server.url, f"{name} (1 connection)", path.replace("{cursor}", cursor), args,
                              None if path.startswith("/bench/") else auth, connections=1, runs=1)
                for name, path in {**LOOKUPS, **SEARCHES}.items()}
        if not only and not args.skip_profiles:
            results["profiles"] = profiles.run(server, {
                name: {**LOOKUPS, **SEARCHES}[name].replace("{cursor}", cursor)
                for name in profiles.chosen(results["http"])},
                args, auth)
        if not args.skip_keycloak and not args.only_events:
            from bench import keycloak

            results["keycloak"] = keycloak.run(server.url, token, args, os.environ["DATABASE_URL"],
                                               backend_pid=server.process.pid)
        if not args.skip_events and not args.only_keycloak:
            results["events"] = events.run(server.url, token, args, server.process.pid)
            results["events"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        server.stop()
    if args.only_events:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "events.json").write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / "events.md").write_text(
            f"Measured {results['date']} on {runs.describe(results['machine'])}, {args.users:,} users seeded; "
            f"load average before the step {results['load_before']}.\n" + events.summary(results["events"]))
        print(events.summary(results["events"]))
        print(json.dumps(events.targets(results["events"]), indent=2))
        return
    if not args.skip_keycloak_import and not args.only_keycloak:
        from bench import keycloak_export

        results["keycloak_import"] = keycloak_export.run(args.users, results.get("keycloak"))
    if args.only_keycloak:
        print(json.dumps(results["keycloak"], indent=2))
        print(keycloak_summary(results["keycloak"]))
        return
    results["plans"] = plans()

    reference = results["http"]["reference (bare DRF, no auth)"]["rps"]
    reference_p99 = results["http"]["reference (bare DRF, no auth)"]["p99_ms"]
    lookups = {k: v for k, v in results["http"].items() if k.startswith("lookup")}
    v1_username = results["http"]["lookup by username"]["rps"]
    searches = {k: v for k, v in results["http"].items() if not k.startswith(("lookup", "reference", "count"))}
    counts = {k: v for k, v in results["http"].items() if k.startswith("count")}
    results["targets"] = {
        "lookups at >= 0.8x reference throughput": {k: round(v["rps"] / reference, 2) for k, v in lookups.items()},
        "lookup p99 <= 10 ms": {k: v["p99_ms"] for k, v in lookups.items()},
        "SCIM lookups at >= 0.8x the /v1 username lookup": {
            k: round(v["rps"] / v1_username, 2) for k, v in lookups.items() if k.endswith("SCIM")},
        "search p99 <= 15 ms": {k: v["p99_ms"] for k, v in searches.items()},
        "count p99 <= 100 ms": {k: v["p99_ms"] for k, v in counts.items()},
        f"p99 <= 1.2x the reference's p99 at {args.connections} connections": {
            k: round(v["p99_ms"] / reference_p99, 2) for k, v in results["http"].items() if "reference" not in k},
        "no sequential scan": [k for k, v in results["plans"].items() if v["seq_scan"]] or "none",
        "seeding <= 60 s": results["seeding"]["seconds"],
        "worker peak RSS <= 100 MB": results["worker_peak_rss_mb"],
    }
    if "keycloak_import" in results:
        imported = results["keycloak_import"]
        results["targets"]["Keycloak export import <= 60 s, peak RSS <= 200 MB"] = {
            k: imported[k] for k in ("seconds", "users_per_second", "phases", "peak_rss_mb", "peak_pss_tree_mb",
                                     "keycloak_partial_import_users_per_second") if k in imported}
    if "keycloak" in results:
        results["targets"]["keycloak: rare search >= 50x, others >= 1x faster; login time <= 1.2x"] = \
            results["keycloak"]["ratios"]
    if "events" in results:
        results["targets"].update(events.targets(results["events"]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(
        f"Measured {results['date']} at commit {results['commit']} on {runs.describe(results['machine'])}, "
        f"{args.users:,} users, "
        f"{args.connections} connections, median of {args.runs} runs of {args.duration} s.\n\n{table(results)}\n\n"
        + (f"Unloaded: one connection, one run of {args.duration} s.\n\n{table(results, 'http_unloaded')}\n\n"
           if "http_unloaded" in results else "")
        + f"Seeding: {results['seeding']['seconds']} s ({results['seeding']['rows_per_second']:,} users/s, "
        f"indexes included; {results['seeding']['postgresql_cpu_seconds']} CPU-seconds in PostgreSQL). "
        f"Worker peak RSS: {results['worker_peak_rss_mb']} MB.{memory_summary(results)}{profiles_summary(results)}"
        f"\n\n{footprint(results)}\n"
        + (keycloak_summary(results["keycloak"]) if "keycloak" in results else "")
        + (import_summary(results["keycloak_import"]) if "keycloak_import" in results else "")
        + (events.summary(results["events"]) if "events" in results else "")
    )
    kept = runs.keep(results)
    log(f"kept as {kept.relative_to(ROOT)}")
    print(table(results))
    print(json.dumps(results["targets"], indent=2))
    curve.main([])


if __name__ == "__main__":
    main()
