"""A user's Keycloak sessions: listed, and ended everywhere (`/v1/users/{id}/sessions`, `:logout`)."""

import logging

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from identity.api.errors import ERRORS, ErrorSerializer
from identity.api.viewsets import TenantViewSet
from keycloak_bridge import sessions as keycloak_sessions
from users import queries
from users.models import User

log = logging.getLogger(__name__)
UNAVAILABLE = {503: OpenApiResponse(ErrorSerializer, description="Keycloak could not be reached; try again.")}


class KeycloakUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "keycloak_unavailable"
    default_detail = "Keycloak could not be reached; try again."


class SessionSerializer(serializers.Serializer):
    id = serializers.CharField()
    started_at = serializers.DateTimeField()
    last_access_at = serializers.DateTimeField()
    ip_address = serializers.CharField(allow_blank=True)
    clients = serializers.ListField(child=serializers.CharField(), help_text="The clientIds of the session.")
    offline = serializers.BooleanField(help_text="An offline session: it outlives sign-outs of the browser.")


class UserSessionViewSet(TenantViewSet):
    """Keycloak keeps sessions: these calls ask the tenant's realm, through its admin API."""

    queryset = User.objects.none()  # for the schema's path parameter; users are found per tenant
    pagination_class = None  # one user's sessions, as Keycloak lists them: few, and never paged there

    @extend_schema(
        summary="List a user's Keycloak sessions", operation_id="users_sessions",
        description="Regular sessions, then offline ones. A tenant without a Keycloak realm has none.",
        responses={200: SessionSerializer(many=True), **ERRORS, **UNAVAILABLE},
    )
    def list_sessions(self, request, pk):
        user = queries.tenant_user(self.tenant, pk)
        try:
            found = keycloak_sessions.list_sessions(self.tenant, user.pk)
        except keycloak_sessions.KeycloakUnavailable as error:
            log.error("Tenant %s: %s", self.tenant.slug, error)
            raise KeycloakUnavailable() from error
        return Response(SessionSerializer(found, many=True).data)

    @extend_schema(
        summary="Sign a user out everywhere", operation_id="users_logout",
        description="Ends every Keycloak session of the user and revokes their offline tokens: every refresh "
                    "token they hold is refused. Idempotent.",
        request=None, responses={204: None, **ERRORS, **UNAVAILABLE},
    )
    def logout(self, request, pk):
        user = queries.tenant_user(self.tenant, pk)
        try:
            keycloak_sessions.end_sessions(self.tenant, user.pk)
        except keycloak_sessions.KeycloakUnavailable as error:
            log.error("Tenant %s: %s", self.tenant.slug, error)
            raise KeycloakUnavailable() from error
        return Response(status=status.HTTP_204_NO_CONTENT)
