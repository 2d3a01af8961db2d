"""User search with Keycloak's semantics, written so that every shape can use an index.

- The general `search` term: `foo` and `foo*` are prefixes, `*foo*` (or `*foo`) a substring,
  `"foo"` exact, `*` or nothing is everyone. Several words must all match (each in any field).
- Field filters (`username`, `email`, `first_name`, `last_name`) match a substring, or the whole
  value with `exact=true`, as Keycloak's own store does.
- Substrings shorter than three characters have no trigrams, so no index can serve them: they
  fall back to prefix matching instead of scanning the table.
- With `like=true` field filters are the BPM engine's `Like` patterns instead: `%` at the start
  and/or the end (a prefix, suffix or substring), the whole value without one.
- Lists of exact keys (`id`, `username_in`, `group_id`) and an `order` serve the engine's
  `userIdIn`, `memberOfGroup` and sorting; groups have their own criteria (`GroupCriteria`).

Matching is case-insensitive through normalised columns: `username` and `email` are stored in
lower case, and names are compared as `lower(name) COLLATE "C"`, the exact expressions of the
user indexes (Django's `i*` lookups compile to `UPPER()`, which no index serves).
"""

import json
import uuid
from dataclasses import dataclass, field, replace

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet, Sum

from identity.db_routing import read_replica
from identity.search import MIN_SUBSTRING_LENGTH, after_prefix, lowered

from . import services
from .models import Group, Tenant, TenantUserCount, User

TEXT_FIELDS = ("username", "email", "first_name", "last_name")
FLAGS = {"enabled": "is_active", "email_verified": "email_verified", "phone_verified": "phone_verified"}
# Names Keycloak may send in `q=` (or as attribute filters) that are columns here.
COLUMN_ALIASES = {
    **{name: name for name in (*TEXT_FIELDS, "phone_number", *FLAGS)},
    "firstName": "first_name",
    "lastName": "last_name",
    "emailVerified": "email_verified",
}
# Query parameters of a search, with what the API documents of each; `attr.<name>` and `group`
# come on top. Caps keep any query a handful of index conditions, never an expression tree that
# PostgreSQL refuses to plan.
TEXT_PARAMS = {
    "search": '`foo`/`foo*` prefix, `*foo*` substring, `"foo"` exact, `*` all.',
    "username": "", "email": "", "first_name": "", "last_name": "", "phone_number": "",
    "q": "Keycloak's `name:value name2:value2` attribute query.",
}
FLAG_PARAMS = {"exact": "Field filters match whole values.", "enabled": "", "email_verified": "",
               "phone_verified": "",
               "like": "Field filters are `Like` patterns: `%` at the start and/or end, the whole value without."}
# Repeatable exact keys: users whose key is any of the values given.
LIST_PARAMS = {
    "id": ("ids", "User ids; repeat for any of several."),
    "username_in": ("usernames", "Whole usernames; repeat for any of several."),
    "group_id": ("group_ids", "Members of this group id; repeat for any of several groups."),
}
# What a page of users may be ordered by (`-` first for descending), each with an index that
# yields it in order: the names' lowered indexes, the username and e-mail indexes, (tenant, id).
USER_ORDERS = {"username": "username", "first_name": "first_name_lc", "last_name": "last_name_lc",
               "email": "email", "id": "id"}
GROUP_ORDERS = {"path": "path", "name": "name_lc", "id": "id"}
MAX_VALUE_LENGTH = 1000
TRIGRAM_NARROWING = 4  # characters of a substring: two trigrams
FEW_MATCHES = 10_000  # rows PostgreSQL expects a narrowing term to match, for a page by its matches
MAX_WORDS = 10
MAX_ATTRIBUTE_FILTERS = 20
MAX_GROUPS = 100
MAX_KEYS = 100
_TRUE = {"t", "y", "yes", "true", "on", "1"}
_FALSE = {"f", "n", "no", "false", "off", "0"}


