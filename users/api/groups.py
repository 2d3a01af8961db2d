"""`/v1/groups` (nested, addressed by id, shown by path) and a user's group memberships."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from identity.api.errors import ERRORS, conflict
from identity.api.pagination import PAGING_PARAMS
from identity.api.viewsets import TenantViewSet
from users import queries, services
from users.api.serializers import GroupPathsSerializer, GroupSerializer, UserSerializer
from users.models import Group


@extend_schema_view(
    list=extend_schema(summary="List groups", parameters=[OpenApiParameter("path", str, description="Exact path.")],
                       responses={200: GroupSerializer(many=True), **ERRORS}),
    create=extend_schema(summary="Create a group", responses={201: GroupSerializer, **ERRORS, **conflict("A group of this name exists under this parent.")}),
    retrieve=extend_schema(summary="Get a group", responses={200: GroupSerializer, **ERRORS}),
    destroy=extend_schema(summary="Delete a group and its subgroups", responses={204: None, **ERRORS}),
)
class GroupViewSet(
    TenantViewSet, mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin
):
    serializer_class = GroupSerializer
    cursor_field = "path"

    def get_queryset(self):
        queryset = Group.objects.filter(tenant=self.tenant)
        if self.action == "list":
            unknown = sorted(set(self.request.query_params) - PAGING_PARAMS - {"path"})
            if unknown:
                raise ValidationError({name: ["Unknown parameter."] for name in unknown})
            if "path" in self.request.query_params:
                queryset = queryset.filter(path=self.request.query_params["path"])
        return queryset

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
