"""`/v1/me`: the former GraphQL API's whoAmI and updateUser, for a person signed in with Keycloak."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from identity.api.errors import ERRORS
from users import queries, services
from users.api.serializers import UserSerializer
from users.api.users import CONFLICT
from users.models import User


class IsPerson(BasePermission):
    """A person signed in with Keycloak; operators (people of the operators' tenant) read only, as
    they are managed in the admin."""

    message = "/v1/me is for people signed in with Keycloak; a service reads /v1/users/{id}."

    def has_permission(self, request, view):
        if request.auth is None:
            return False
        reason = services.writes_refused(request.auth.tenant) if request.method not in SAFE_METHODS else None
        if reason:  # the tenant decides first, as on every other route (identity.api.viewsets)
            self.message, self.code = reason, "managed_in_admin"
            return False
        return isinstance(request.user, User)


class MeSerializer(UserSerializer):
    """The fields a person may change about themselves; roles, activation and verification flags
    are not among them. A new email or phone number is pending until a proof of it promotes it:
    in the same request, or later with the proof alone."""

    class Meta(UserSerializer.Meta):
        fields = sorted(services.SELF_EDITABLE_FIELDS) + sorted(services.PROOF_FIELDS.values())
        read_only_fields = []

    to_representation = serializers.ModelSerializer.to_representation  # its own fields, not UserSerializer's

    def validate(self, attrs):
        self.proven = self.proven_values(attrs)
        return attrs

    def update(self, instance, validated_data):
        return services.update_own_profile(instance, validated_data, proven=self.proven)


class MeView(APIView):
    permission_classes = [IsPerson]

    def _me(self):
        return queries.user_with_memberships(self.request.auth.tenant, self.request.user.pk)

    @extend_schema(summary="Who am I", operation_id="me_get", responses={200: UserSerializer, **ERRORS})
    def get(self, request):
        return Response(UserSerializer(self._me()).data)

    @extend_schema(summary="Change my own profile", operation_id="me_update", request=MeSerializer,
                   responses={200: UserSerializer, **ERRORS, **CONFLICT})
    def patch(self, request):
        serializer = MeSerializer(request.user, data=request.data, partial=True, context={"tenant": request.auth.tenant})
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(UserSerializer(self._me()).data)