@dataclass
class UserCriteria:
    """What a search asks for. Text is as given; `phone_number` is normalised (E.164)."""

    search: str | None = None
    exact: bool = False
    username: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    enabled: bool | None = None
    email_verified: bool | None = None
    phone_number: str | None = None
    phone_verified: bool | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    like: bool = False
    ids: list[str] = field(default_factory=list)
    usernames: list[str] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)

    def unique_key(self) -> tuple[str, str] | None:
        """`(column, value)` when only the user with one exact username, e-mail or phone number is
        asked for (Keycloak's getUserByUsername/ByEmail, the provider's phone search): the answer
        is one user or none, found by one indexed lookup."""
        given = [(name, getattr(self, name)) for name in ("username", "email", "phone_number") if getattr(self, name)]
        if len(given) != 1 or replace(self, username=None, email=None, phone_number=None, exact=False) != UserCriteria():
            return None
        (column, value), = given
        if column == "phone_number":
            return column, value
        return (column, value.strip().lower()) if self.exact else None

    def narrows_by_trigrams(self) -> bool:
        """A substring of TRIGRAM_NARROWING characters or more: two trigrams or more, which the
        trigram indexes intersect. Whether that leaves few rows is `few_matches`' question."""
        words = [] if (self.search or "").strip().startswith('"') else (self.search or "").split()
        terms = [word.strip("*") for word in words if word.startswith("*")]
        if not self.exact:
            values = [getattr(self, name).strip() for name in TEXT_FIELDS if getattr(self, name)]
            terms += [value.strip("%") for value in values if not self.like or value.startswith("%")]
        return any(len(term) >= TRIGRAM_NARROWING for term in terms)

    def matches_text(self) -> bool:
        """Text that may match many users: a page's keys are best found on the covering index first."""
        return bool((self.search or "").strip(" *")) or (
            not self.exact and any(getattr(self, name) and (not self.like or "%" in getattr(self, name))
                                   for name in TEXT_FIELDS))


def criteria_from_query(query, ignore=frozenset()) -> UserCriteria:
    """The one parse of a search's query string (a QueryDict), every problem keyed by parameter.

    Written out rather than through a serializer: Keycloak's lookups arrive here thousands of
    times a second, and building a serializer costs more than the lookup it would validate.
    """
    criteria, errors, pairs, attributes = UserCriteria(), {}, {}, {}
    for name in query:
        if name in ignore:
            continue
        if name == "group":
            groups = query.getlist(name)
            problem = len(groups) > MAX_GROUPS and f"At most {MAX_GROUPS} groups." or next(
                filter(None, map(_text_problem, groups)), None)
            criteria.groups = groups
        elif name in LIST_PARAMS:
            values = query.getlist(name)
            problem = _keys_problem(name, values)
            setattr(criteria, LIST_PARAMS[name][0], values)
        elif name.startswith("attr."):
            value = query[name]
            problem = _text_problem(value)
            attributes[name[len("attr."):]] = value
        elif name in TEXT_PARAMS:
            value = query[name].strip()
            problem = _text_problem(value) or (not value and "This field may not be blank.")
            if name == "q" and not problem:
                try:
                    pairs.update(parse_keycloak_query(value))
                except ValidationError as error:
                    problem = error.message_dict["q"][0]
            elif not problem:
                setattr(criteria, name, value)
        elif name in FLAG_PARAMS:
            value = _flag(query[name])
            problem = value is None and "Must be a valid boolean." or None
            if name in ("exact", "like"):
                setattr(criteria, name, bool(value))
            else:
                setattr(criteria, name, value)
        else:
            problem = "Unknown parameter."
        if problem:
            errors[name] = [problem]
    if errors:
        raise ValidationError(errors)
    criteria_from_attributes(criteria, {**pairs, **attributes})
    for name in criteria.attributes:
        if not services.ATTRIBUTE_NAME_RE.match(name):
            raise ValidationError({f"attr.{name}": "Attribute names have letters, digits and _ . : - only."})
    if len(criteria.attributes) > MAX_ATTRIBUTE_FILTERS:
        raise ValidationError({"attr.<name>": f"At most {MAX_ATTRIBUTE_FILTERS} attribute filters."})
    if criteria.search and len(criteria.search.split()) > MAX_WORDS:
        raise ValidationError({"search": f"At most {MAX_WORDS} words."})
    if criteria.phone_number:
        try:
            criteria.phone_number = services.normalise_phone(criteria.phone_number)
        except ValidationError as error:
            raise ValidationError({"phone_number": error.messages}) from None
    if criteria.like:
        for name in TEXT_FIELDS:
            problem = _pattern_problem(getattr(criteria, name))
            if problem:
                raise ValidationError({name: problem})
    return criteria


