"""People calling `/v1` with the access token Keycloak gave them (`Authorization: Bearer <jwt>`).

The token is checked locally (`keycloak_bridge.tokens`); the person is the backend user whose id is
the token's `sub`, in the tenant whose realm issued it. Nobody is ever created from a token, and a
deactivated user's tokens stop working at once. What a person may do comes from their backend
roles, read with the user row, so a role taken away counts at once, not when the token expires.
"""

import logging

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from identity.api.authentication import bearer_token
from keycloak_bridge import tokens
from users import queries
from users.models import User

logger = logging.getLogger(__name__)

# Backend role -> API scopes it grants within the person's own tenant. Everyone else has none:
# they reach /v1/me and the public routes only.
ROLE_SCOPES = {
    "admin": frozenset({"users:read", "users:write", "profiles:read", "profiles:write", "audit:read"}),
}


class PersonCredential:
    """`request.auth` for a person: the tenant and scopes of the request, and the token's claims."""

    def __init__(self, user: User, roles: list[str], claims: dict):
        self.user = user
        self.tenant = user.tenant
        self.tenant_id = user.tenant_id
        self.roles = roles
        self.claims = claims
        self.scopes = frozenset().union(*(ROLE_SCOPES.get(role, ()) for role in roles))


class KeycloakTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        token = bearer_token(request)
        if token is None:
            return None
        try:
            tenant_id, claims = tokens.verify(token)
        except tokens.InvalidToken as error:
            logger.info("bearer token refused: %s", error)
            raise exceptions.AuthenticationFailed(
                "This token is invalid or expired; sign in again to get a new one.") from None
        user = queries.active_person(tenant_id, claims["sub"])
        if user is None:
            raise exceptions.AuthenticationFailed("This account is unknown or deactivated.")
        return user, PersonCredential(user, list(user.role_names), claims)

    def authenticate_header(self, request):
        return 'Bearer realm="identity"'


class KeycloakTokenScheme(OpenApiAuthenticationExtension):
    target_class = KeycloakTokenAuthentication
    name = "keycloakAccessToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "An access token from the tenant's Keycloak realm (audience `identity-api`)."}
