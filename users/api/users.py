"""`/v1/users`: CRUD, Keycloak-style search and count, lifecycle and login tracking."""

from functools import cache

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import Prefetch
from django.db.models.expressions import RawSQL
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from users import search, services
from users.api.base import TenantViewSet
from users.api.errors import ErrorSerializer
from users.api.pagination import PAGING_PARAMS, page_limit
from users.api.serializers import (
    CountSerializer,
    RecordLoginSerializer,
    UserCreateSerializer,
    UserLoginSerializer,
    UserSearchParamsSerializer,
    UserSerializer,
)
from users.models import Group, Role, User, UserLogin

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; `fields` says what to correct."),
    401: OpenApiResponse(ErrorSerializer, description="No or bad credential."),
    403: OpenApiResponse(ErrorSerializer, description="The credential lacks the scope."),
    404: OpenApiResponse(ErrorSerializer, description="No such object in the caller's tenant."),
}
CONFLICT = {409: OpenApiResponse(ErrorSerializer, description="Username, email, phone or id already taken.")}
SEARCH_EXTRAS = [
    OpenApiParameter("attr.<name>", OpenApiTypes.STR,
                     description="Custom attribute equality, e.g. `attr.department=sales`."),
    OpenApiParameter("group", OpenApiTypes.STR, many=True,
                     description="Members of this group path; repeat for any of several groups."),
]


def user_queryset():
    """Users with their role names and group paths.

    On PostgreSQL both come as array subqueries of the one user query, written once as SQL: built
    with ORM subquery expressions they cost more to compile, on every request, than the query costs
    to run. Elsewhere they are prefetched (three queries for any page size).
    """
    if connection.vendor == "postgresql":
        roles, groups = _membership_sql()
        return User.objects.annotate(role_names=RawSQL(roles, ()), group_paths=RawSQL(groups, ()))
    return User.objects.prefetch_related(
        Prefetch("roles", queryset=Role.objects.only("id", "name")),
        Prefetch("identity_groups", queryset=Group.objects.only("id", "path")),
    )


@cache
def _membership_sql() -> tuple[str, str]:
    """`ARRAY(SELECT name …)` of the outer user's roles and of its groups' paths, sorted."""
    user = connection.ops.quote_name(User._meta.db_table)

    def names_of(field_name, column):
        field = User._meta.get_field(field_name)
        through = field.remote_field.through._meta
        target = field.related_model._meta
        q = connection.ops.quote_name
        return (f"ARRAY(SELECT t.{q(column)} FROM {q(target.db_table)} t JOIN {q(through.db_table)} m "
                f"ON m.{q(field.m2m_reverse_name())} = t.{q(target.pk.column)} "
                f"WHERE m.{q(field.m2m_column_name())} = {user}.{q(User._meta.pk.column)} ORDER BY t.{q(column)})")

    return names_of("roles", "name"), names_of("identity_groups", "path")


def users_by_key(tenant, column: str, value) -> list[User]:
    """The tenant's users whose unique `column` (id, username or email) equals `value`: none or
    one, with role names and group paths. PostgreSQL only.

    One statement written once: for a lookup, compiling the ORM query costs three times what
    running it does, and lookups are what Keycloak's provider calls most.
    """
    return list(User.objects.raw(_by_key_sql(column, "= %s"), [tenant.pk, value]))


def users_by_keys(tenant, column: str, values: list) -> list[User]:
    """`users_by_key` for several values of the unique `column`, in the order of `values`."""
    users = {getattr(user, column): user
             for user in User.objects.raw(_by_key_sql(column, "= ANY(%s)"), [tenant.pk, list(values)])}
    return [users[value] for value in values if value in users]


@cache
def _by_key_sql(column: str, condition: str) -> str:
    q = connection.ops.quote_name
    user = q(User._meta.db_table)
    columns = ", ".join(f"{user}.{q(f.column)}" for f in User._meta.concrete_fields)
    roles, groups = _membership_sql()
    return (f"SELECT {columns}, {roles} AS role_names, {groups} AS group_paths FROM {user} "
            f"WHERE {user}.{q(User._meta.get_field('tenant').column)} = %s AND {user}.{q(column)} {condition}")


LOOKUP_PARAMS = {"username", "email", "phone_number", "q", "exact", "first", "offset", "max", "limit"}


def _unique_key_lookup(query) -> tuple[str, str] | None:
    """`(column, value)` when a search asks only for the user with one exact username, e-mail or
    phone number (Keycloak's getUserByUsername/ByEmail, the provider's phone search), from the
    first row: such a result is complete, one user or none. Anything else, including anything
    invalid, takes the general path, which answers it or says what is wrong."""
    if any(name not in LOOKUP_PARAMS for name in query) or any(
            query.get(name, "0") != "0" for name in ("first", "offset")):
        return None
    given = {name: query[name] for name in ("username", "email", "phone_number") if name in query}
    if "q" in query:  # Keycloak's attribute query, as `q=phone_number:<number>` alone
        pairs = query["q"].split()
        name, _, value = pairs[0].partition(":") if len(pairs) == 1 else ("", "", "")
        if name != "phone_number" or not value or name in given:
            return None
        given[name] = value
    if len(given) != 1:
        return None
    (column, value), = given.items()
    value = value.strip()
    if not value or "\x00" in value:
        return None
    if column == "phone_number":
        if "exact" in query:
            return None
        try:
            return column, services.normalise_phone(value)
        except DjangoValidationError:
            return None
    return (column, value.lower()) if query.get("exact") == "true" else None


