"""Writing a Keycloak export into a tenant: all of it in one transaction, or nothing.

Users are read and converted a chunk at a time (in worker processes for an export of several files,
`stage`) and copied (COPY) into temporary staging tables on the import's connection; the checks then
run in SQL over the whole export (an id twice, an id another tenant has, a role or group the backend
cannot hold). Users are then updated by id where something differs and inserted where new, and
their role and group memberships made those of the export. A clash of unique values (between two
exported users, or with a user of the tenant that the export does not rewrite) is judged by the
unique constraints themselves; when they refuse a write, the writes roll back to before them and
a check over the export and the tenant as it would be after the run lists every clash (sparing a
run that has none three passes over the export). Any problem and the transaction rolls back:
nothing of the run is written, and every problem is listed by user id.
A second run of the same export therefore changes no row; a newer export updates in place.

A large export into a tenant with no users yet (a first import, `_write_as_read`) takes a shorter
way: its users are inserted chunk by chunk as the workers convert them, with the indexes set aside
from the start (`bulk`), so that the database's inserts overlap the conversion instead of following
it; the primary key and the unique constraints built again judge those writes, and any refusal
rolls them back and starts the run over on the staged way above, which lists what clashed.

The writes bypass the per-user services for speed, and keep their invariants: the same
normalisation and checks (`convert`), the unique constraints as the final judge, a fan profile for
every new user (as `profiles` gives every created user), `deactivated_at` for a disabled user,
`updated_at` moved only for users that changed, and one audit event for the run (by `system`) with
its counts instead of one per user. Hashes are copied as Keycloak wrote them
(`users.keycloak_hashers`), never recomputed. A user whose stored password is already the backend's
own (rewritten at a login through the provider after cutover, or set through the API) keeps it: the
backend's is the newer. Users of the tenant that the export does not hold are left alone and counted.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from audit import recording
from profiles.models import FanProfile
from users import services
from users.models import Group, Role, Tenant

from . import bulk, export, stage
from .convert import Problem, Skipped, default_roles

LISTED = 1000  # problems and skipped users kept for the report; the rest are counted
ACTION = "tenant.keycloak_imported"
recording.ACTIONS.add(ACTION)


@dataclass
class Report:
    realm: str = ""
    layout: str = ""
    files: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    kept_in_keycloak: Counter = field(default_factory=Counter)
    seconds: dict = field(default_factory=dict)  # per phase
    dry_run: bool = False

    def timed(self, phase: str, started: float) -> float:
        now = time.monotonic()
        self.seconds[phase] = round(now - started, 1)
        return now

    def skip(self, item: Skipped):
        self.counts["users skipped"] += 1
        if len(self.skipped) < LISTED:
            self.skipped.append(item)

    def problem(self, item: Problem):
        self.counts["problems"] += 1
        if len(self.problems) < LISTED:
            self.problems.append(item)

    @property
    def changed(self) -> bool:
        return any(self.counts[k] for k in CHANGE_COUNTS)


CHANGE_COUNTS = ("users created", "users updated", "roles created", "groups created", "role memberships added",
                 "role memberships removed", "group memberships added", "group memberships removed")


class ImportConflicts(Exception):
    """The export cannot be written as it is; the report lists why (nothing was written)."""

    def __init__(self, report: Report):
        self.report = report
        super().__init__(f"{report.counts['problems']} users cannot be imported; nothing was written")


STAGING = """
-- The checks group and join the whole export: in memory rather than in batches spilled to disk.
SET LOCAL work_mem = '128MB';
-- Gone at commit; dropped first too, for a run inside a caller's longer transaction (tests).
DROP TABLE IF EXISTS pg_temp.kc_users, pg_temp.kc_chunk, pg_temp.kc_user_roles, pg_temp.kc_user_groups,
    pg_temp.kc_changed, pg_temp.kc_existing;
CREATE TEMPORARY TABLE kc_users (
    id uuid, username text, email text, email_verified boolean, phone_number text, phone_verified boolean,
    first_name text, last_name text, is_active boolean, created_ms bigint, attributes jsonb,
    required_actions jsonb, password text) ON COMMIT DROP;
