"""A generated `kc.sh export` of N users, and the import's rate and peak memory on it.

    python -m bench.keycloak_export --users 1000000 --dir /tmp/export     # write only
    python -m bench.keycloak_export --users 1000000 --import-into bench-kc  # the cached export, imported and timed

`make bench` runs it after the Keycloak step (`run`), beside Keycloak's partial import rate, into a
new database on the bench's server (`--new-database` here): the backend a team moves its realm into,
whose index builds cover the imported users, not the bench's own million of another tenant. The
export has N users (`make bench N=…`, 1,000,000 by default: the size the targets name). Writing a
million users takes a minute or two, so the export is kept, keyed by its size and by `VERSION`
(bumped whenever `user` or `realm` change), under `$XDG_CACHE_HOME/identity-backend/bench/` (or
`~/.cache/…`), and written again only when missing.

The export has Keycloak's shapes (`different_files`, 50,000 users a file, as `kc.sh export
--users-per-file` writes them): every user with an e-mail address, names, attributes, a phone
number on every other one, realm roles and groups, and a password credential. The hashes are real
Keycloak-format hashes made once per algorithm (Argon2id with Keycloak's defaults, and PBKDF2-SHA512
for every fourth user) and repeated, as the import copies hashes and never computes one. Files are
written as streams, a user at a time.

The import runs in a child process (`manage.py import_keycloak_export`, its worker processes under
it). Two memory figures: the largest peak RSS of any one process of the tree (`os.wait4`, which
Linux gives as the maximum over the child and its waited-for descendants), and the peak of the
tree's summed PSS, polled from /proc every 0.1 s (RSS with the pages the forked workers share with
their parent divided among them, rather than counted in each). The phase split is the command's own report (`seconds:`).
"""

import argparse
import base64
import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REALM = "bench-kc"
VERSION = 1  # of the generated export's content; a cached export of another version is not reused
PER_FILE = 50_000
PASSWORD = "bench-password-1"
ROLES = ["fan", "editor", "viewer"]
GROUPS = ["/bench", "/bench/east", "/bench/west"]


def log(message):
    print(f"[keycloak-export] {message}", file=sys.stderr, flush=True)


def credentials():
    """One Keycloak password credential per algorithm, as Keycloak 26 writes them."""
    import argon2.low_level
    import hashlib

    salt = os.urandom(16)
    argon = argon2.low_level.hash_secret_raw(PASSWORD.encode(), salt, time_cost=5, memory_cost=7168, parallelism=1,
                                             hash_len=32, type=argon2.low_level.Type.ID, version=0x13)
    pbkdf2 = hashlib.pbkdf2_hmac("sha512", PASSWORD.encode(), salt, 210_000, 64)
    secret = lambda h: json.dumps({"value": base64.b64encode(h).decode(), "salt": base64.b64encode(salt).decode(),
                                   "additionalParameters": {}})
    return [
        {"type": "password", "createdDate": 1700000000000, "secretData": secret(argon), "credentialData": json.dumps(
            {"hashIterations": 5, "algorithm": "argon2", "additionalParameters": {
                "hashLength": ["32"], "memory": ["7168"], "type": ["id"], "version": ["1.3"], "parallelism": ["1"]}})},
        {"type": "password", "createdDate": 1700000000000, "secretData": secret(pbkdf2), "credentialData": json.dumps(
            {"hashIterations": 210000, "algorithm": "pbkdf2-sha512", "additionalParameters": {}})},
    ]


def user(i: int, creds) -> dict:
    return {
        "id": str(uuid.UUID(int=(0xB0000000 << 96) | i, version=4)),
        "username": f"kcuser{i}", "email": f"kcuser{i}@example.com", "emailVerified": i % 3 != 0,
        "firstName": "First", "lastName": f"Last{i % 997}", "enabled": i % 50 != 0,
        "createdTimestamp": 1700000000000 + i,
        "attributes": {"department": [["sales", "support", "legal"][i % 3]],
                       **({"phone_number": [f"+1555{i:07d}"]} if i % 2 == 0 else {})},
        "credentials": [creds[1] if i % 4 == 0 else creds[0]],
        "disableableCredentialTypes": [], "requiredActions": ["UPDATE_PASSWORD"] if i % 100 == 0 else [],
        "realmRoles": [f"default-roles-{REALM}", *([ROLES[i % 3]] if i % 10 == 0 else [])],
        "notBefore": 0, "groups": [GROUPS[i % 3]] if i % 100 == 0 else [],
    }


def realm() -> dict:
    def group(name, children=()):
        return {"id": str(uuid.uuid4()), "name": name, "path": "", "subGroups": list(children), "attributes": {},
                "realmRoles": [], "clientRoles": {}}

    return {"id": REALM, "realm": REALM, "enabled": True,
            "roles": {"realm": [{"id": str(uuid.uuid4()), "name": n, "composite": False, "clientRole": False,
                                 "containerId": REALM} for n in [*ROLES, "offline_access", f"default-roles-{REALM}"]],
                      "client": {}},
            "groups": [group("bench", [group("east"), group("west")])]}


def write(directory: Path, count: int, per_file: int = PER_FILE):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{REALM}-realm.json").write_text(json.dumps(realm(), indent=2))
    creds = credentials()
    for n, start in enumerate(range(0, count, per_file)):
        with (directory / f"{REALM}-users-{n}.json").open("w") as out:
            out.write(f'{{\n  "realm" : "{REALM}",\n  "users" : [ ')
            for i in range(start, min(start + per_file, count)):
                if i > start:
                    out.write(", ")
                out.write(json.dumps(user(i, creds), indent=2))
            out.write(" ]\n}\n")


