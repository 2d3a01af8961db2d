"""SCIM filters as one `Q` over the columns that hold each attribute.

scim2-models parses a filter into a tree and resolves each attribute path to its schema URN; each
URN maps here to the column that holds it. Every comparison accepted is one an index serves (the
indexes of migrations 0002, 0006, 0007 and 0009); other combinations answer `invalidFilter`, as
RFC 7644 §3.4.2.2 allows ("the specified attribute and filter comparison combination is not
supported"). Negations (`ne`, `not`) cannot seek an index: their pages walk the username index in
order and stop when full, and their counts stop at `SCIM_MAX_COUNT` (`queries.bounded_count`).
Groups, few per tenant, are filtered by name without an index.

Case follows RFC 7643 per attribute: `userName`, e-mail addresses and names are case-insensitive
and compared on their lower-cased columns (usernames and e-mails are stored lower-cased, names
through the `lower(name) COLLATE "C"` indexes); `id`, `externalId` and the attributes kept in
`attributes` (published with `caseExact`) are compared exactly.
"""

import uuid
from dataclasses import dataclass
from functools import reduce
from operator import and_, or_
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from scim2_models import InvalidFilterException, ScimFilter
from scim2_models.path import (
    AttrPath, Comparison, CompareOperator, FilterVisitor, LogicalExpr, LogicalOperator, Not, Present, ValuePath,
    coerce_value,
)

from identity.search import MIN_SUBSTRING_LENGTH, after_prefix
from users import services
from users.models import User

from .schemas import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA

Op = CompareOperator
ORDERING = {Op.gt: "gt", Op.ge: "gte", Op.lt: "lt", Op.le: "lte"}
NOTHING = Q(pk__in=[])
MEMBERSHIPS = User.identity_groups.through


class _Column:
    """How one attribute is compared; the operators an index cannot serve are refused."""

    name: str

    def compare(self, op: Op, value) -> Q:
        if op == Op.ne:
            return ~self.compare(Op.eq, value)
        raise InvalidFilterException(detail=f"{self.name} cannot be compared with '{op.value}' here.")

    def present(self) -> Q:
        raise InvalidFilterException(detail=f"'{self.name} pr' is not supported.")


@dataclass
class Text(_Column):
    """A text column with a btree in byte order: equality, prefixes and ranges; substrings too
    when a trigram index covers it. `fold` is what the stored value went through (lower case)."""

    name: str
    field: str
    fold: Any = None
    substrings: bool = False  # a trigram index serves `co` and `ew`
    normalise: Any = None  # a value that cannot be stored matches nothing

    def compare(self, op, value):
        if not isinstance(value, str):
            raise InvalidFilterException(detail=f"{self.name} is compared with a string.")
        value = self.fold(value) if self.fold else value
        if op == Op.eq:
            if self.normalise:
                try:
                    value = self.normalise(value)
                except ValidationError:
                    return NOTHING
            return Q(**{self.field: value})
        if op == Op.sw:
            after = after_prefix(value)
            q = Q(**{f"{self.field}__gte": value})
            return q if after is None else q & Q(**{f"{self.field}__lt": after})
        if op in ORDERING:
            return Q(**{f"{self.field}__{ORDERING[op]}": value})
        if op in (Op.co, Op.ew) and self.substrings:
            if len(value) < MIN_SUBSTRING_LENGTH:
                raise InvalidFilterException(
                    detail=f"'{op.value}' needs at least {MIN_SUBSTRING_LENGTH} characters: shorter ones have no index.")
            return Q(**{f"{self.field}__{'contains' if op == Op.co else 'endswith'}": value})
        return super().compare(op, value)

    def present(self):
        return Q(**{f"{self.field}__isnull": False}) & ~Q(**{self.field: ""})


@dataclass
class Identifier(_Column):
    name: str
    field: str = "pk"

    def compare(self, op, value):
        if op != Op.eq:
            return super().compare(op, value)
        try:
            return Q(**{self.field: uuid.UUID(str(value))})
        except ValueError:
            return NOTHING

    def present(self):
        return Q()