CREATE TEMPORARY TABLE kc_chunk (LIKE kc_users) ON COMMIT DROP;  -- a chunk's users, written as read
CREATE TEMPORARY TABLE kc_user_roles (user_id uuid, name text) ON COMMIT DROP;
CREATE TEMPORARY TABLE kc_user_groups (user_id uuid, path text) ON COMMIT DROP;
"""
USER_COLUMNS = ("id, username, email, email_verified, phone_number, phone_verified, first_name, last_name, "
                "is_active, created_ms, attributes, required_actions, password")


def _read_users(files: export.ExportFiles, report: Report, cursor, progress, workers: int,
                written: Tenant | None = None) -> None:
    """Stage every chunk; with `written`, insert its users into that tenant instead, as they come
    (`_write_as_read`: the primary key does the checks by id that `_check` makes of staged users)."""
    for chunk in stage.chunks([files.realm_file, *files.users_files], default_roles(files.realm), workers):
        for table, columns, text in (("kc_chunk" if written else "kc_users", USER_COLUMNS, chunk.users),
                                     ("kc_user_roles", "user_id, name", chunk.roles),
                                     ("kc_user_groups", "user_id, path", chunk.groups)):
            if text:
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    copy.write(text)
        if written and chunk.users:
            _insert_new(cursor, written, report, "kc_chunk k")
            cursor.execute("TRUNCATE kc_chunk")
        report.counts["users read"] += chunk.read
        for item in chunk.skipped:
            report.skip(item)
        for item in chunk.problems:
            report.problem(item)
        report.kept_in_keycloak.update(chunk.kept)
        progress.update(chunk.read)


# --- realm roles and groups -------------------------------------------------------------------


def _ensure_roles(tenant: Tenant, files: export.ExportFiles, report: Report):
    defaults = default_roles(files.realm)
    existing = set(Role.objects.filter(tenant=tenant).values_list("name", flat=True))
    new = []
    for role in export.realm_roles(files):
        name = role.get("name")
        if not isinstance(name, str) or name in defaults or name in existing:
            continue
        try:
            services.validate_name(name, "role")
        except ValidationError as error:
            report.problem(Problem(str(role.get("id", "")), name, f"realm role: {'; '.join(error.messages)}"))
            continue
        existing.add(name)
        description = role.get("description") if isinstance(role.get("description"), str) else ""
        new.append(Role(tenant=tenant, name=name, description=description[:255]))
        if role.get("composite"):
            report.counts["composite roles (their composites stay in Keycloak)"] += 1
    Role.objects.bulk_create(new)
    report.counts["roles created"] += len(new)


def _walk(groups: list[dict], parent_path: str = ""):
    for group in groups:
        name = group.get("name")
        if not isinstance(name, str):
            continue
        path = f"{parent_path}/{name}"
        yield path, group
        yield from _walk(group.get("subGroups") or [], path)


def _ensure_groups(tenant: Tenant, files: export.ExportFiles, report: Report):
    """The export's group tree, parents first; a group keeps its Keycloak id unless that id is taken."""
    by_path = {g.path: g for g in Group.objects.filter(tenant=tenant)}
    tree = list(_walk(export.groups(files)))
    ids = {path: _uuid(group.get("id")) for path, group in tree}
    taken = set(Group.objects.filter(id__in=[i for i in ids.values() if i]).values_list("id", flat=True))
    for path, group in tree:
        mappings = len(group.get("realmRoles") or []) + sum(
            len(v) for v in (group.get("clientRoles") or {}).values() if isinstance(v, list))
        if mappings:
            report.kept_in_keycloak["group role mappings"] += mappings
        if path in by_path:
            continue
        parent_path = path.rpartition("/")[0]
        parent = by_path.get(parent_path) if parent_path else None
        if parent_path and parent is None:
            continue  # its parent was refused, and is reported
        try:
            name = services.validate_name(group["name"], "group")
        except ValidationError as error:
            report.problem(Problem(str(group.get("id", "")), path, f"group: {'; '.join(error.messages)}"))
            continue
        group_id = ids[path] if ids[path] and ids[path] not in taken else uuid.uuid4()
        taken.add(group_id)
        by_path[path] = Group.objects.create(id=group_id, tenant=tenant, name=name, parent=parent, path=path)
        report.counts["groups created"] += 1


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# --- checks over the whole export -------------------------------------------------------------

