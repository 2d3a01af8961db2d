"""Every request gets an id and an audit origin: who (from its credential), from where, which request.

`X-Request-ID` is taken from the request when it is a sane token (a proxy's or a caller's id,
so that logs and audit rows of one call can be joined), else a new one is made; either way it is
echoed on the response. The IP is the one the throttles count (`client_ip`): the connection's, or
past TRUSTED_PROXY_COUNT of our own proxies, the address the first of them saw.

The actor is resolved when a change is recorded, from what authentication left on the request:
DRF's authentication sets `request.user` and `request.auth` on the Django request too.
"""

import ipaddress
import re
import uuid

from keycloak_bridge import PROVIDER_CLIENT_NAME
from users.api.throttling import client_ip
from users.models import ApiClient, User

from . import context
from .models import ActorKind

HEADER = "X-Request-ID"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def request_id_of(request) -> str:
    given = request.headers.get(HEADER, "")
    return given if REQUEST_ID.match(given) else uuid.uuid4().hex


def ip_of(request) -> str | None:
    address = client_ip(request) or ""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:  # a unix socket, or no address at all
        return None


def actor_of(request) -> context.Actor:
    """The API client (Keycloak's provider is one, by name), the person of a Keycloak token, or the
    operator signed in to the admin."""
    credential = getattr(request, "auth", None)
    user = getattr(request, "user", None)
    if isinstance(credential, ApiClient):
        kind = ActorKind.KEYCLOAK if credential.name == PROVIDER_CLIENT_NAME else ActorKind.API_CLIENT
        return context.Actor(kind, str(credential.pk), credential.name)
    if isinstance(user, User) and user.is_authenticated:
        kind = ActorKind.PERSON if credential is not None else ActorKind.OPERATOR
        return context.Actor(kind, str(user.pk), user.username)
    return context.Actor(ActorKind.SYSTEM, "", "anonymous request")


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_of(request)
        with context.acting(lambda: actor_of(request), ip=ip_of(request),
                            request_id=request.request_id):
            response = self.get_response(request)
        response[HEADER] = request.request_id
        return response
