"""Passwords: only this backend stores and checks them (Keycloak asks through the provider)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from identity.api.errors import ERRORS, ErrorSerializer
from identity.api.viewsets import TenantViewSet
from users import queries, services
from users.api.serializers import (
    PasswordSerializer,
    RedeemResetSerializer,
    ResetPasswordRequestSerializer,
    ResetTokenSerializer,
    VerifyResultSerializer,
)
from users.api.throttling import PerUserCredentialThrottle


def _valid(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class CredentialViewSet(TenantViewSet):
    action_scopes = {"verify": "credentials:verify"}
    sign_in_actions = frozenset({"verify"})  # Keycloak checks operators' passwords too

    def get_throttles(self):
        return [PerUserCredentialThrottle()] if self.action == "verify" else []

    @extend_schema(summary="Set a user's password", operation_id="users_set_password", request=PasswordSerializer, responses={204: None, **ERRORS})
    def set_password(self, request, pk):
        user = queries.tenant_user(self.tenant, pk)
        services.set_password(user, _valid(PasswordSerializer, request)["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Check a user's password", operation_id="users_verify_password",
        description="Constant-time; throttled per user (429 with Retry-After). Deactivated users never pass.",
        request=PasswordSerializer,
        responses={200: VerifyResultSerializer, 429: OpenApiResponse(ErrorSerializer), **ERRORS},
    )
    def verify(self, request, pk):
        user = queries.tenant_user(self.tenant, pk)
        password = _valid(PasswordSerializer, request)["password"]
        return Response({"valid": services.verify_password(user, password)})

    @extend_schema(
        summary="Issue a password-reset token", operation_id="users_reset_password",
        description="Single use; lives `ttl_seconds` (1 hour by default, 24 hours at most). The token is shown once.",
        request=ResetPasswordRequestSerializer,
        responses={201: ResetTokenSerializer, **ERRORS},
    )
    def reset_password(self, request, pk):
        user = queries.tenant_user(self.tenant, pk)
        data = _valid(ResetPasswordRequestSerializer, request)
        token, reset = services.issue_password_reset(user, data.get("ttl_seconds"))
        return Response({"token": token, "expires_at": reset.expires_at}, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Spend a password-reset token", operation_id="password_resets_redeem",
        description="Sets the new password; the token then never works again.",
        request=RedeemResetSerializer,
        responses={204: None, **ERRORS},
    )
    def redeem(self, request):
        data = _valid(RedeemResetSerializer, request)
        services.redeem_password_reset(self.tenant, data["token"], data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)