UNIQUE_CHECKS = {
    "username": "another user has the username {value}",
    "email": "another user has the e-mail address {value}",
    "phone_number": "another user has the phone number {value}",
}


def _check(cursor, tenant: Tenant, report: Report):
    cursor.execute("CREATE INDEX ON kc_users (id); ANALYZE kc_users")
    cursor.execute("SELECT id::text, min(username) FROM kc_users GROUP BY id HAVING count(*) > 1 LIMIT %s", [LISTED])
    for user_id, username in cursor.fetchall():
        report.problem(Problem(user_id, username, "the export holds this id more than once"))
    cursor.execute("""
        SELECT k.id::text, k.username FROM kc_users k JOIN users_user u ON u.id = k.id AND u.tenant_id <> %s
        LIMIT %s""", [tenant.id, LISTED])
    for user_id, username in cursor.fetchall():
        report.problem(Problem(user_id, username, "this id is another tenant's user"))
    for kind, (_, _, staging, key, target, target_key) in MEMBERSHIPS.items():
        cursor.execute(f"""
            SELECT s.user_id::text, s.{key} FROM {staging} s
            WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE t.tenant_id = %s AND t.{target_key} = s.{key})
            LIMIT %s""", [tenant.id, LISTED])
        for user_id, value in cursor.fetchall():
            report.problem(Problem(user_id, "", f"{MEMBERSHIP_NAMES[kind]} {value} is not one the backend can hold"))


def _check_unique(cursor, tenant: Tenant, report: Report):
    """Every clash of a unique value in the tenant as it would be after the run. Run only once the
    unique constraints refused the writes: they judge every run, and this lists what they met."""
    for column, message in UNIQUE_CHECKS.items():
        # The tenant as it would be after the run: the export's users, and the tenant's others.
        cursor.execute(f"""
            WITH final AS (
                SELECT id, username, {column} AS value, true AS exported FROM kc_users WHERE {column} IS NOT NULL
                UNION ALL
                SELECT u.id, u.username, u.{column}, false FROM users_user u
                WHERE u.tenant_id = %s AND u.{column} IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM kc_users k WHERE k.id = u.id)
            )
            SELECT f.id::text, f.username, f.exported, f.value FROM final f
            JOIN (SELECT value FROM final GROUP BY value HAVING count(*) > 1 LIMIT %s) d ON d.value = f.value
            ORDER BY f.value, f.id""", [tenant.id, LISTED])
        for user_id, username, exported, value in cursor.fetchall():
            who = "" if exported else " (a user of the tenant that this export does not hold)"
            report.problem(Problem(user_id, username, message.format(value=value) + who))


# --- writes -----------------------------------------------------------------------------------

# The password a row ends with: the export's, unless the backend's own hash is there already (newer),
# or neither has a usable one (the unusable one there stays, so that nothing changes).
PASSWORD = """CASE
    WHEN u.password LIKE '!%%' AND k.password IS NULL THEN u.password
    WHEN u.password LIKE '!%%' OR u.password LIKE 'keycloak\\_%%' THEN COALESCE(k.password, '!' || md5(random()::text))
    ELSE u.password END"""
FIELDS = ("username", "email", "email_verified", "phone_number", "phone_verified", "first_name", "last_name",
          "is_active", "created_at", "attributes", "required_actions")


def _exported(field: str, otherwise: str) -> str:
    """The export's value of `field`; for a creation time the export may lack, `otherwise`."""
    if field == "created_at":  # exact: milliseconds counted from the epoch, no floating point
        return f"COALESCE(timestamptz 'epoch' + k.created_ms * interval '1 millisecond', {otherwise})"
    return f"k.{field}"


