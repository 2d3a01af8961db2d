"""Authentication, scopes and tenant isolation, checked the same way for every endpoint."""

import uuid

import pytest
from rest_framework.test import APIClient

from tests.access import RouteTable, ServiceRoutes, TenantIsolation, route_table
from tests.factories import GroupFactory, RoleFactory, UserFactory
from users import services

pytestmark = pytest.mark.django_db
ME = [("get", "/v1/me"), ("patch", "/v1/me")]  # people only: tests/test_people_access.py


class UserRoutes(RouteTable):
    urlconf = "users.api.urls"
    routes = route_table("""
        get     /v1/users                               users:read
        post    /v1/users                               users:write
        get     /v1/users:search                        users:read
        get     /v1/users:count                         users:read
        get     /v1/users/{user}                        users:read
        put     /v1/users/{user}                        users:write
        patch   /v1/users/{user}                        users:write
        delete  /v1/users/{user}                        users:write
        post    /v1/users/{user}:deactivate             users:write
        post    /v1/users/{user}:reactivate             users:write
        post    /v1/users/{user}:record-login           users:write
        get     /v1/users/{user}/login                  users:read
        post    /v1/users/{user}:logout                 users:write
        get     /v1/users/{user}/sessions               users:read
        put     /v1/users/{user}/password               users:write
        post    /v1/users/{user}/credentials:verify     credentials:verify
        post    /v1/users/{user}:reset-password         users:write
        post    /v1/password-resets:redeem              users:write
        put     /v1/users/{user}/roles                  users:write
        post    /v1/users/{user}/roles/{role}           users:write
        delete  /v1/users/{user}/roles/{role}           users:write
        put     /v1/users/{user}/groups                 users:write
        post    /v1/users/{user}/groups/{group}         users:write
        delete  /v1/users/{user}/groups/{group}         users:write
        get     /v1/roles                               users:read
        post    /v1/roles                               users:write
        delete  /v1/roles/{role}                        users:write
        get     /v1/groups                              users:read
        get     /v1/groups:count                        users:read
        post    /v1/groups                              users:write
        get     /v1/groups/{group}                      users:read
        delete  /v1/groups/{group}                      users:write
        get     /v1/groups/{group}/members              users:read
    """)

    def objects(self, tenant):
        """The role is `fan`, not `admin`: the checks' admin holds a role named `admin` in their own
        tenant, where a path naming it would be found."""
        return {"user": UserFactory(tenant=tenant).pk, "group": GroupFactory(tenant=tenant).pk,
                "role": RoleFactory(tenant=tenant, name="fan").name}

    def body(self, ids):
        return {"password": "irrelevant one", "roles": [], "groups": []}


class TestUserRoutes(ServiceRoutes, TenantIsolation, UserRoutes):
    """Service clients on every users route; collection routes' tenant scoping is tested in each
    resource's own tests."""

    elsewhere = ME


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


def test_health_probes_are_public(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["database"] == "ok"


def test_unknown_api_path_is_a_json_404(api):
    r = api.get(f"/v1/nothing-here/{uuid.uuid4()}")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
