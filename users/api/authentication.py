"""Service clients authenticate with `Authorization: Bearer <api client token>`.

`request.auth` is the credential: it carries the tenant and the scopes of the request.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from identity.api.authentication import bearer_token
from users import services


class ServicePrincipal:
    """`request.user` for a machine caller: authenticated, but not a person."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, client):
        self.client = client
        self.pk = None

    def __str__(self):
        return f"api-client:{self.client.name}"


class ApiClientAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        token = bearer_token(request)
        if token is None or not token.startswith(services.TOKEN_PREFIX):
            return None  # a person's access token: KeycloakTokenAuthentication checks it
        client = services.authenticate_api_client(token)
        if client is None:
            raise exceptions.AuthenticationFailed("This token is unknown or revoked; ask an operator for a new one.")
        return ServicePrincipal(client), client

    def authenticate_header(self, request):
        return 'Bearer realm="identity"'


class ApiClientAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiClientAuthentication
    name = "apiClientToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API client token (`idb_…`)."}


def request_tenant(request):
    return request.auth.tenant
