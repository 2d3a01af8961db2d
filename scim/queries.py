"""Reads of the SCIM facade: pages of users and groups, and single records, with what their SCIM
representation needs (a user's groups, a group's members and the parts of its version).

Pages are ordered by an indexed key (username, or the lowered first or last name) and counted
up to `SCIM_MAX_COUNT` matches only, or, without a filter, from the per-tenant totals that
database triggers keep (`users.search.count_users`).
"""

import uuid
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from scim2_models import InvalidValueException, ScimFilter, TooManyException

from identity.search import lowered
from users import search
from users.models import Group, Tenant, User
from users.queries import users_from_sql

from .filters import GROUP_SCHEMA_PREFIX, MEMBERSHIPS, USER_SCHEMA_PREFIX, group_filter, unique_key, user_filter

U, G = USER_SCHEMA_PREFIX, GROUP_SCHEMA_PREFIX
USER_SORTS = {f"{U}userName": "username", f"{U}name.givenName": "first_name_lc", f"{U}name.familyName": "last_name_lc"}
GROUP_SORTS = {f"{G}displayName": "name_lc", f"{G}id": "pk"}


@dataclass
class Page:
    total: int
    rows: list


def users_matching(tenant: Tenant, scim_filter: ScimFilter | None) -> QuerySet:
    queryset = User.objects.filter(tenant=tenant).alias(
        first_name_lc=lowered("first_name"), last_name_lc=lowered("last_name"))
    return queryset if scim_filter is None else queryset.filter(user_filter(scim_filter))


def user_page(tenant: Tenant, scim_filter: ScimFilter | None, sort_urn: str | None, descending: bool,
              start: int, count: int) -> Page:
    """One page of the tenant's users, ordered by the sort key then the unique username."""
    order = _order(USER_SORTS, sort_urn, "username", descending)
    key = unique_key(scim_filter) if scim_filter is not None and start == 0 and count else None
    if key is not None:
        rows = users_by_key(tenant, *key)
        return Page(len(rows), rows)
    if order[0].lstrip("-") != "username":
        order.append("username")  # equal names come in a stable order
    queryset = users_matching(tenant, scim_filter)
    rows = list(user_rows(queryset.order_by(*order)[start:start + count])) if count else []
    total = _total_from_page(start, count, rows)
    if total is None:
        total = search.count_users(tenant, search.UserCriteria()) if scim_filter is None else bounded_count(queryset)
    return Page(total, rows)


def user_rows(queryset: QuerySet) -> QuerySet:
    """Users with their groups (id and name), fetched with one more query per page."""
    return queryset.prefetch_related(_group_names())


def _group_names():
    return Prefetch("identity_groups", queryset=Group.objects.only("id", "name").order_by("name", "id"))


def tenant_user(tenant: Tenant, pk: str, *, lock: bool = False) -> User | None:
    try:
        pk = uuid.UUID(pk)
    except ValueError:
        return None
    if lock:
        return User.objects.select_for_update(of=("self",)).filter(tenant=tenant, pk=pk).first()
    users = users_by_key(tenant, "id", pk)
    return users[0] if users else None


def users_by_key(tenant: Tenant, column: str, value) -> list[User]:
    """The tenant's users whose unique `column` equals `value` (none or one), with their groups'
    ids and names (`scim_group_ids`, `scim_group_names`), in one statement built once."""
    return users_from_sql(by_key_sql(column), [tenant.pk, value], extras=("scim_group_ids", "scim_group_names"))


@cache
def by_key_sql(column: str) -> str:
    q = connection.ops.quote_name
    user, group, through = (q(model._meta.db_table) for model in (User, Group, MEMBERSHIPS))
    columns = ", ".join(f"{user}.{q(field.column)}" for field in User._meta.concrete_fields)
    groups = (f"FROM {group} g JOIN {through} m ON m.{q('group_id')} = g.{q('id')} "
              f"WHERE m.{q('user_id')} = {user}.{q('id')} ORDER BY g.{q('name')}, g.{q('id')}")
    return (f"SELECT {columns}, ARRAY(SELECT g.{q('id')} {groups}) AS scim_group_ids, "
            f"ARRAY(SELECT g.{q('name')} {groups}) AS scim_group_names FROM {user} "
            f"WHERE {user}.{q('tenant_id')} = %s AND {user}.{q(column)} = %s")


