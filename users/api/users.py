"""`/v1/users`: CRUD, Keycloak-style search and count, lifecycle and login tracking."""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from identity.api.errors import ERRORS, conflict
from identity.api.pagination import PAGING_PARAMS, page_limit
from identity.api.serializers import CountSerializer
from identity.api.viewsets import TenantViewSet
from users import queries, search, services
from users.api.ordering import OrderedPagination
from users.api.serializers import RecordLoginSerializer, UserCreateSerializer, UserLoginSerializer, UserSerializer
from users.models import UserLogin

CONFLICT = conflict("Username, email, phone or id already taken.")
SEARCH_PARAMS = [
    *(OpenApiParameter(name, {"type": "string", "minLength": 1, "maxLength": search.MAX_VALUE_LENGTH}, description=text)
      for name, text in search.TEXT_PARAMS.items()),
    *(OpenApiParameter(name, OpenApiTypes.BOOL, description=text) for name, text in search.FLAG_PARAMS.items()),
    *(OpenApiParameter(name, OpenApiTypes.UUID if name != "username_in" else OpenApiTypes.STR, many=True,
                       description=text) for name, (_, text) in search.LIST_PARAMS.items()),
    OpenApiParameter("attr.<name>", OpenApiTypes.STR,
                     description="Custom attribute equality, e.g. `attr.department=sales`."),
    OpenApiParameter("group", OpenApiTypes.STR, many=True,
                     description="Members of this group path; repeat for any of several groups."),
]


ORDER_PARAM = OpenApiParameter(
    "order", OpenApiTypes.STR, enum=[f"{sign}{name}" for name in search.USER_ORDERS for sign in ("", "-")],
    description="Order of the page (default `username`), ties by username; paged by `first`/`offset`.")


def search_criteria(request) -> search.UserCriteria:
    return search.criteria_from_query(request.query_params, ignore=PAGING_PARAMS | {"order"})


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
    pagination_class = OrderedPagination
    cursor_field = "username"
    ordering = None
    sign_in_actions = frozenset({"record_login"})  # Keycloak records operators' logins too

    def get_queryset(self):
        return queries.user_queryset().filter(tenant=self.tenant)

    def get_object(self):
        if self.action != "retrieve":
            return super().get_object()
        user = queries.user_with_memberships(self.tenant, self.kwargs["pk"])
        if user is None:
            raise Http404("No User matches the given query.")
        self.check_object_permissions(self.request, user)
        return user

    def paginate_queryset(self, queryset, keys_first=False, matches_first=False):
        """Pages whose keys come first fetch their rows with one statement built once, rather than
        the page's query compiled again with the keys added."""
        return self.paginator.paginate_queryset(
            queryset, self.request, self, keys_first=keys_first, matches_first=matches_first,
            rows_for_keys=lambda usernames, using: queries.users_by_keys(self.tenant, "username", usernames, using))

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
        parameters=[*SEARCH_PARAMS, ORDER_PARAM],
        responses={200: UserSerializer(many=True), **ERRORS},
    )
    def search(self, request):
        criteria = search_criteria(request)
        self.ordering = search.ordering(request.query_params.get("order"), search.USER_ORDERS, "username")
        lookup = criteria.unique_key()
        if lookup and self._first_page(request) and page_limit(request) > 0:
            page = self.paginator.complete_page(request, queries.users_by_key(self.tenant, *lookup))
        else:
            queryset = search.search_users(self.tenant, criteria, queries.user_queryset())
            page = self.paginate_queryset(queryset, keys_first=criteria.matches_text(),
                                          matches_first=search.pages_by_matches(criteria, queryset))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @staticmethod
    def _first_page(request) -> bool:
        query = request.query_params
        return "cursor" not in query and all(query.get(name, "0") == "0" for name in ("first", "offset"))

    @extend_schema(
        summary="Count users matching a search", operation_id="users_count",
        description="Takes the filters of `:search`. Keycloak calls it when it pages across providers.",
        parameters=SEARCH_PARAMS,
        responses={200: CountSerializer, **ERRORS},
    )
    def count(self, request):
        if "order" in request.query_params:
            raise ValidationError({"order": ["Unknown parameter."]})
        return Response({"count": search.count_users(self.tenant, search_criteria(request))})

    @extend_schema(summary="Deactivate a user", operation_id="users_deactivate", request=None, responses={200: UserSerializer, **ERRORS})
    def deactivate(self, request, pk):
        return Response(UserSerializer(services.deactivate_user(self.get_object())).data)

    @extend_schema(summary="Reactivate a user", operation_id="users_reactivate", request=None, responses={200: UserSerializer, **ERRORS})
    def reactivate(self, request, pk):
        return Response(UserSerializer(services.reactivate_user(self.get_object())).data)

    @extend_schema(summary="Record a login", operation_id="users_record_login", request=RecordLoginSerializer, responses={204: None, **ERRORS})
    def record_login(self, request, pk):
        user = queries.tenant_user(self.tenant, pk)
        serializer = RecordLoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.record_login(user, **serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Record a registration", operation_id="users_record_registration",
                   description="Keycloak's REGISTER event for a user it created: published on `keycloak.events`.",
                   request=RecordLoginSerializer, responses={204: None, **ERRORS})
    def record_registration(self, request, pk):
        user = queries.tenant_user(self.tenant, pk)
        serializer = RecordLoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.record_registration(user, **serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Last login of a user", operation_id="users_last_login", responses={200: UserLoginSerializer, **ERRORS})
    def last_login(self, request, pk):
        login = UserLogin.objects.filter(user=queries.tenant_user(self.tenant, pk)).first()
        if login is None:
            return Response(
                {"code": "not_found", "message": "This user has not logged in yet."}, status=status.HTTP_404_NOT_FOUND
            )
        return Response(UserLoginSerializer(login).data)
