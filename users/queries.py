"""Reads of users with their memberships: the one place that builds that SQL.

A user is always read with its role names and group paths (`role_names`, `group_paths`), as
array subqueries of the one user query, written once as SQL: built with ORM subquery expressions
they cost more to compile, on every request, than the query costs to run. Lookups by a unique
key, what Keycloak's provider calls most, go further and run one statement built once.

Lookups read the primary: Keycloak's provider looks a user up right after creating it, and a
replica may not have the user yet. Searches choose a replica (`identity.db_routing`).
"""

from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.shortcuts import get_object_or_404

from .models import Tenant, User


MEMBERSHIPS = ("role_names", "group_paths")


def user_queryset() -> QuerySet:
    """Users annotated with `role_names` and `group_paths`, both sorted."""
    roles, groups = _membership_sql()
    return User.objects.annotate(role_names=RawSQL(roles, ()), group_paths=RawSQL(groups, ()))


def tenant_user(tenant: Tenant, pk) -> User:
    """The tenant's user `pk`, without memberships, or 404: another tenant's user is not found."""
    return get_object_or_404(User.objects.filter(tenant=tenant), pk=pk)


def user_with_memberships(tenant: Tenant, pk) -> User | None:
    users = users_by_key(tenant, User._meta.pk.column, pk)
    return users[0] if users else None


def active_person(tenant_id, pk) -> User | None:
    """The active user `pk` of the tenant, with its tenant and role names: who a token speaks for
    and what they may do (group paths are not read: nothing on a request decides by them).

    One statement built once, like the lookups by key: every request with a person's token runs it,
    and compiling the same query through the ORM cost more than running it."""
    rows = _fetch(_active_person_sql(), [tenant_id, pk])
    if not rows:
        return None
    width = len(_columns(User)[0]) + 1
    user = _user_from_row(rows[0][:width], ("role_names",))
    User.tenant.field.set_cached_value(user, _tenant_from_row(rows[0][width:]))
    return user


def users_by_key(tenant: Tenant, column: str, value) -> list[User]:
    """The tenant's users whose unique `column` (id, username or email) equals `value`: none or one."""
    return users_from_sql(_by_key_sql(column, "= %s"), [tenant.pk, value])


def users_by_keys(tenant: Tenant, column: str, values: list, using: str = DEFAULT_DB_ALIAS) -> list[User]:
    """`users_by_key` for several values of the unique `column`, in the order of `values`, from the
    database `using` (a page's rows come from where its keys came from)."""
    users = {getattr(user, column): user
             for user in users_from_sql(_by_key_sql(column, "= ANY(%s)"), [tenant.pk, list(values)], using=using)}
    return [users[value] for value in values if value in users]


def users_from_sql(sql: str, params: list, extras: tuple[str, ...] = MEMBERSHIPS,
                   using: str = DEFAULT_DB_ALIAS) -> list[User]:
    """Users of a statement built once that selects every user column in `_columns` order, then
    the `extras` (set as attributes). A plain cursor and `Model.from_db`, not `Manager.raw`: the raw
    queryset maps the cursor's columns to fields again on every call, which costs more than a lookup."""
    return [_user_from_row(row, extras, using) for row in _fetch(sql, params, using)]


def _fetch(sql: str, params: list, using: str = DEFAULT_DB_ALIAS) -> list[tuple]:
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _user_from_row(row: tuple, extras: tuple[str, ...], using: str = DEFAULT_DB_ALIAS) -> User:
    attnames, converters = _columns(User)
    user = User.from_db(using, attnames, _converted(row[:len(attnames)], converters))
    for name, value in zip(extras, row[len(attnames):]):
        setattr(user, name, value)
    return user


def _tenant_from_row(row: tuple) -> Tenant:
    attnames, converters = _columns(Tenant)
    return Tenant.from_db(connection.alias, attnames, _converted(row, converters))


@cache
def _columns(model) -> tuple[list[str], list[tuple[int, list, object]]]:
    """The model's attnames in column order, and the database converters of the fields that have
    some (JSON fields decode their text), worked out once rather than per row."""
    fields = model._meta.concrete_fields
    converters = [(i, field.get_db_converters(connection), field) for i, field in enumerate(fields)]
    return [f.attname for f in fields], [c for c in converters if c[1]]


def _converted(values: tuple, converters) -> list:
    values = list(values)
    for i, functions, field in converters:
        for function in functions:
            values[i] = function(values[i], field, connection)
    return values


@cache
def _membership_sql() -> tuple[str, str]:
    """`ARRAY(SELECT name …)` of the outer user's roles and of its groups' paths, sorted."""
    q = connection.ops.quote_name
    user = q(User._meta.db_table)

    def names_of(field_name, column):
        field = User._meta.get_field(field_name)
        through = field.remote_field.through._meta
        target = field.related_model._meta
        return (f"ARRAY(SELECT t.{q(column)} FROM {q(target.db_table)} t JOIN {q(through.db_table)} m "
                f"ON m.{q(field.m2m_reverse_name())} = t.{q(target.pk.column)} "
                f"WHERE m.{q(field.m2m_column_name())} = {user}.{q(User._meta.pk.column)} ORDER BY t.{q(column)})")

    return names_of("roles", "name"), names_of("identity_groups", "path")


@cache
def _by_key_sql(column: str, condition: str, with_tenant: bool = False, groups: bool = True) -> str:
    """The user's columns, then `role_names` and (when `groups`) `group_paths`, then, when
    `with_tenant`, the tenant's columns from a join (each in `_columns` order)."""
    q = connection.ops.quote_name
    user, tenant = q(User._meta.db_table), q(Tenant._meta.db_table)
    tenant_id = f"{user}.{q(User._meta.get_field('tenant').column)}"
    columns = ", ".join(f"{user}.{q(f.column)}" for f in User._meta.concrete_fields)
    roles, group_paths = _membership_sql()
    select, source = f"SELECT {columns}, {roles} AS role_names", f"FROM {user}"
    if groups:
        select += f", {group_paths} AS group_paths"
    if with_tenant:
        select += ", " + ", ".join(f"{tenant}.{q(f.column)}" for f in Tenant._meta.concrete_fields)
        source += f" JOIN {tenant} ON {tenant}.{q(Tenant._meta.pk.column)} = {tenant_id}"
    return f"{select} {source} WHERE {tenant_id} = %s AND {user}.{q(column)} {condition}"


@cache
def _active_person_sql() -> str:
    is_active = connection.ops.quote_name(User._meta.get_field("is_active").column)
    return _by_key_sql(User._meta.pk.column, f"= %s AND {connection.ops.quote_name(User._meta.db_table)}.{is_active}",
                       with_tenant=True, groups=False)
