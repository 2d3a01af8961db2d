"""`/scim/v2`: one Django view in front of scim2-server's handler.

The view authenticates the API client (its tenant is the request's tenant; it needs the `scim`
scope), turns the Django request into scim2-server's framework-free request, and its response
back. Every failure, authentication included, answers a SCIM error body
(`urn:ietf:params:scim:api:messages:2.0:Error`) as `application/scim+json`.
"""

import json
import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from scim2_models import ForbiddenException, PayloadTooLargeException, SCIMException, UnauthorizedException
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse

from identity.unavailable import BODY, DATABASE_ERRORS, log_database_down
from identity.unavailable import response_headers as unavailable_headers
from users import services

from .service import service as backend_service
from .storage import BackendStorage

SCOPE = "scim"
log = logging.getLogger(__name__)


@csrf_exempt
def endpoint(request, path: str):
    service = backend_service()
    try:
        client = _authenticate(request)
        scim_request = ScimRequest(
            method=request.method,
            base_url=request.build_absolute_uri(reverse("scim", kwargs={"path": ""})),
            path=path or "/",
            query=request.GET.dict(),
            headers=dict(request.headers),
            body=_body(request),
            subject=client,
        )
        models = {resource_type.name: service.get_model(resource_type)
                  for resource_type in service.provider.resource_types}
        response = ScimHandler(service, BackendStorage(client.tenant, models)).handle(scim_request)
    except SCIMException as error:
        response = service.error_response(error)
    except DATABASE_ERRORS as error:
        log_database_down(request, error)
        response = service.error_response(DatabaseUnavailable())
        response.headers.update(unavailable_headers())
    except Exception as error:
        log.exception("SCIM request failed: %s %s", request.method, request.path)
        response = service.error_response(error)
    return _http_response(response)


class DatabaseUnavailable(SCIMException):
    """The API's 503 for a database that is down, in SCIM's error shape (identity/unavailable.py)."""

    status = 503
    _default_detail = BODY["message"]


def _authenticate(request):
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedException(detail="Send an API client token: 'Authorization: Bearer <token>'.")
    client = services.authenticate_api_client(token.strip())
    if client is None:
        raise UnauthorizedException(detail="This token is unknown or revoked; ask an operator for a new one.")
    if SCOPE not in client.scopes:
        raise ForbiddenException(detail=f"This API client lacks the '{SCOPE}' scope.")
    refused = services.writes_refused(client.tenant)
    if refused:  # the operators' tenant is managed in the admin alone
        raise ForbiddenException(detail=refused)
    request.auth = client  # the audit trail's actor
    return client


def _body(request) -> bytes:
    try:
        return request.body
    except RequestDataTooBig:
        raise PayloadTooLargeException(detail="The request body is too large.") from None


def _http_response(response: ScimResponse) -> HttpResponse:
    body = b"" if response.body is None else json.dumps(response.body).encode()
    http = HttpResponse(body, status=response.status.value)
    for name, value in response.headers.items():
        http[name] = value
    return http
