"""Import of the Gen-2 celebrity and fan services' own PostgreSQL tables into one tenant.

`manage.py import_gen2_profiles` calls `run()`. The source is read in one read-only REPEATABLE READ
snapshot per database (the celebrity and the fan service may have one each), each table streamed
with `COPY (SELECT …) TO STDOUT` straight into a temporary staging table of the backend
(`COPY … FROM STDIN`): no row is held in Python, whatever the size. Everything after that is
set-based SQL in the backend's one transaction: checks mark staged rows, then one `UPDATE` (only
rows whose values differ) and one `INSERT` (only rows the backend lacks) per table. Ids are kept,
so a second run updates in place and a run over unchanged data writes nothing.

Column mapping. The backend's tables carry the source's column names, so each source column goes
to its namesake; where a value changes on the way, or has no source, it says so here:

| source                                        | backend                                                    |
|-----------------------------------------------|------------------------------------------------------------|
| celebrity_profiles (17 columns)               | CelebrityProfile, keyed by the user: a user of the tenant  |
|   .status, .celeb_profile_type (enum)         | lower-cased, one of the backend's choices (NULL: default)  |
|   .store_code                                 | "" becomes NULL (none); unique within the tenant           |
|   text columns / display_weight / is_deleted  | NULL becomes "" / 0 / false                                |
|   (none)                                      | follower_count: counted from the backend's follows         |
| celebrity_profile_image, _banner, _shortlinks | CelebrityProfileImage, …Banner, …Shortlink: every column   |
| profile_status_history                        | ProfileStatusHistory; status lower-cased as above          |
| referral_codes                                | ReferralCode; code upper-cased (as the API stores codes)   |
|   .assigned_to                                | NULL (reported) when that celebrity is not in the backend  |
|   (none)                                      | tenant: the command's; created_on: the import's time       |
| fan_profiles                                  | FanProfile: every column                                   |
| fan_follows                                   | FanFollow; id in lower-case hex, md5(fan_user_id ‖ celeb_user_id) |
| fan_follow_changes                            | FanFollowChange; change FOLLOW(ED)/UNFOLLOW(ED): follow/unfollow |
| fan_media                                     | FanMedia; tenant: the command's; created_on: the import's time |
| global_preferences                            | GlobalPreference of the tenant; type lower-cased, a PreferenceType |
| `date` or `timestamp` moments                 | timestamps in UTC (a date is its midnight)                 |

Every source column has a home, so no model changed. A NULL moment keeps the backend's value
(the import's time for a new row). Rows whose user or profile the backend lacks are skipped and
listed; rows that are malformed or collide with the backend (a unique value held by another row,
an id or a user of another tenant) fail the whole run, listed, and nothing is written.

What the import does instead of `profiles.services` (which handle one row at a time):
- follower counters: after the follows are in, every counter of the tenant is set to the count of
  active follows in the backend (what `follow_celebrity` keeps). The backend's count wins; where
  it differs from the source's active follows (skipped fans, follows made in the backend) the
  report lists the celebrity with both numbers.
- status history: the source's rows are kept; a profile with none gets one row of its current
  status at its creation time (a fixed id, so re-runs do not add another).
- the `celebrity` role is granted to each imported celebrity's user (as `create_celebrity` does).
- audit: one `tenant.gen2_profiles_imported` event with the counts per table instead of one per
  row; a run that changes nothing records nothing. No event is emitted (there is no bus yet).
- the import never deletes: a row deleted in the source after an earlier run stays.
"""

import itertools
import time
from dataclasses import dataclass, field

import psycopg
from django.db import connection, models, transaction
from psycopg import sql

from audit import recording
from users.models import Tenant, User

from . import services
from .models import (
    CelebrityProfile,
    CelebrityProfileBanner,
    CelebrityProfileImage,
    CelebrityProfileShortlink,
    FanFollow,
    FanFollowChange,
    FanMedia,
    FanProfile,
    GlobalPreference,
    ProfileStatusHistory,
    ReferralCode,
)