@dataclass
class Flag(_Column):
    name: str
    field: str

    def compare(self, op, value):
        if op == Op.eq and isinstance(value, bool):
            return Q(**{self.field: value})
        return super().compare(op, value)

    def present(self):
        return Q()


@dataclass
class Attribute(_Column):
    """A single value kept in `attributes`: equality on the JSONB GIN index (`@>`)."""

    name: str
    key: str

    def compare(self, op, value):
        if op == Op.eq and isinstance(value, str):
            return Q(attributes__contains={self.key: [value]})
        return super().compare(op, value)


@dataclass
class Constant(_Column):
    """A sub-attribute with one possible value, such as the type of the one e-mail address: it
    matches whoever has the attribute at all."""

    name: str
    value: Any
    present_q: Q

    def compare(self, op, value):
        if op != Op.eq:
            return super().compare(op, value)
        same = value.lower() == self.value.lower() if isinstance(value, str) and isinstance(self.value, str) \
            else value == self.value
        return self.present_q if same else NOTHING

    def present(self):
        return self.present_q


@dataclass
class Membership(_Column):
    """Members of a group, or groups of a member, through the membership table's indexes."""

    name: str
    match: str  # the membership column compared with the value
    select: str  # the membership column that gives the rows' primary keys

    def compare(self, op, value):
        if op != Op.eq:
            return super().compare(op, value)
        try:
            value = uuid.UUID(str(value))
        except ValueError:
            return NOTHING
        return Q(pk__in=MEMBERSHIPS.objects.filter(**{self.match: value}).values(self.select))


def _email_present():
    return Q(email__isnull=False)


def _phone_present():
    return Q(phone_number__isnull=False)


USER_SCHEMA_PREFIX, GROUP_SCHEMA_PREFIX = f"{USER_SCHEMA}:", f"{GROUP_SCHEMA}:"
U, E, G = USER_SCHEMA_PREFIX, f"{ENTERPRISE_SCHEMA}:", GROUP_SCHEMA_PREFIX
# Single values that live in `attributes`, by SCIM URN: the attribute name is the SCIM name.
USER_ATTRIBUTES = {
    f"{U}displayName": "displayName", f"{U}nickName": "nickName", f"{U}title": "title", f"{U}userType": "userType",
    f"{U}preferredLanguage": "preferredLanguage", f"{U}locale": "locale", f"{U}timezone": "timezone",
    f"{E}employeeNumber": "employeeNumber", f"{E}costCenter": "costCenter", f"{E}organization": "organization",
    f"{E}division": "division", f"{E}department": "department", f"{E}manager.value": "manager",
}
USER_COLUMNS = {
    f"{U}id": Identifier("id"),
    f"{U}externalId": Text("externalId", "external_id"),
    f"{U}userName": Text("userName", "username", fold=str.lower, substrings=True),
    f"{U}name.givenName": Text("name.givenName", "first_name_lc", fold=str.lower, substrings=True),
    f"{U}name.familyName": Text("name.familyName", "last_name_lc", fold=str.lower, substrings=True),
    f"{U}active": Flag("active", "is_active"),
    f"{U}emails.value": Text("emails.value", "email", fold=str.lower, substrings=True),
    f"{U}emails.type": Constant("emails.type", "work", _email_present()),
    f"{U}emails.primary": Constant("emails.primary", True, _email_present()),
    f"{U}phoneNumbers.value": Text("phoneNumbers.value", "phone_number", normalise=services.normalise_phone),
    f"{U}phoneNumbers.type": Constant("phoneNumbers.type", "mobile", _phone_present()),
    f"{U}phoneNumbers.primary": Constant("phoneNumbers.primary", True, _phone_present()),
    f"{U}groups.value": Membership("groups.value", "group_id", "user_id"),
    **{urn: Attribute(urn.rpartition(":")[2], key) for urn, key in USER_ATTRIBUTES.items()},
}
# `emails pr` asks whether the multi-valued attribute has a value at all.
USER_PRESENCE = {f"{U}emails": _email_present(), f"{U}phoneNumbers": _phone_present(),
                 f"{U}name": Q(first_name__gt="") | Q(last_name__gt="")}
