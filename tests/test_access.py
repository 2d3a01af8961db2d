"""Authentication, scopes and tenant isolation, checked the same way for every endpoint."""

import uuid

import pytest
from rest_framework.test import APIClient

from tests.factories import GroupFactory, RoleFactory, UserFactory
from users import services

pytestmark = pytest.mark.django_db
U = "00000000-0000-0000-0000-000000000000"

ENDPOINTS = [
    ("get", "/v1/users", "users:read"),
    ("post", "/v1/users", "users:write"),
    ("get", "/v1/users:search", "users:read"),
    ("get", "/v1/users:count", "users:read"),
    ("get", f"/v1/users/{U}", "users:read"),
    ("put", f"/v1/users/{U}", "users:write"),
    ("patch", f"/v1/users/{U}", "users:write"),
    ("delete", f"/v1/users/{U}", "users:write"),
    ("post", f"/v1/users/{U}:deactivate", "users:write"),
    ("post", f"/v1/users/{U}:reactivate", "users:write"),
    ("post", f"/v1/users/{U}:record-login", "users:write"),
    ("get", f"/v1/users/{U}/login", "users:read"),
    ("put", f"/v1/users/{U}/password", "users:write"),
    ("post", f"/v1/users/{U}/credentials:verify", "credentials:verify"),
    ("post", f"/v1/users/{U}:reset-password", "users:write"),
    ("post", "/v1/password-resets:redeem", "users:write"),
    ("put", f"/v1/users/{U}/roles", "users:write"),
    ("post", f"/v1/users/{U}/roles/admin", "users:write"),
    ("delete", f"/v1/users/{U}/roles/admin", "users:write"),
    ("put", f"/v1/users/{U}/groups", "users:write"),
    ("post", f"/v1/users/{U}/groups/{U}", "users:write"),
    ("delete", f"/v1/users/{U}/groups/{U}", "users:write"),
    ("get", "/v1/roles", "users:read"),
    ("post", "/v1/roles", "users:write"),
    ("delete", "/v1/roles/admin", "users:write"),
    ("get", "/v1/groups", "users:read"),
    ("post", "/v1/groups", "users:write"),
    ("get", f"/v1/groups/{U}", "users:read"),
    ("delete", f"/v1/groups/{U}", "users:write"),
    ("get", f"/v1/groups/{U}/members", "users:read"),
]


ME = [("get", "/v1/me"), ("patch", "/v1/me")]


def test_every_route_and_method_is_listed_here():
    from users.api.urls import urlpatterns

    methods = ("get", "post", "put", "patch", "delete")  # DRF adds "head" to served GET routes
    routes = sum(len([m for m in methods if m in (getattr(pattern.callback, "actions", None) or
                                                  vars(pattern.callback.view_class))])
                 for pattern in urlpatterns)
    assert routes == len(ENDPOINTS) + len(ME)  # a new route must be added here


@pytest.mark.parametrize("method, path, scope", ENDPOINTS)
def test_without_a_token_is_401(db, method, path, scope):
    r = getattr(APIClient(), method)(path, {}, format="json")
    assert r.status_code == 401
    assert r.json()["code"] == "not_authenticated"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("token", ["nonsense", "idb_abc.def", "idb_", "Bearer", "a b"])
def test_bad_tokens_are_401(db, token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    r = client.get("/v1/users")
    assert r.status_code == 401 and r.json()["code"] == "authentication_failed"


def test_a_tampered_secret_is_401(api):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api.token[:-2]}xx")
    assert api.get("/v1/users").status_code == 401


def test_revoked_client_is_401(api, tenant):
    assert api.get("/v1/users").status_code == 200
    services.revoke_api_client(tenant.api_clients.get())
    assert api.get("/v1/users").status_code == 401


@pytest.mark.parametrize("method, path, scope", ENDPOINTS)
def test_each_endpoint_needs_its_scope(make_client, tenant, method, path, scope):
    others = [s for s in services.KNOWN_SCOPES if s != scope]
    r = getattr(make_client(tenant, others), method)(path, {}, format="json")
    assert r.status_code == 403, r.content
    assert scope in r.json()["message"]
    r = getattr(make_client(tenant, [scope]), method)(path, {}, format="json")
    assert r.status_code != 403


@pytest.mark.parametrize("method, path, scope", [e for e in ENDPOINTS if U in e[1] or "roles/admin" in e[1]])
def test_other_tenants_objects_are_404(api, other_tenant, method, path, scope):
    """Each object route is tried with real ids of the other tenant: never found.

    Collection routes' tenant scoping is tested in each resource's own tests.
    """
    user = UserFactory(tenant=other_tenant)
    group = GroupFactory(tenant=other_tenant)
    RoleFactory(tenant=other_tenant, name="admin")
    real = path.replace(f"users/{U}", f"users/{user.pk}").replace(f"groups/{U}", f"groups/{group.pk}")
    r = getattr(api, method)(real, {"password": "irrelevant one", "roles": [], "groups": []}, format="json")
    assert r.status_code == 404, (real, r.status_code)


def test_health_probes_are_public(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["database"] == "ok"


def test_unknown_api_path_is_a_json_404(api):
    r = api.get(f"/v1/nothing-here/{uuid.uuid4()}")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