def _keys_problem(name: str, values: list[str]) -> str | None:
    if len(values) > MAX_KEYS:
        return f"At most {MAX_KEYS} values."
    if name in ("id", "group_id"):
        for value in values:
            try:
                uuid.UUID(value)
            except ValueError:
                return f"{value[:40]!r} is not a UUID."
        return None
    return next(filter(None, map(_text_problem, values)), None)


def _pattern_problem(value: str | None) -> str | None:
    if value and "%" in value.strip("%"):
        return "`%` may only start or end a pattern."
    return None


def ordering(value: str | None, orders: dict[str, str], unique: str) -> list[str] | None:
    """`order_by` arguments for an `order` parameter (`name` or `-name`), ties broken by the
    `unique` column; None for the default order."""
    if value is None:
        return None
    name = value.removeprefix("-")
    if name not in orders or "\x00" in value:
        raise ValidationError({"order": f"One of {', '.join(orders)}, `-` first for descending."})
    sign = "-" if value.startswith("-") else ""
    columns = [orders[name]] + ([unique] if orders[name] != unique else [])
    return [sign + column for column in columns]


def _text_problem(value: str) -> str | None:
    if len(value) > MAX_VALUE_LENGTH:
        return f"At most {MAX_VALUE_LENGTH} characters."
    if "\x00" in value:
        return "Null characters are not allowed."
    return None


def _flag(value: str) -> bool | None:
    value = value.lower()
    return True if value in _TRUE else False if value in _FALSE else None


def _with_search_columns(queryset: QuerySet) -> QuerySet:
    return queryset.alias(first_name_lc=lowered("first_name"), last_name_lc=lowered("last_name"))


def _column(field_name: str) -> str:
    return {"first_name": "first_name_lc", "last_name": "last_name_lc"}.get(field_name, field_name)


def _match(field_name: str, term: str, mode: str) -> Q:
    column = _column(field_name)
    if mode == "exact":
        return Q(**{column: term})
    if mode == "substring" and len(term) >= MIN_SUBSTRING_LENGTH:
        return Q(**{f"{column}__contains": term})
    # The prefix as a byte-order range: the btree conditions are then exact, so a count skips the
    # recheck of every matching row that `LIKE 'term%'` keeps, and no trigram index competes.
    after = after_prefix(term)
    q = Q(**{f"{column}__gte": term})
    return q if after is None else q & Q(**{f"{column}__lt": after})


def _any_field(term: str, mode: str) -> Q:
    q = Q()
    for field_name in TEXT_FIELDS:
        q |= _match(field_name, term, mode)
    return q


def _like(field_name: str, pattern: str) -> Q:
    """An engine `Like` pattern: `%` around the value marks where any text may be."""
    term = pattern.strip("%")
    if not term:
        return Q()
    starts, ends = pattern.startswith("%"), pattern.endswith("%")
    if not starts:
        return _match(field_name, term, "prefix" if ends else "exact")
    if ends or len(term) < MIN_SUBSTRING_LENGTH:
        return _match(field_name, term, "substring")
    return Q(**{f"{_column(field_name)}__endswith": term})  # served by the trigram index


def _search_term(value: str) -> Q:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return _any_field(value[1:-1].lower(), "exact")
    q = Q()
    for word in value.lower().split():
        mode = "substring" if word.startswith("*") else "prefix"
        word = word.strip("*")
        if word:
            q &= _any_field(word, mode)
    return q