GROUP_COLUMNS = {
    f"{G}id": Identifier("id"),
    f"{G}externalId": Text("externalId", "external_id"),
    # Groups are few per tenant (they are not indexed by name): substrings are allowed.
    f"{G}displayName": Text("displayName", "name_lc", fold=str.lower, substrings=True),
    f"{G}members.value": Membership("members.value", "user_id", "group_id"),
}


class _FilterToQ(FilterVisitor[Q]):
    def __init__(self, scim_filter: ScimFilter, columns: dict, presence: dict, prefix: AttrPath | None = None):
        self.filter, self.columns, self.presence, self.prefix = scim_filter, columns, presence, prefix

    def _binding(self, path: AttrPath, comparison: bool):
        if self.prefix is not None:  # inside emails[...]: `value` is `emails.value`
            path = AttrPath(attr=self.prefix.attr, sub_attr=path.attr, uri=self.prefix.uri)
        resolve = self.filter.resolve_comparison if comparison else self.filter.resolve
        return resolve(path)

    def visit_comparison(self, node: Comparison) -> Q:
        if isinstance(node.value, str) and "\x00" in node.value:
            raise InvalidFilterException(detail="Filter values may not contain null characters.")
        binding = self._binding(node.attr_path, comparison=True)
        column = self.columns.get(binding.urn)
        if column is None:
            raise InvalidFilterException(detail=f"Filtering on {node.attr_path} is not supported.")
        return column.compare(node.op, coerce_value(binding, node.value, node.op))

    def visit_present(self, node: Present) -> Q:
        binding = self._binding(node.attr_path, comparison=False)
        urn = binding.urn
        if urn in self.presence:
            return self.presence[urn]
        if urn in self.columns:
            return self.columns[urn].present()
        raise InvalidFilterException(detail=f"'{node.attr_path} pr' is not supported.")

    def visit_not(self, node: Not) -> Q:
        return ~self.visit(node.expr)

    def visit_logical_expr(self, node: LogicalExpr) -> Q:
        return reduce(and_ if node.op == LogicalOperator.and_ else or_, (self.visit(term) for term in node.terms))

    def visit_value_path(self, node: ValuePath) -> Q:
        """Users hold one e-mail address and one phone number, so "an entry matching every
        condition" is the conditions on that one entry."""
        if self.prefix is not None or node.sub_attr:
            raise InvalidFilterException(detail=f"{node} is not a supported filter.")
        return _FilterToQ(self.filter, self.columns, self.presence, node.attr_path).visit(node.val_filter)




def user_filter(scim_filter: ScimFilter) -> Q:
    """Over users with `first_name_lc` and `last_name_lc` aliases (`queries.user_page`)."""
    return _FilterToQ(scim_filter, USER_COLUMNS, USER_PRESENCE).visit(scim_filter.ast)


def group_filter(scim_filter: ScimFilter) -> Q:
    """Over groups with a `name_lc` alias (`queries.group_queryset`)."""
    return _FilterToQ(scim_filter, GROUP_COLUMNS, {}).visit(scim_filter.ast)


UNIQUE_COLUMNS = {"username": "username", "external_id": "external_id", "email": "email", "pk": "id"}


def unique_key(scim_filter: ScimFilter) -> tuple[str, Any] | None:
    """`(column, value)` when a filter asks for the one user with a unique key, as Okta's and
    Entra's lookups do (`userName eq "…"`, `externalId eq "…"`): one indexed statement answers."""
    node = scim_filter.ast
    if not isinstance(node, Comparison) or node.op != Op.eq:
        return None
    q = _FilterToQ(scim_filter, USER_COLUMNS, USER_PRESENCE).visit(node)
    if q.negated or len(q.children) != 1 or not isinstance(q.children[0], tuple):
        return None
    field, value = q.children[0]
    return (UNIQUE_COLUMNS[field], value) if field in UNIQUE_COLUMNS else None