AUDIT_ACTION = "tenant.gen2_profiles_imported"
recording.ACTIONS.add(AUDIT_ACTION)
LISTED = 50  # rows of each kind spelled out in messages
PROGRESS_EVERY = 1.0  # seconds


class ImportFailed(Exception):
    """The run cannot go on or must not be kept; the message says which table and row."""


@dataclass(frozen=True)
class Col:
    """A column, named alike in the source and the backend; `read` is the source expression."""

    name: str
    type: str
    read: str = '"{}"'
    moment: bool = False  # NOT NULL timestamp: NULL keeps the backend's value, or now() for a new row


def text(name):
    return Col(name, "text", "coalesce(\"{}\"::text, '')")


def moment(name, required=True):
    return Col(name, "timestamptz", '"{}"::timestamptz', moment=required)


def lowered(name, default):
    return Col(name, "text", f"coalesce(lower(\"{{}}\"::text), '{default}')")


@dataclass(frozen=True)
class Table:
    source: str
    model: type
    service: str  # "celebrity" or "fan": which database holds it
    cols: tuple
    owner: str  # SQL: the tenant of backend row `t`
    parents: tuple = ()  # (column, model): the row belongs to that user / profile
    uniques: tuple = ()  # (columns, scoped by tenant)
    fixed: tuple = ()  # backend-only columns set on insert: (column, SQL)

    @property
    def key(self):
        return self.cols[0].name

    @property
    def staging(self):
        return f"gen2_{self.source}"


_CELEB = "(SELECT c.tenant_id FROM profiles_celebrityprofile c WHERE c.celebrity_user_id = t.celebrity_user_id)"
_FAN = "(SELECT f.tenant_id FROM profiles_fanprofile f WHERE f.fan_user_id = t.fan_user_id)"
_TENANT = (("tenant_id", "%(tenant)s"),)