FAN_PROFILES = FanProfile._meta.db_table  # every new user has one, as when created through the services
TABLES = ("users_user", FAN_PROFILES)  # what a large import writes, and sets its indexes aside for
NEW_USERS = "kc_users k WHERE NOT EXISTS (SELECT 1 FROM kc_existing e WHERE e.id = k.id)"


def _write_users(cursor, tenant: Tenant, report: Report, rebuild_indexes: bool = True):
    # The ids already there, taken before the writes: an insert whose own source reads the table it
    # fills can be planned (on a new or just-truncated table, whose statistics say empty) as a nested
    # loop scanning that growing table once per exported user.
    cursor.execute("""CREATE TEMPORARY TABLE kc_existing ON COMMIT DROP AS
                      SELECT u.id FROM users_user u JOIN kc_users k ON k.id = u.id;
                      ANALYZE kc_existing""")
    cursor.execute(f"SELECT count(*) FROM {NEW_USERS}")
    new_users = cursor.fetchone()[0]
    new_values = ", ".join(_exported(f, f"u.{f}") for f in FIELDS)
    # Counted before the writes, which touch only exported ids, while the tenant's index is there.
    cursor.execute("SELECT count(*) FROM users_user u WHERE u.tenant_id = %s "
                   "AND NOT EXISTS (SELECT 1 FROM kc_users k WHERE k.id = u.id)", [tenant.id])
    left_alone = cursor.fetchone()[0]
    with bulk.set_aside(cursor, new_users if rebuild_indexes else 0, report, TABLES):
        cursor.execute(f"""
            UPDATE users_user u SET ({", ".join(FIELDS)}) = ROW({new_values}),
                password = {PASSWORD},
                deactivated_at = CASE WHEN k.is_active THEN NULL WHEN u.is_active THEN now() ELSE u.deactivated_at END,
                updated_at = now()
            FROM kc_users k
            WHERE u.id = k.id AND u.tenant_id = %s
              AND ({", ".join(f"u.{f}" for f in FIELDS)}, u.password)
                  IS DISTINCT FROM ({new_values}, {PASSWORD})""", [tenant.id])
        report.counts["users updated"] += cursor.rowcount
        _insert_new(cursor, tenant, report, NEW_USERS)
        _insert_fan_profiles(cursor, tenant, report, "kc_existing k ON CONFLICT DO NOTHING")
    report.counts["users of the tenant not in this export (left alone)"] = left_alone


def _insert_new(cursor, tenant: Tenant, report: Report, new: str):
    """Insert the users staged in `new` (a FROM clause naming them `k`), none of which exists yet,
    and their fan profiles: a plain insert, not ON CONFLICT's speculative one (twice the work)."""
    cursor.execute(f"""
        INSERT INTO users_user (id, tenant_id, {", ".join(FIELDS)}, password, deactivated_at, is_staff,
                                is_superuser, updated_at)
        SELECT k.id, %s, {", ".join(_exported(f, "now()") for f in FIELDS)},
               COALESCE(k.password, '!' || md5(random()::text)),
               CASE WHEN k.is_active THEN NULL ELSE now() END, false, false, now()
        FROM {new}""", [tenant.id])
    report.counts["users created"] += cursor.rowcount
    _insert_fan_profiles(cursor, tenant, report, new)


def _insert_fan_profiles(cursor, tenant: Tenant, report: Report, users: str):
    """A fan profile for each user of `users` (a FROM clause naming them `k`, and what follows it)."""
    cursor.execute(f"""
        INSERT INTO {FAN_PROFILES} (fan_user_id, tenant_id, created_on, metadata, fan_profile_exclusively)
        SELECT k.id, %s, now(), '', false FROM {users}""", [tenant.id])
    report.counts["fan profiles created"] += cursor.rowcount


