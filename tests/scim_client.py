"""In-process clients of `/scim/v2` for the SCIM tests: raw requests through Django's test client,
and scim2-client's WSGI engine (what scim2-tester drives) over Django's test handler."""

import json

from django.test import Client
from django.test.client import ClientHandler
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_models import ScimProvider

from users import services

BASE = "/scim/v2"
MEDIA_TYPE = "application/scim+json"
# The URNs of RFC 7643 and 7644, written out here rather than taken from the code under test.
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def scim_token(tenant, scopes=("scim",), name="idp"):
    return services.create_api_client(tenant, name, list(scopes))[1]


class Scim:
    """`Client` speaking SCIM JSON: `scim.post("/Users", {...})` returns the response, `.json()`
    reads its body."""

    def __init__(self, token: str | None):
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {token}") if token else Client()

    def request(self, method, path, body=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        kwargs = {"content_type": MEDIA_TYPE} if data is not None else {}
        return self.client.generic(method, f"{BASE}{path}", data=data or "", headers=headers or {}, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


def wsgi_application():
    """Django as a WSGI application that keeps the test's database connection and transaction
    (Django's own test handler, which does not close connections at the end of a request)."""
    handler = ClientHandler(enforce_csrf_checks=False)

    def application(environ, start_response):
        response = handler(environ)
        start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
        return [response.content]

    return application


def wsgi_client(token: str) -> WSGISCIMClient:
    return WSGISCIMClient(wsgi_application(), base_url=f"http://testserver{BASE}",
                          headers={"Authorization": f"Bearer {token}"}, provider=ScimProvider())