TABLES = (
    Table("celebrity_profiles", CelebrityProfile, "celebrity", (
        Col("celebrity_user_id", "uuid"), moment("created_on"), text("bio"), text("display_name"),
        text("first_name"), text("last_name"), text("metadata"), lowered("status", "pending"),
        Col("store_code", "text", "nullif(\"{}\"::text, '')"), Col("display_weight", "integer", 'coalesce("{}", 0)'),
        lowered("celeb_profile_type", "celebrity"), text("company_name"), text("title"), text("profile_video"),
        Col("is_deleted", "boolean", 'coalesce("{}", false)'), moment("deleted_on", required=False),
        Col("deleted_by_id", "uuid"),
    ), owner="t.tenant_id", parents=(("celebrity_user_id", User),), uniques=((("store_code",), True),),
        fixed=_TENANT + (("follower_count", "0"),)),
    Table("fan_profiles", FanProfile, "fan", (
        Col("fan_user_id", "uuid"), moment("created_on"), text("metadata"),
        Col("fan_profile_exclusively", "boolean", 'coalesce("{}", false)'),
    ), owner="t.tenant_id", parents=(("fan_user_id", User),), fixed=_TENANT),
    Table("celebrity_profile_image", CelebrityProfileImage, "celebrity", (
        Col("id", "uuid"), Col("celebrity_user_id", "uuid"), text("url"), moment("created_on"), text("meta_data"),
    ), owner=_CELEB, parents=(("celebrity_user_id", CelebrityProfile),)),
    Table("celebrity_profile_banner", CelebrityProfileBanner, "celebrity", (
        Col("id", "uuid"), Col("celebrity_user_id", "uuid"), text("url"), moment("created_on"),
    ), owner=_CELEB, parents=(("celebrity_user_id", CelebrityProfile),)),
    Table("celebrity_profile_shortlinks", CelebrityProfileShortlink, "celebrity", (
        Col("id", "uuid"), Col("celebrity_user_id", "uuid"), text("name"), text("body"),
    ), owner=_CELEB, parents=(("celebrity_user_id", CelebrityProfile),),
        uniques=((("celebrity_user_id", "name"), False),)),
    Table("profile_status_history", ProfileStatusHistory, "celebrity", (
        Col("id", "uuid"), Col("celebrity_user_id", "uuid"), Col("status", "text", 'lower("{}"::text)'),
        moment("occurred_on"),
    ), owner=_CELEB, parents=(("celebrity_user_id", CelebrityProfile),)),
    Table("referral_codes", ReferralCode, "celebrity", (
        Col("id", "uuid"), Col("code", "text", 'upper("{}"::text)'), text("type"), Col("limit", "bigint"),
        Col("used", "bigint", 'coalesce("{}", 0)'), Col("assigned_to", "uuid"),
    ), owner="t.tenant_id", uniques=((("code",), True),), fixed=_TENANT + (("created_on", "now()"),)),
    Table("fan_follows", FanFollow, "fan", (
        Col("id", "text", 'lower("{}"::text)'), Col("fan_user_id", "uuid"), Col("celeb_user_id", "uuid"),
        moment("followed_on"), text("followed_metadata"), moment("unfollowed_on", required=False),
    ), owner=_FAN, parents=(("fan_user_id", FanProfile), ("celeb_user_id", CelebrityProfile))),
    Table("fan_follow_changes", FanFollowChange, "fan", (
        Col("id", "uuid"), moment("occurred_on"), Col("fan_user_id", "uuid"), Col("celeb_user_id", "uuid"),
        Col("change", "text", "CASE lower(\"{0}\"::text) WHEN 'followed' THEN 'follow' "
                              "WHEN 'unfollowed' THEN 'unfollow' ELSE lower(\"{0}\"::text) END"),
    ), owner=_FAN, parents=(("fan_user_id", FanProfile), ("celeb_user_id", CelebrityProfile))),
    Table("fan_media", FanMedia, "fan", (
        Col("id", "uuid"), Col("fan", "uuid"), Col("media_id", "uuid"),
    ), owner="t.tenant_id", parents=(("fan", FanProfile),), uniques=((("fan", "media_id"), False),),
        fixed=_TENANT + (("created_on", "now()"),)),
    Table("global_preferences", GlobalPreference, "fan", (
        Col("id", "uuid"), Col("type", "text", 'lower("{}"::text)'), text("preference_value"),
    ), owner="t.tenant_id", uniques=((("type",), True),), fixed=_TENANT),
)


@dataclass
class Counts:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    invalid: int = 0
    conflicts: int = 0
    seconds: float = 0.0

    @property
    def unchanged(self):
        return self.read - self.inserted - self.updated - self.skipped


@dataclass
class Report:
    tables: dict = field(default_factory=lambda: {t.source: Counts() for t in TABLES})
    missing_users: dict = field(default_factory=dict)  # user id -> source tables that name it
    # (table, row, reason), at most LISTED of each kind per table; the counts are in `tables`.
    skipped: list = field(default_factory=list)
    invalid: list = field(default_factory=list)
    conflicts: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # (table, row, what was done)
    counter_mismatches: list = field(default_factory=list)  # (celebrity id, source count, backend count)
    counters_set: int = 0
    unassigned: int = 0  # referral codes whose assignee the backend lacks
    history_added: int = 0
    roles_granted: int = 0

    @property
    def changed(self):
        return any(c.inserted or c.updated for c in self.tables.values()) or self.counters_set or \
            self.history_added or self.roles_granted