def parse_keycloak_query(q: str) -> dict[str, str]:
    """Keycloak's `q=name:value name2:value2` into a name -> value map."""
    pairs = {}
    for item in q.split():
        name, sep, value = item.partition(":")
        if not sep or not name or not value:
            raise ValidationError({"q": f"{item!r} is not of the form name:value."})
        pairs[name] = value
    return pairs


def criteria_from_attributes(criteria: UserCriteria, pairs: dict[str, str]) -> UserCriteria:
    """Route attribute-style pairs to columns where they are columns, else to `attributes`."""
    for name, value in pairs.items():
        column = COLUMN_ALIASES.get(name)
        if column is None:
            criteria.attributes[name] = value
        elif column in FLAGS:
            if value.lower() not in ("true", "false"):
                raise ValidationError({"q": f"{name} takes true or false."})
            setattr(criteria, column, value.lower() == "true")
        else:
            setattr(criteria, column, value)
    return criteria


def search_users(tenant: Tenant | None, criteria: UserCriteria, queryset: QuerySet | None = None) -> QuerySet:
    """The tenant's users matching every given criterion (unordered).

    `tenant=None` searches every tenant: only the operators' console does that.
    """
    queryset = _with_search_columns(queryset if queryset is not None else User.objects.all())
    q = Q(tenant=tenant) if tenant is not None else Q()
    if criteria.search:
        q &= _search_term(criteria.search)
    mode = "exact" if criteria.exact else "substring"
    for field_name in TEXT_FIELDS:
        value = getattr(criteria, field_name)
        if value and criteria.like:
            q &= _like(field_name, value.strip().lower())
        elif value:
            q &= _match(field_name, value.strip().lower(), mode)
    if criteria.ids:
        q &= Q(pk__in=criteria.ids)
    if criteria.usernames:
        q &= Q(username__in=[name.strip().lower() for name in criteria.usernames])
    if criteria.phone_number:
        q &= Q(phone_number=criteria.phone_number)
    for flag, column in FLAGS.items():
        value = getattr(criteria, flag)
        if value is not None:
            q &= Q(**{column: value})
    for name, value in criteria.attributes.items():
        q &= Q(attributes__contains={name: [value]})  # served by the GIN index
    if criteria.groups:  # members of any of these groups (by path), driven from the group side
        memberships = User.identity_groups.through.objects.filter(group__path__in=criteria.groups)
        if tenant is not None:
            memberships = memberships.filter(group__tenant=tenant)
        q &= Q(pk__in=memberships.values("user_id"))
    if criteria.group_ids:  # the same, by group id
        memberships = User.identity_groups.through.objects.filter(group_id__in=criteria.group_ids)
        if tenant is not None:
            memberships = memberships.filter(group__tenant=tenant)
        q &= Q(pk__in=memberships.values("user_id"))
    return queryset.filter(q)


def few_matches(queryset: QuerySet) -> bool:
    """Whether PostgreSQL expects at most FEW_MATCHES rows (one EXPLAIN: planned, not run).

    Asked for a page in username order, the planner weighs walking that order until the page is
    full against finding every match and sorting them, by the matches it expects. For a rare
    term it expects too many (2,000 for 100 at 10M users) and the walk read most of the table
    (2.1 s); for a common word it expects hundreds of thousands, and the walk is right (0.16 s,
    where finding and sorting them all took 8 s). Under FEW_MATCHES the page is found by its
    matches first (3.9 ms for the rare term)."""
    plan = json.loads(queryset.order_by().values("pk").explain(format="json"))
    return plan[0]["Plan"]["Plan Rows"] <= FEW_MATCHES


def pages_by_matches(criteria: UserCriteria, queryset: QuerySet) -> bool:
    """Whether a page of this search finds its keys by their matches first (see `few_matches`)."""
    return criteria.narrows_by_trigrams() and few_matches(queryset.using(read_replica()))