def tenant_users(tenant: Tenant, pks: set[str]) -> list[User]:
    """The tenant's users among `pks`; ids that are not UUIDs are nobody."""
    ids = set()
    for pk in pks:
        try:
            ids.add(uuid.UUID(pk))
        except ValueError:
            pass
    return list(User.objects.filter(tenant=tenant, pk__in=ids)) if ids else []


def group_queryset(tenant: Tenant) -> QuerySet:
    """The tenant's groups with what their version is derived from: the number of members and the
    newest membership row (any change of members changes one of the two)."""
    memberships = MEMBERSHIPS.objects.filter(group_id=OuterRef("pk")).order_by().values("group_id")
    return Group.objects.filter(tenant=tenant).annotate(
        member_count=Coalesce(Subquery(memberships.annotate(n=Count("pk")).values("n")), 0),
        last_membership=Coalesce(Subquery(memberships.annotate(m=Max("pk")).values("m")), 0),
    ).alias(name_lc=lowered("name"))


def group_page(tenant: Tenant, scim_filter: ScimFilter | None, sort_urn: str | None, descending: bool,
               start: int, count: int, with_members: bool) -> Page:
    queryset = group_queryset(tenant)
    if scim_filter is not None:
        queryset = queryset.filter(group_filter(scim_filter))
    order = _order(GROUP_SORTS, sort_urn, "name_lc", descending)
    rows = list(queryset.order_by(*order, "pk")[start:start + count]) if count else []
    total = _total_from_page(start, count, rows)
    if total is None:
        total = bounded_count(queryset)
    if with_members:
        attach_members(rows)
    return Page(total, rows)


def _total_from_page(start: int, count: int, rows: list) -> int | None:
    """A page that is not full is the last one: the total is known without counting (an IdP's
    lookup by a unique key, the most frequent request, then costs one query)."""
    if 0 < len(rows) < count or (start == 0 and count and not rows):
        return start + len(rows)
    return None


def tenant_group(tenant: Tenant, pk: str, *, with_members: bool = True, lock: bool = False) -> Group | None:
    try:
        pk = uuid.UUID(pk)
    except ValueError:
        return None
    queryset = group_queryset(tenant)
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    group = queryset.filter(pk=pk).first()
    if group is not None and with_members:
        attach_members([group])
    return group


def attach_members(groups: list[Group]):
    """`member_ids` of each group, in one query."""
    members = {group.pk: [] for group in groups}
    for group_id, user_id in (MEMBERSHIPS.objects.filter(group_id__in=members).order_by("group_id", "user_id")
                              .values_list("group_id", "user_id")):
        members[group_id].append(str(user_id))
    for group in groups:
        group.member_ids = members[group.pk]


def bounded_count(queryset: QuerySet) -> int:
    """The number of matches, counted up to `SCIM_MAX_COUNT`: beyond it the filter is too broad
    to total (RFC 7644's `tooMany`), which keeps a count from reading millions of index entries."""
    limit = settings.SCIM_MAX_COUNT
    total = queryset.order_by().values("pk")[:limit + 1].count()
    if total > limit:
        raise TooManyException(
            detail=f"This filter matches more than {limit} resources; narrow it down.")
    return total


def _order(sorts: dict[str, str], sort_urn: str | None, default: str, descending: bool) -> list[str]:
    if sort_urn is None:
        field = default
    elif sort_urn in sorts:
        field = sorts[sort_urn]
    else:
        names = ", ".join(urn.rpartition(":")[2] for urn in sorts)
        raise InvalidValueException(detail=f"Sorting is supported by {names} only.")
    return [f"-{field}" if descending else field]