MEMBERSHIP_NAMES = {"role": "realm role", "group": "group"}
MEMBERSHIPS = {
    # kind: (through table, its column, staging table, staging column, target table, target column)
    "role": ("users_user_roles", "role_id", "kc_user_roles", "name", "users_role", "name"),
    "group": ("users_user_identity_groups", "group_id", "kc_user_groups", "path", "users_group", "path"),
}


def _write_memberships(cursor, tenant: Tenant, report: Report):
    cursor.execute("CREATE TEMPORARY TABLE kc_changed (user_id uuid) ON COMMIT DROP")
    for kind, (through, column, staging, key, target, target_key) in MEMBERSHIPS.items():
        wanted = f"""SELECT DISTINCT s.user_id, t.id AS target_id FROM {staging} s
                     JOIN {target} t ON t.tenant_id = %(tenant)s AND t.{target_key} = s.{key}"""
        cursor.execute(f"""
            WITH removed AS (
                DELETE FROM {through} m USING kc_users k
                WHERE m.user_id = k.id AND NOT EXISTS (
                    SELECT 1 FROM ({wanted}) w WHERE w.user_id = m.user_id AND w.target_id = m.{column})
                RETURNING m.user_id)
            INSERT INTO kc_changed SELECT user_id FROM removed""", {"tenant": tenant.id})
        report.counts[f"{kind} memberships removed"] += cursor.rowcount
        cursor.execute(f"""
            WITH added AS (
                INSERT INTO {through} (user_id, {column}) {wanted}
                ON CONFLICT DO NOTHING RETURNING user_id)
            INSERT INTO kc_changed SELECT user_id FROM added""", {"tenant": tenant.id})
        report.counts[f"{kind} memberships added"] += cursor.rowcount
    cursor.execute("""UPDATE users_user SET updated_at = now()
                      WHERE id IN (SELECT user_id FROM kc_changed) AND updated_at < now()""")


# Bytes of a users file per user, counted high (kc.sh writes about 1 KiB for a user with a password
# and a few attributes), so that an export is not taken for larger than it is.
BYTES_PER_USER = 2048


def _write_as_read(cursor, tenant: Tenant, files: export.ExportFiles, report: Report, progress, workers: int,
                   rebuild_indexes: bool) -> Report | None:
    """A large export into a tenant with no users yet: each chunk's users are inserted as it comes,
    under `bulk.set_aside` from the start, so that the database's inserts overlap the conversion
    rather than follow it. Every user is new (nothing to update), and the primary key and the unique
    constraints built again judge the writes: when they refuse one, everything rolls back to before
    the read and the run starts over staged (`_stage_then_write`), which lists the clashes.

    The run's report (`report` carried on), or None, having written nothing and left `report` as
    it was, when the export is small for its size in bytes, the tenant has users, or a write was
    refused.
    """
    estimate = sum(f.stat().st_size for f in files.users_files) // BYTES_PER_USER
    if not rebuild_indexes or not bulk.worth_it(cursor, estimate):
        return None
    cursor.execute("SELECT EXISTS (SELECT 1 FROM users_user WHERE tenant_id = %s)", [tenant.id])
    if cursor.fetchone()[0]:
        return None
    report = copy.deepcopy(report)
    try:
        with transaction.atomic():
            with bulk.set_aside(cursor, estimate, report, TABLES):
                started = time.monotonic()
                _read_users(files, report, cursor, progress, workers, written=tenant)
                started = report.timed("read and insert", started)
                _check(cursor, tenant, report)
                report.timed("check", started)
                if report.problems:
                    raise ImportConflicts(report)
            started = time.monotonic()
            _write_memberships(cursor, tenant, report)
            report.timed("write memberships", started)
    except IntegrityError:
        progress.reset()
        return None
    report.counts["users of the tenant not in this export (left alone)"] = 0
    return report


