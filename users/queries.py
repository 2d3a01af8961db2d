"""Reads of users with their memberships: the one place that builds that SQL.

A user is always read with its role names and group paths (`role_names`, `group_paths`), as
array subqueries of the one user query, written once as SQL: built with ORM subquery expressions
they cost more to compile, on every request, than the query costs to run. Lookups by a unique
key, what Keycloak's provider calls most, go further and run one statement built once.

Lookups read the primary: Keycloak's provider looks a user up right after creating it, and a
replica may not have the user yet. Searches choose a replica (`identity.db_routing`).
"""

from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.shortcuts import get_object_or_404

from .models import Tenant, User


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
    """The active user `pk` of the tenant, with its tenant and memberships: who a token speaks for.

    One statement built once, like the lookups by key: every request with a person's token runs it,
    and compiling the same query through the ORM cost more than running it."""
    user_fields, tenant_fields = User._meta.concrete_fields, Tenant._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(_active_person_sql(), [tenant_id, pk])
        row = cursor.fetchone()
    if row is None:
        return None
    user = User.from_db(connection.alias, [f.attname for f in user_fields], row[:len(user_fields)])
    user.role_names, user.group_paths = row[len(user_fields):len(user_fields) + 2]
    tenant = Tenant.from_db(connection.alias, [f.attname for f in tenant_fields], row[len(user_fields) + 2:])
    User.tenant.field.set_cached_value(user, tenant)
    return user


def users_by_key(tenant: Tenant, column: str, value) -> list[User]:
    """The tenant's users whose unique `column` (id, username or email) equals `value`: none or one."""
    return list(User.objects.raw(_by_key_sql(column, "= %s"), [tenant.pk, value]))


def users_by_keys(tenant: Tenant, column: str, values: list, using: str = DEFAULT_DB_ALIAS) -> list[User]:
    """`users_by_key` for several values of the unique `column`, in the order of `values`, from the
    database `using` (a page's rows come from where its keys came from)."""
    users = {getattr(user, column): user
             for user in User.objects.raw(_by_key_sql(column, "= ANY(%s)"), [tenant.pk, list(values)], using=using)}
    return [users[value] for value in values if value in users]


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
def _by_key_sql(column: str, condition: str) -> str:
    q = connection.ops.quote_name
    user = q(User._meta.db_table)
    columns = ", ".join(f"{user}.{q(f.column)}" for f in User._meta.concrete_fields)
    roles, groups = _membership_sql()
    return (f"SELECT {columns}, {roles} AS role_names, {groups} AS group_paths FROM {user} "
            f"WHERE {user}.{q(User._meta.get_field('tenant').column)} = %s AND {user}.{q(column)} {condition}")


@cache
def _active_person_sql() -> str:
    q = connection.ops.quote_name
    user, tenant = q(User._meta.db_table), q(Tenant._meta.db_table)
    tenant_columns = ", ".join(f"{tenant}.{q(f.column)}" for f in Tenant._meta.concrete_fields)
    by_id = _by_key_sql(User._meta.pk.column, f"= %s AND {user}.{q(User._meta.get_field('is_active').column)}")
    select, rest = by_id.split(f" FROM {user} ", 1)
    return (f"{select}, {tenant_columns} FROM {user} JOIN {tenant} "
            f"ON {tenant}.{q(Tenant._meta.pk.column)} = {user}.{q(User._meta.get_field('tenant').column)} {rest}")
