"""`/v1/roles` and a user's roles (the former GraphQL API's createRole … removeRoleFromUser, and the admin API's update-roles)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response

from identity.api.errors import ERRORS, conflict
from identity.api.viewsets import TenantViewSet
from users import queries, services
from users.api.serializers import RoleNamesSerializer, RoleSerializer, UserSerializer
from users.models import Role


@extend_schema_view(
    list=extend_schema(summary="List roles", responses={200: RoleSerializer(many=True), **ERRORS}),
    create=extend_schema(summary="Create a role", responses={201: RoleSerializer, **ERRORS, **conflict("A role of this name exists.")}),
    destroy=extend_schema(summary="Delete a role", responses={204: None, **ERRORS}),
)
class RoleViewSet(TenantViewSet, mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin):
    serializer_class = RoleSerializer
    cursor_field = "name"
    lookup_field = "name"

    def get_queryset(self):
        return Role.objects.filter(tenant=self.tenant)

    def perform_destroy(self, instance):
        services.delete_role(instance)


class UserRoleViewSet(TenantViewSet):
    def _role(self, name):
        return get_object_or_404(Role.objects.filter(tenant=self.tenant), name=name)

    @extend_schema(summary="Replace a user's roles", operation_id="users_roles_replace", request=RoleNamesSerializer,
                   responses={200: UserSerializer, **ERRORS})
    def replace(self, request, pk):
        user = queries.tenant_user(self.tenant, pk)
        serializer = RoleNamesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.set_user_roles(user, serializer.validated_data["roles"])
        return Response(UserSerializer(queries.user_with_memberships(self.tenant, user.pk)).data)

    @extend_schema(summary="Give a user a role", operation_id="users_roles_add", request=None, responses={204: None, **ERRORS})
    def add(self, request, pk, name):
        services.add_user_role(queries.tenant_user(self.tenant, pk), self._role(name))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Take a role from a user", operation_id="users_roles_remove", request=None, responses={204: None, **ERRORS})
    def remove(self, request, pk, name):
        services.remove_user_role(queries.tenant_user(self.tenant, pk), self._role(name))
        return Response(status=status.HTTP_204_NO_CONTENT)