def describe(dsn: str) -> str:
    """The DSN without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return "an unreadable DSN"
    return f"{info.get('user', '')}@{info.get('host', '')}:{info.get('port', '5432')}/{info.get('dbname', '')}"


def run(tenant: Tenant, dsns: dict, *, schema: str = "public", dry_run: bool = False, progress=None) -> Report:
    """Import every table into `tenant`; `dsns` maps "celebrity" and "fan" to a source DSN.

    Raises ImportFailed (the backend unchanged) on unreadable sources, invalid rows or conflicts.
    """
    report = Report()
    progress = progress or (lambda message, final=False: None)
    sources = {}
    try:
        for service in ("celebrity", "fan"):
            if dsns[service] not in sources:
                sources[dsns[service]] = _connect(dsns[service])
        for table in TABLES:
            _check_columns(sources[dsns[table.service]], schema, table, dsns[table.service])
        with transaction.atomic():
            connection.ensure_connection()
            with connection.connection.cursor() as cur:
                # Django's foreign keys are checked at commit; checked as each row is written, a
                # violation is a clear error, and no queue of a million pending checks builds up.
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
                for table in TABLES:
                    _import_table(cur, sources[dsns[table.service]], schema, table, tenant, report, progress)
                _finish(cur, tenant, report)
                cur.execute("SET CONSTRAINTS ALL DEFERRED")
                for table in TABLES:
                    cur.execute(f"DROP TABLE {table.staging}")
            if report.invalid or report.conflicts:
                raise ImportFailed(_failure(report))
            if report.changed and not dry_run:
                recording.record(AUDIT_ACTION, tenant, {
                    name: {"new": {"inserted": c.inserted, "updated": c.updated}}
                    for name, c in report.tables.items() if c.inserted or c.updated})
            if dry_run:
                transaction.set_rollback(True)
    finally:
        for source in sources.values():
            source.close()
    return report


def _connect(dsn):
    try:
        source = psycopg.connect(dsn, connect_timeout=10)
        source.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        source.read_only = True
        source.execute("SET TIME ZONE 'UTC'")
        source.execute("SET DateStyle TO ISO")
        return source
    except psycopg.Error as error:
        raise ImportFailed(f"Cannot read the source database {describe(dsn)}: {str(error).strip()}") from None


def _check_columns(source, schema, table, dsn):
    found = {row[0] for row in source.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        (schema, table.source))}
    if not found:
        raise ImportFailed(f"The source database {describe(dsn)} has no table {schema}.{table.source}.")
    missing = [c.name for c in table.cols if c.name not in found]
    if missing:
        raise ImportFailed(f"The source table {schema}.{table.source} lacks the column(s) {', '.join(missing)}.")


def _import_table(cur, source, schema, table, tenant, report, progress):
    counts = report.tables[table.source]
    started = time.monotonic()
    _stage(cur, source, schema, table, counts, progress)
    _check(cur, table, tenant.pk, report)
    if table.model is ReferralCode:
        _drop_missing_assignees(cur, table, tenant.pk, report)
    _write(cur, table, tenant.pk, counts)
    counts.seconds = time.monotonic() - started
    progress(f"{table.source}: {counts.read:,} rows in {counts.seconds:.1f} s "
             f"({counts.read / max(counts.seconds, 1e-6):,.0f} rows/s)", final=True)


def _stage(cur, source, schema, table, counts, progress):
    """Stream the source table into a temporary table of the same shape, in the backend."""
    columns = ", ".join(f'"{c.name}" {c.type}' for c in table.cols)
    names = _names(c.name for c in table.cols)
    cur.execute(f"DROP TABLE IF EXISTS {table.staging}")
    cur.execute(f"CREATE TEMPORARY TABLE {table.staging} ({columns}, skip text, bad text, step integer) "
                "ON COMMIT DROP")
    select = sql.SQL("COPY (SELECT {} FROM {}.{}) TO STDOUT").format(
        sql.SQL(", ".join(c.read.format(c.name) for c in table.cols)),
        sql.Identifier(schema), sql.Identifier(table.source))
    rows, started, shown = 0, time.monotonic(), 0.0
    try:
        with source.cursor() as reader, reader.copy(select) as copy_out, \
                cur.copy(f"COPY {table.staging} ({names}) FROM STDIN") as copy_in:
            for block in copy_out:
                copy_in.write(block)
                rows += bytes(block).count(b"\n")  # text format escapes newlines inside values
                now = time.monotonic()
                if now - shown >= PROGRESS_EVERY:
                    shown = now
                    progress(f"{table.source}: {rows:,} rows ({rows / max(now - started, 1e-6):,.0f} rows/s)")
    except psycopg.Error as error:
        raise ImportFailed(f"Cannot read the source table {table.source}: {str(error).strip()}") from None
    counts.read = rows
    for columns, _ in table.uniques:
        cur.execute(f"CREATE INDEX ON {table.staging} ({_names(columns)})")
    cur.execute(f"ANALYZE {table.staging}")


def _unique_index(cur, table) -> bool:
    """Index the staged ids; a unique index when they are unique (then no row needs checking for it)."""
    try:
        with cur.connection.transaction():  # a savepoint: a failed index leaves the transaction usable
            cur.execute(f'CREATE UNIQUE INDEX ON {table.staging} ("{table.key}")')
        return True
    except psycopg.errors.UniqueViolation:
        cur.execute(f'CREATE INDEX ON {table.staging} ("{table.key}")')
        return False


def _mark(cur, table, report, kind, reason, predicate, params=None):
    """Mark the staged rows matching `predicate` (not yet marked) as skipped, invalid or conflicting;
    count them, and keep the first few for the report."""
    column = "skip" if kind == "skipped" else "bad"
    step = next(_steps)
    cur.execute(f"UPDATE {table.staging} s SET {column} = {reason}, step = %(step)s "
                f"WHERE s.skip IS NULL AND s.bad IS NULL AND ({predicate})", {**(params or {}), "step": step})
    if not cur.rowcount:
        return
    counts = report.tables[table.source]
    setattr(counts, kind, getattr(counts, kind) + cur.rowcount)
    listed = getattr(report, kind)
    room = LISTED - sum(1 for name, *_ in listed if name == table.source)
    if room > 0:
        rows = _select(cur, f'SELECT "{table.key}"::text, {column} FROM {table.staging} WHERE step = %s '
                            f'ORDER BY 1 LIMIT {room}', (step,))
        listed.extend((table.source, row, why) for row, why in rows)


_steps = itertools.count(1)  # tells apart the rows each check marked


def _choices(field):
    return ", ".join(value for value, _ in field.choices)


def _check(cur, table, tenant_id, report):
    params = {"tenant": tenant_id}
    fields = {f.column: f for f in table.model._meta.concrete_fields}
    key, target = table.key, table.model._meta.db_table
    if not _unique_index(cur, table):
        _mark(cur, table, report, "invalid", "'the id appears more than once in the source'",
              f'EXISTS (SELECT 1 FROM {table.staging} o WHERE o."{key}" = s."{key}" AND o.ctid <> s.ctid)')
    # The checks of a row's own values: one pass, which names the first that fails.
    rules = [(f"'{key} is empty'", f's."{key}" IS NULL')]
    for col in table.cols:
        f = fields[col.name]
        if not f.null and not col.moment and f.column != key:
            rules.append((f"'{col.name} is empty'", f's."{col.name}" IS NULL'))
        if f.choices:
            rules.append((f"'{col.name} ' || quote_nullable(s.\"{col.name}\") || ' is not one of {_choices(f)}'",
                          f's."{col.name}" NOT IN ({", ".join(repr(v) for v, _ in f.choices)})'))
        if isinstance(f, models.CharField) and f.max_length:
            rules.append((f"'{col.name} is longer than {f.max_length} characters'",
                          f'length(s."{col.name}") > {f.max_length}'))
    if table.model is ReferralCode:
        rules += [("'code is empty'", "s.code = ''"),
                  ("'limit and used must be 0 or more, and used at most limit'",
                   's."limit" < 0 OR s.used < 0 OR s.used > s."limit" OR s."limit" > 2147483647')]
    if table.model is FanFollow:
        rules.append(("'id is not md5(fan_user_id || celeb_user_id) = ' || md5(s.fan_user_id::text || "
                      "s.celeb_user_id::text)", "s.id <> md5(s.fan_user_id::text || s.celeb_user_id::text)"))
    _mark(cur, table, report, "invalid",
          "CASE " + " ".join(f"WHEN coalesce({test}, false) THEN {why}" for why, test in rules) + " END",
          " OR ".join(f"coalesce({test}, false)" for _, test in rules))
    # An id the backend holds in another tenant would be moved across tenants by an update.
    _mark(cur, table, report, "conflicts", "'the id belongs to another tenant of the backend'",
          f'EXISTS (SELECT 1 FROM {target} t WHERE t."{key}" = s."{key}" AND {table.owner} <> %(tenant)s)', params)
    for column, parent in table.parents:
        _check_parent(cur, table, report, column, parent, params)
    for columns, per_tenant in table.uniques:
        _check_unique(cur, table, report, columns, per_tenant, params)


def _check_parent(cur, table, report, column, parent, params):
    """Rows whose user or profile is of another tenant conflict; rows whose one is missing are skipped.

    One pass over the rows finds those whose parent is not in the tenant (seldom any); only they are
    looked at again."""
    ptable, pkey = parent._meta.db_table, parent._meta.pk.column
    what = {User: "user", CelebrityProfile: "celebrity profile", FanProfile: "fan profile"}[parent]
    lacking = next(_steps)
    cur.execute(f'UPDATE {table.staging} s SET step = %(step)s WHERE s.skip IS NULL AND s.bad IS NULL AND NOT EXISTS '
                f'(SELECT 1 FROM {ptable} p WHERE p."{pkey}" = s."{column}" AND p.tenant_id = %(tenant)s)',
                {**params, "step": lacking})
    if not cur.rowcount:
        return
    for row in _select(cur, f'SELECT DISTINCT s."{column}"::text FROM {table.staging} s WHERE s."{column}" IS NOT NULL '
                            f'AND (s.step = %s OR s.skip IS NOT NULL) '
                            f'AND NOT EXISTS (SELECT 1 FROM users_user u WHERE u.id = s."{column}")', (lacking,)):
        report.missing_users.setdefault(row[0], []).append(table.source)
    _mark(cur, table, report, "conflicts", f"'{column}: the {what} ' || s.\"{column}\" || ' is of another tenant'",
          f's.step = {lacking} AND EXISTS (SELECT 1 FROM {ptable} p WHERE p."{pkey}" = s."{column}")', params)
    _mark(cur, table, report, "skipped",
          f"CASE WHEN EXISTS (SELECT 1 FROM users_user u WHERE u.id = s.\"{column}\") "
          f"THEN '{column}: ' || s.\"{column}\" || ' has no {what} in the backend' "
          f"ELSE '{column}: the user ' || s.\"{column}\" || ' is not in the backend' END",
          f"s.step = {lacking}")


def _check_unique(cur, table, report, columns, per_tenant, params):
    key, target = table.key, table.model._meta.db_table
    same = " AND ".join(f'o."{c}" = s."{c}"' for c in columns)
    shown = " || ', ' || ".join(f"quote_nullable(s.\"{c}\"::text)" for c in columns)
    label = ", ".join(columns)
    _mark(cur, table, report, "conflicts", f"'{label} ' || {shown} || ' appears more than once in the source'",
          f'EXISTS (SELECT 1 FROM {table.staging} o WHERE {same} AND o."{key}" <> s."{key}")')
    holder = (f'(SELECT o."{key}"::text FROM {target} o WHERE {same} AND o."{key}" <> s."{key}"'
              + (" AND o.tenant_id = %(tenant)s" if per_tenant else "")
              + f' AND NOT EXISTS (SELECT 1 FROM {table.staging} n WHERE n."{key}" = o."{key}"'
                f' AND n.skip IS NULL AND n.bad IS NULL) LIMIT 1)')
    _mark(cur, table, report, "conflicts", f"'{label} ' || {shown} || ' is held by ' || {holder} || ' in the backend'",
          f"{holder} IS NOT NULL", params)


def _drop_missing_assignees(cur, table, tenant_id, report):
    """A code assigned to a celebrity the backend lacks is kept, unassigned, and reported."""
    lacking = (f"FROM {table.staging} s WHERE s.skip IS NULL AND s.bad IS NULL AND s.assigned_to IS NOT NULL "
               "AND NOT EXISTS (SELECT 1 FROM profiles_celebrityprofile c WHERE c.celebrity_user_id = s.assigned_to "
               "AND c.tenant_id = %s)")
    for row_id, assignee in _select(cur, f"SELECT s.id::text, s.assigned_to::text {lacking} ORDER BY 1 LIMIT {LISTED}",
                                    (tenant_id,)):
        report.notes.append((table.source, row_id, f"assigned_to {assignee} has no celebrity profile in the backend: "
                                                   "imported unassigned"))
    for (user,) in _select(cur, f"SELECT DISTINCT s.assigned_to::text {lacking} AND NOT EXISTS "
                                "(SELECT 1 FROM users_user u WHERE u.id = s.assigned_to)", (tenant_id,)):
        report.missing_users.setdefault(user, []).append(table.source)
    cur.execute(f"UPDATE {table.staging} s SET assigned_to = NULL WHERE s.id IN (SELECT s.id {lacking})", (tenant_id,))
    report.unassigned = cur.rowcount


def _names(names, prefix=""):
    return ", ".join(f'{prefix}"{name}"' for name in names)


def _write(cur, table, tenant_id, counts):
    key, target = table.key, table.model._meta.db_table
    params = {"tenant": tenant_id}
    changed = [(c.name, f'coalesce(s."{c.name}", t."{c.name}")' if c.moment else f's."{c.name}"')
               for c in table.cols if c.name != key]
    new = [(c.name, f'coalesce(s."{c.name}", now())' if c.moment else f's."{c.name}"') for c in table.cols]
    new += list(table.fixed)
    ready = "s.skip IS NULL AND s.bad IS NULL"
    assignments = ", ".join(f'"{name}" = {value}' for name, value in changed)
    try:
        if changed:
            cur.execute(
                f"UPDATE {target} t SET {assignments} "
                f'FROM {table.staging} s WHERE t."{key}" = s."{key}" AND {ready} AND '
                f"({_names((n for n, _ in changed), 't.')}) IS DISTINCT FROM ({', '.join(v for _, v in changed)})",
                params)
            counts.updated = cur.rowcount
        cur.execute(
            f"INSERT INTO {target} ({_names(n for n, _ in new)}) SELECT {', '.join(v for _, v in new)} "
            f"FROM {table.staging} s WHERE {ready} "
            f'AND NOT EXISTS (SELECT 1 FROM {target} t WHERE t."{key}" = s."{key}")', params)
        counts.inserted = cur.rowcount
    except psycopg.Error as error:
        detail = error.diag.message_detail or ""
        raise ImportFailed(f"Writing {table.source} failed: {error.diag.message_primary}. {detail}".strip()) from None


def _finish(cur, tenant, report):
    """What the services keep row by row, done once for the whole import."""
    staged = "gen2_celebrity_profiles s WHERE s.skip IS NULL AND s.bad IS NULL"
    # The counters: every celebrity of the tenant counts its active follows in the backend.
    cur.execute(
        "UPDATE profiles_celebrityprofile c SET follower_count = n.active FROM ("
        " SELECT p.celebrity_user_id AS id, count(f.id) AS active FROM profiles_celebrityprofile p"
        " LEFT JOIN profiles_fanfollow f ON f.celeb_user_id = p.celebrity_user_id AND f.unfollowed_on IS NULL"
        " WHERE p.tenant_id = %s GROUP BY p.celebrity_user_id) n"
        " WHERE c.celebrity_user_id = n.id AND c.follower_count <> n.active", (tenant.pk,))
    report.counters_set = cur.rowcount
    report.counter_mismatches = [tuple(row) for row in _select(cur, (
        "SELECT c.celebrity_user_id::text, coalesce(src.active, 0), c.follower_count FROM profiles_celebrityprofile c"
        " LEFT JOIN (SELECT celeb_user_id, count(*) AS active FROM gen2_fan_follows WHERE unfollowed_on IS NULL"
        "  GROUP BY celeb_user_id) src ON src.celeb_user_id = c.celebrity_user_id"
        " WHERE c.tenant_id = %s AND (src.celeb_user_id IS NOT NULL OR c.celebrity_user_id IN"
        f"  (SELECT s.celebrity_user_id FROM {staged})) AND coalesce(src.active, 0) <> c.follower_count"
        " ORDER BY 1"), (tenant.pk,))]
    # Every status a profile entered is a row of its history, the first included.
    cur.execute(
        "INSERT INTO profiles_profilestatushistory (id, celebrity_user_id, status, occurred_on)"
        " SELECT md5('initial status of ' || c.celebrity_user_id::text)::uuid, c.celebrity_user_id, c.status,"
        " c.created_on FROM profiles_celebrityprofile c WHERE c.celebrity_user_id IN"
        f" (SELECT s.celebrity_user_id FROM {staged}) AND NOT EXISTS"
        " (SELECT 1 FROM profiles_profilestatushistory h WHERE h.celebrity_user_id = c.celebrity_user_id)")
    report.history_added = cur.rowcount
    if _select(cur, f"SELECT 1 FROM {staged} LIMIT 1"):
        role = services._celebrity_role(tenant)
        through = User.roles.through._meta.db_table
        cur.execute(f"INSERT INTO {through} (user_id, role_id) SELECT s.celebrity_user_id, %s FROM {staged}"
                    " ON CONFLICT DO NOTHING", (role.pk,))
        report.roles_granted = cur.rowcount


def _select(cur, query, params=None):
    cur.execute(query, params)
    return cur.fetchall()


def _listed(rows):
    return [f"  {table} {row}: {why}" for table, row, why in rows]


def _total(report, kind):
    return sum(getattr(counts, kind) for counts in report.tables.values())


def _failure(report) -> str:
    lines = ["Nothing was imported: the backend is unchanged."]
    if report.invalid:
        lines += [f"{_total(report, 'invalid')} invalid source row(s):", *_listed(report.invalid)]
    if report.conflicts:
        lines += [f"{_total(report, 'conflicts')} conflict(s) with the backend or within the source:",
                  *_listed(report.conflicts)]
    return "\n".join(lines)


def summary(report: Report, dry_run=False) -> str:
    """The end report: counts per table, missing users, skipped rows, counters."""
    width = max(len(name) for name in report.tables)
    lines = [f"{'table':<{width}}  {'read':>9} {'inserted':>9} {'updated':>9} {'unchanged':>9} {'skipped':>9}"]
    for name, c in report.tables.items():
        lines.append(f"{name:<{width}}  {c.read:>9} {c.inserted:>9} {c.updated:>9} {c.unchanged:>9} {c.skipped:>9}")
    lines.append(f"follower counters set: {report.counters_set}; status history rows added: "
                 f"{report.history_added}; celebrity roles granted: {report.roles_granted}")
    lines.append(f"missing users: {len(report.missing_users)}")
    lines += [f"  {user} (named in {', '.join(dict.fromkeys(tables))})"
              for user, tables in sorted(report.missing_users.items())]
    lines.append(f"skipped rows: {_total(report, 'skipped')}")
    lines += _listed(report.skipped)
    if report.unassigned:
        lines.append(f"referral codes imported unassigned: {report.unassigned}")
        lines += _listed(report.notes)
    lines.append(f"follower counts that differ from the source's active follows (the backend's count is kept): "
                 f"{len(report.counter_mismatches)}")
    lines += [f"  {celebrity}: source {source}, backend {backend}"
              for celebrity, source, backend in report.counter_mismatches[:LISTED]]
    lines.append("conflicts: 0")
    if dry_run:
        lines.append("dry run: everything was rolled back.")
    return "\n".join(lines)


