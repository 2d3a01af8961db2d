"""`/v1/groups` (nested, addressed by id, shown by path) and a user's group memberships."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response

from identity.api.errors import ERRORS, conflict
from identity.api.pagination import PAGING_PARAMS
from identity.api.serializers import CountSerializer
from identity.api.viewsets import TenantViewSet
from users import queries, search, services
from users.api.ordering import OrderedPagination
from users.api.serializers import GroupPathsSerializer, GroupSerializer, UserSerializer
from users.models import Group

FILTERS = {
    "id": OpenApiParameter("id", OpenApiTypes.UUID, many=True, description=search.GROUP_PARAMS["id"]),
    "path": OpenApiParameter("path", OpenApiTypes.STR, many=True, description=search.GROUP_PARAMS["path"]),
    "name": OpenApiParameter("name", {"type": "string", "minLength": 1, "maxLength": search.MAX_VALUE_LENGTH},
                             description=search.GROUP_PARAMS["name"]),
    "like": OpenApiParameter("like", OpenApiTypes.BOOL, description=search.GROUP_PARAMS["like"]),
    "member": OpenApiParameter("member", OpenApiTypes.UUID, description=search.GROUP_PARAMS["member"]),
}
ORDER_PARAM = OpenApiParameter(
    "order", OpenApiTypes.STR, enum=[f"{sign}{name}" for name in search.GROUP_ORDERS for sign in ("", "-")],
    description=search.GROUP_PARAMS["order"])


@extend_schema_view(
    list=extend_schema(summary="List groups", parameters=[*FILTERS.values(), ORDER_PARAM],
                       responses={200: GroupSerializer(many=True), **ERRORS}),
    create=extend_schema(summary="Create a group", responses={201: GroupSerializer, **ERRORS, **conflict("A group of this name exists under this parent.")}),
    retrieve=extend_schema(summary="Get a group", responses={200: GroupSerializer, **ERRORS}),
    destroy=extend_schema(summary="Delete a group and its subgroups", responses={204: None, **ERRORS}),
)
class GroupViewSet(
    TenantViewSet, mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin
):
    serializer_class = GroupSerializer
    pagination_class = OrderedPagination
    cursor_field = "path"
    ordering = None

    def get_queryset(self):
        if self.action == "list":
            query = self.request.query_params
            self.ordering = search.ordering(query.get("order"), search.GROUP_ORDERS, "path")
            return search.search_groups(self.tenant, search.group_criteria_from_query(query, PAGING_PARAMS | {"order"}))
        return Group.objects.filter(tenant=self.tenant)

    @extend_schema(summary="Count groups matching the list's filters", operation_id="groups_count",
                   parameters=list(FILTERS.values()), responses={200: CountSerializer, **ERRORS})
    def count(self, request):
        criteria = search.group_criteria_from_query(request.query_params)
        return Response({"count": search.count_groups(self.tenant, criteria)})

    def perform_destroy(self, instance):
        services.delete_group(instance)

    @extend_schema(summary="Members of a group", operation_id="groups_members", responses={200: UserSerializer(many=True), **ERRORS})
    def members(self, request, pk):
        self.cursor_field = "username"
        group = self.get_object()
        page = self.paginate_queryset(queries.user_queryset().filter(tenant=self.tenant, identity_groups=group))
        return self.get_paginated_response(UserSerializer(page, many=True).data)


class UserGroupViewSet(TenantViewSet):
    def _group(self, group_id):
        return get_object_or_404(Group.objects.filter(tenant=self.tenant), pk=group_id)

    @extend_schema(summary="Replace a user's groups", operation_id="users_groups_replace", description="Groups are given by path.",
                   request=GroupPathsSerializer, responses={200: UserSerializer, **ERRORS})
    def replace(self, request, pk):
        user = queries.tenant_user(self.tenant, pk)
        serializer = GroupPathsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.set_user_groups(user, serializer.validated_data["groups"])
        return Response(UserSerializer(queries.user_with_memberships(self.tenant, user.pk)).data)

    @extend_schema(summary="Add a user to a group", operation_id="users_groups_add", request=None, responses={204: None, **ERRORS})
    def add(self, request, pk, group_id):
        services.add_user_group(queries.tenant_user(self.tenant, pk), self._group(group_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Remove a user from a group", operation_id="users_groups_remove", request=None, responses={204: None, **ERRORS})
    def remove(self, request, pk, group_id):
        services.remove_user_group(queries.tenant_user(self.tenant, pk), self._group(group_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