def cached_export(count: int) -> Path:
    """The generated export of `count` users, written once and kept."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "identity-backend" / "bench"
    directory = cache / f"keycloak-export-v{VERSION}-{count}"
    if (directory / "complete").exists():
        log(f"reusing the {count:,}-user export in {directory}")
        return directory
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
    started = time.monotonic()
    write(directory, count)
    (directory / "complete").write_text(f"{time.monotonic() - started:.1f} s\n")
    log(f"wrote a {count:,}-user export in {time.monotonic() - started:.1f}s into {directory}")
    return directory


def _tree_memory_kb(pid: int) -> int:
    """The summed proportional set size (PSS) of `pid` and its descendants, from /proc: RSS with each
    shared page divided among the processes sharing it (0 for a process gone meanwhile)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += map(int, (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


PHASE = re.compile(r"(?P<phase>[a-z ]+?) (?P<seconds>[0-9.]+)(?:, |$)")


IMPORT_DATABASE = "bench_import"


def _server(*statements: str):
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as server:
        for statement in statements:
            server.execute(statement)


@contextlib.contextmanager
def new_database():
    """A new database on the bench's server, migrated, for the block (its URL): the backend a team
    moves its realm into. Dropped after."""
    _server(f"DROP DATABASE IF EXISTS {IMPORT_DATABASE}", f"CREATE DATABASE {IMPORT_DATABASE}")
    url = urllib.parse.urlparse(os.environ["DATABASE_URL"])._replace(path=f"/{IMPORT_DATABASE}").geturl()
    try:
        log(f"migrating a new database, {IMPORT_DATABASE}, to import into")
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT,
                       env={**os.environ, "DATABASE_URL": url}, check=True)
        yield url
    finally:
        _server(f"DROP DATABASE IF EXISTS {IMPORT_DATABASE}")


def measure_import(directory: Path, tenant: str, database_url: str | None = None) -> dict:
    import tempfile

    output = tempfile.TemporaryFile("w+")  # not a pipe: a long report would fill it and stop the child
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "manage.py", "import_keycloak_export", str(directory), "--tenant", tenant,
                              "--no-progress"], cwd=ROOT, stdout=output,
                             env={**os.environ, "DATABASE_URL": database_url or os.environ["DATABASE_URL"]})
    peak_tree = 0
    while (result := os.wait4(child.pid, os.WNOHANG))[0] == 0:
        peak_tree = max(peak_tree, _tree_memory_kb(child.pid))
        time.sleep(0.1)
    _, status, usage = result
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    output.seek(0)
    report = output.read()
    sys.stderr.write(report)
    if child.returncode:
        raise SystemExit(f"import_keycloak_export failed (exit {child.returncode})")
    phases = next((line.split("seconds:", 1)[1].strip() for line in report.splitlines() if "seconds:" in line), "")
    return {"seconds": round(seconds, 1), "phases": {m["phase"]: float(m["seconds"]) for m in PHASE.finditer(phases)},
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "peak_pss_tree_mb": round(peak_tree / 1024, 1),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1), "load_average": round(os.getloadavg()[0], 1)}


def run(count: int, keycloak: dict | None = None) -> dict:
    """`make bench`'s step: the export of `count` users (kept between runs), imported into its own
    tenant, with the rate beside Keycloak's partial import measured in the same run (when there was one)."""
    directory = cached_export(count)
    with new_database() as url:
        log(f"importing {count:,} users")
        result = {"users": count, "into": "a new database", **measure_import(directory, REALM, url)}
    result["users_per_second"] = round(count / result["seconds"])
    partial = ((keycloak or {}).get("load") or {}).get("partial_import")
    if partial:
        result["keycloak_partial_import_users_per_second"] = partial["users_per_second"]
    log(f"imported {count:,} users in {result['seconds']}s ({result['users_per_second']:,} users/s; "
        f"{', '.join(f'{k} {v}s' for k, v in result['phases'].items())}), peak RSS {result['peak_rss_mb']} MB "
        f"(largest process), {result['peak_pss_tree_mb']} MB PSS (the command and its workers), "
        f"load average {result['load_average']}"
        + (f"; Keycloak's partial import: {partial['users_per_second']:,} users/s" if partial else ""))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, help="write it here (default: the cache `make bench` uses)")
    parser.add_argument("--import-into", metavar="TENANT", help="then import it into this tenant, timed")
    parser.add_argument("--new-database", action="store_true",
                        help=f"import into a new database on the same server ({IMPORT_DATABASE}, dropped after)")
    args = parser.parse_args(argv)
    if args.dir:
        started = time.monotonic()
        write(args.dir, args.users)
        log(f"wrote {args.users:,} users in {time.monotonic() - started:.1f}s into {args.dir}")
    directory = args.dir or cached_export(args.users)
    if args.import_into:
        with new_database() if args.new_database else contextlib.nullcontext() as url:
            result = measure_import(directory, args.import_into, url)
        result["users_per_second"] = round(args.users / result["seconds"])
        log(f"imported {args.users:,} users in {result['seconds']}s ({result['users_per_second']:,} users/s), "
            f"peak RSS {result['peak_rss_mb']} MB (largest process), {result['peak_pss_tree_mb']} MB PSS (all)")
        print(json.dumps(result))


if __name__ == "__main__":
    main()