def _stage_then_write(cursor, tenant: Tenant, files: export.ExportFiles, report: Report, progress, workers: int,
                      rebuild_indexes: bool):
    """Every other import: the whole export staged and checked, then written."""
    started = time.monotonic()
    _read_users(files, report, cursor, progress, workers)
    started = report.timed("read and stage", started)
    _check(cursor, tenant, report)
    started = report.timed("check", started)
    if report.problems:
        raise ImportConflicts(report)
    counts = report.counts.copy()
    try:
        with transaction.atomic():
            _write_users(cursor, tenant, report, rebuild_indexes)
            started = report.timed("write users", started)
            _write_memberships(cursor, tenant, report)
            report.timed("write memberships", started)
    except IntegrityError as error:  # a clash: the export's, or a concurrent write's
        report.counts = counts  # the writes are undone
        _check_unique(cursor, tenant, report)
        if not report.problems:
            report.problem(Problem("", "", f"the database refused a write: {error}".splitlines()[0]))
        raise ImportConflicts(report) from None


def run_import(path: Path, tenant_slug: str, *, realm: str | None = None, dry_run: bool = False,
               progress=None, workers: int = 1, rebuild_indexes: bool = True) -> Report:
    """Import one realm's export into the tenant `tenant_slug` (created if missing).

    Raises `export.ExportError` for bad input and `ImportConflicts` for data the backend cannot
    hold; in both cases nothing is written. With `dry_run`, everything is checked and rolled back.
    `workers` processes convert the users files (`stage`). `rebuild_indexes=False` keeps the user
    table's indexes (and readers) live through a large import, at the cost of upkeep row by row
    (`bulk.set_aside`).
    """
    report = Report(dry_run=dry_run)
    files = export.locate(Path(path), realm)
    report.realm, report.layout = files.realm, files.layout
    report.files = [str(f) for f in (files.realm_file, *files.users_files)]
    progress = _NoProgress() if progress is None else progress
    try:
        with transaction.atomic():
            tenant, _ = Tenant.objects.get_or_create(slug=tenant_slug, defaults={"display_name": tenant_slug.title()})
            _ensure_roles(tenant, files, report)
            _ensure_groups(tenant, files, report)
            with connection.cursor() as cursor:
                cursor.execute(STAGING)
                written = _write_as_read(cursor, tenant, files, report, progress, workers, rebuild_indexes)
                if written is None:
                    _stage_then_write(cursor, tenant, files, report, progress, workers, rebuild_indexes)
                else:
                    report = written
            if report.changed and not dry_run:
                recording.record(ACTION, tenant, {
                    "realm": {"new": files.realm}, "layout": {"new": files.layout},
                    **{name: {"new": report.counts[name]} for name in CHANGE_COUNTS},
                    "users skipped": {"new": report.counts["users skipped"]},
                }, object_id=str(tenant.pk))
            if dry_run:
                transaction.set_rollback(True)
            started = time.monotonic()
        if not dry_run:  # the deferred foreign-key checks of every written row run here
            report.timed("commit", started)
    finally:
        progress.close()
    return report


class _NoProgress:
    def update(self, n):
        pass

    def reset(self):
        pass

    def close(self):
        pass


def summary(report: Report) -> list[str]:
    """The end report's lines."""
    lines = [f"realm {report.realm} ({report.layout}: {', '.join(Path(f).name for f in report.files)})"
             + (" — dry run, nothing written" if report.dry_run else "")]
    lines += [f"  {name}: {count}" for name, count in report.counts.items()]
    lines.append("  seconds: " + ", ".join(f"{phase} {seconds}" for phase, seconds in report.seconds.items()))
    if report.kept_in_keycloak:
        lines.append("  kept in Keycloak, not imported: " + ", ".join(
            f"{count} {kind}" for kind, count in sorted(report.kept_in_keycloak.items())))
    if report.skipped:
        lines.append("skipped users:")
        lines += [f"  {s.id} ({s.username}): {s.reason}" for s in report.skipped]
        if report.counts["users skipped"] > len(report.skipped):
            lines.append(f"  … and {report.counts['users skipped'] - len(report.skipped)} more")
    if report.problems:
        lines.append("conflicts and refused data (nothing was written):")
        lines += [f"  {p}" for p in report.problems]
        if report.counts["problems"] > len(report.problems):
            lines.append(f"  … and {report.counts['problems'] - len(report.problems)} more")
    return lines