def count_users(tenant: Tenant | None, criteria: UserCriteria) -> int:
    """How many users `search_users` finds, exactly. Everyone is read from the per-tenant totals
    that triggers keep (`TenantUserCount`), instead of counting a million index entries. A count
    tolerates a replica's lag: it is read from one when there is one."""
    using = read_replica()
    if _is_everyone(criteria):
        counts = TenantUserCount.objects.using(using)
        counts = counts.all() if tenant is None else counts.filter(tenant=tenant)
        return counts.aggregate(users=Sum("users"))["users"] or 0
    return search_users(tenant, criteria).using(using).count()


def _is_everyone(criteria: UserCriteria) -> bool:
    """No criterion but perhaps a `search` of stars alone (`*`), which matches everyone."""
    return (replace(criteria, search=None) == UserCriteria()
            and not (criteria.search or "").replace("*", "").strip())


# --- groups -----------------------------------------------------------------------------------

GROUP_PARAMS = {
    "id": "Group ids; repeat for any of several.",
    "path": "Whole paths; repeat for any of several.",
    "name": "The name (case-insensitive), or with `like=true` a `Like` pattern (`%` at the start and/or end).",
    "like": "`name` is a `Like` pattern.",
    "member": "Groups this user id is a direct member of.",
    "order": f"One of {', '.join(GROUP_ORDERS)} (`-` first for descending); paged by `first`/`offset`.",
}


@dataclass
class GroupCriteria:
    ids: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    name: str | None = None
    like: bool = False
    member: str | None = None


def group_criteria_from_query(query, ignore=frozenset()) -> GroupCriteria:
    criteria, errors = GroupCriteria(), {}
    for name in query:
        if name in ignore:
            continue
        problem = None
        if name in ("id", "path"):
            values = query.getlist(name)
            problem = _keys_problem("group_id" if name == "id" else "path", values)
            setattr(criteria, "ids" if name == "id" else "paths", values)
        elif name == "name":
            criteria.name = query[name].strip()
            problem = _text_problem(criteria.name) or (not criteria.name and "This field may not be blank.")
        elif name == "like":
            like = _flag(query[name])
            problem = like is None and "Must be a valid boolean." or None
            criteria.like = bool(like)
        elif name == "member":
            criteria.member = query[name]
            problem = _keys_problem("id", [criteria.member])
        else:
            problem = "Unknown parameter."
        if problem:
            errors[name] = [problem]
    if not errors and criteria.like:
        problem = _pattern_problem(criteria.name)
        if problem:
            errors["name"] = [problem]
    if errors:
        raise ValidationError(errors)
    return criteria


def search_groups(tenant: Tenant, criteria: GroupCriteria) -> QuerySet:
    """The tenant's groups matching every given criterion (unordered); names as `lower(name)`,
    the expression of the group name indexes."""
    queryset = Group.objects.alias(name_lc=lowered("name"))
    q = Q(tenant=tenant)
    if criteria.ids:
        q &= Q(pk__in=criteria.ids)
    if criteria.paths:
        q &= Q(path__in=criteria.paths)
    if criteria.name and criteria.like:
        term = criteria.name.lower()
        bare = term.strip("%")
        if bare and not term.startswith("%"):
            after = after_prefix(bare)
            q &= Q(name_lc=bare) if not term.endswith("%") else Q(name_lc__gte=bare) & (
                Q(name_lc__lt=after) if after else Q())
        elif bare:
            q &= Q(name_lc__contains=bare) if term.endswith("%") else Q(name_lc__endswith=bare)
    elif criteria.name:
        q &= Q(name_lc=criteria.name.lower())
    if criteria.member:
        q &= Q(pk__in=Group.members.through.objects.filter(user_id=criteria.member).values("group_id"))
    return queryset.filter(q)


def count_groups(tenant: Tenant, criteria: GroupCriteria) -> int:
    """How many groups `search_groups` finds, read from a replica when there is one."""
    return search_groups(tenant, criteria).using(read_replica()).count()