def _search_criteria(request) -> search.UserCriteria:
    query = request.query_params
    params = {k: v for k, v in query.items() if k not in PAGING_PARAMS and k != "group" and not k.startswith("attr.")}
    attributes = {k[len("attr."):]: v for k, v in query.items() if k.startswith("attr.")}
    serializer = UserSearchParamsSerializer(data=params, context={"attributes": attributes})
    serializer.is_valid(raise_exception=True)
    criteria = serializer.to_criteria()
    criteria.groups = query.getlist("group")
    return criteria


@extend_schema_view(
    list=extend_schema(summary="List users", description="Ordered by username; no total count is computed.",
                       responses={200: UserSerializer(many=True), **ERRORS}),
    create=extend_schema(summary="Create a user", request=UserCreateSerializer,
                         responses={201: UserSerializer, **ERRORS, **CONFLICT}),
    retrieve=extend_schema(summary="Get a user", responses={200: UserSerializer, **ERRORS}),
    update=extend_schema(summary="Replace a user", description="Writable fields not given return to defaults.",
                         responses={200: UserSerializer, **ERRORS, **CONFLICT}),
    partial_update=extend_schema(summary="Change some fields of a user",
                                 responses={200: UserSerializer, **ERRORS, **CONFLICT}),
    destroy=extend_schema(summary="Delete a user", responses={204: None, **ERRORS}),
)
class UserViewSet(
    TenantViewSet,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
):
    serializer_class = UserSerializer
    cursor_field = "username"

    def get_queryset(self):
        return user_queryset().filter(tenant=self.tenant)

    def get_object(self):
        if self.action != "retrieve" or connection.vendor != "postgresql":
            return super().get_object()
        users = users_by_key(self.tenant, User._meta.pk.column, self.kwargs["pk"])
        if not users:
            raise Http404("No User matches the given query.")
        self.check_object_permissions(self.request, users[0])
        return users[0]

    def rows_for_keys(self, usernames):
        """A page's rows once its keys are known (see KeysetOrOffsetPagination.rows): one statement
        built once, rather than the page's query compiled again with the keys added."""
        return users_by_keys(self.tenant, "username", usernames) if connection.vendor == "postgresql" else None

    def get_serializer_class(self):
        return UserCreateSerializer if self.action == "create" else UserSerializer

    def list(self, request, *args, **kwargs):
        unknown = sorted(set(request.query_params) - PAGING_PARAMS)
        if unknown:
            raise ValidationError({name: ["Unknown parameter; filters belong to /v1/users:search."] for name in unknown})
        return super().list(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.delete_user(instance)

    @extend_schema(
        summary="Search users by attributes", operation_id="users_search",
        description=(
            "Keycloak's search semantics. `search`: `foo`/`foo*` prefix, `*foo*` substring, `\"foo\"` exact, `*` "
            "everyone, over username, email, first and last name; several words must all match. Field filters "
            "match a substring, or the whole value with `exact=true`. Substrings under 3 characters match as "
            "prefixes (no index can serve shorter substrings)."
        ),
        parameters=[UserSearchParamsSerializer, *SEARCH_EXTRAS],
        responses={200: UserSerializer(many=True), **ERRORS},
    )
    def search(self, request):
        lookup = _unique_key_lookup(request.query_params) if connection.vendor == "postgresql" else None
        if lookup and page_limit(request) > 0:
            page = self.paginator.complete_page(request, users_by_key(self.tenant, *lookup))
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        criteria = _search_criteria(request)
        # Text that may match many users: the page's keys come from the covering index first.
        self.keys_first = bool((criteria.search or "").strip(' *')) or (not criteria.exact and any(
            getattr(criteria, name) for name in search.TEXT_FIELDS))
        queryset = search.search_users(self.tenant, criteria, user_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Count users matching a search", operation_id="users_count",
        description="Takes the filters of `:search`. Keycloak calls it when it pages across providers.",
        parameters=[UserSearchParamsSerializer, *SEARCH_EXTRAS],
        responses={200: CountSerializer, **ERRORS},
    )
    def count(self, request):
        return Response({"count": search.count_users(self.tenant, _search_criteria(request))})

    @extend_schema(summary="Deactivate a user", operation_id="users_deactivate", request=None, responses={200: UserSerializer, **ERRORS})
    def deactivate(self, request, pk):
        return Response(UserSerializer(services.deactivate_user(self.get_object())).data)

    @extend_schema(summary="Reactivate a user", operation_id="users_reactivate", request=None, responses={200: UserSerializer, **ERRORS})
    def reactivate(self, request, pk):
        return Response(UserSerializer(services.reactivate_user(self.get_object())).data)

    @extend_schema(summary="Record a login", operation_id="users_record_login", request=RecordLoginSerializer, responses={204: None, **ERRORS})
    def record_login(self, request, pk):
        user = self.tenant_user(pk)
        serializer = RecordLoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.record_login(user, **serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Last login of a user", operation_id="users_last_login", responses={200: UserLoginSerializer, **ERRORS})
    def last_login(self, request, pk):
        login = UserLogin.objects.filter(user=self.tenant_user(pk)).first()
        if login is None:
            return Response(
                {"code": "not_found", "message": "This user has not logged in yet."}, status=status.HTTP_404_NOT_FOUND
            )
        return Response(UserLoginSerializer(login).data)
