"""Who may do what, for people signed in with Keycloak (README's matrix), on every users route.

The principal is set as KeycloakTokenAuthentication sets it; the token checks themselves are
tested against a real Keycloak in tests/e2e/test_tokens.py.
"""

import pytest
from rest_framework.test import APIClient

from keycloak_bridge.authentication import PersonCredential
from users.queries import active_person
from tests.factories import GroupFactory, RoleFactory, UserFactory
from tests.test_access import ENDPOINTS, ME, U

pytestmark = pytest.mark.django_db
ADMIN_SCOPES = {"users:read", "users:write"}


def as_person(user):
    user = active_person(user.tenant_id, user.pk)
    client = APIClient()
    client.force_authenticate(user=user, token=PersonCredential(user, list(user.role_names), {"sub": str(user.pk)}))
    return client


@pytest.fixture
def admin(tenant):
    user = UserFactory(tenant=tenant)
    user.roles.add(RoleFactory(tenant=tenant, name="admin"))
    return as_person(user)


@pytest.fixture
def person(tenant):
    return as_person(UserFactory(tenant=tenant, username="plain", first_name="Plain"))


def real_path(path, user, group):
    return path.replace(f"users/{U}", f"users/{user.pk}").replace(f"groups/{U}", f"groups/{group.pk}")


@pytest.mark.parametrize("method, path, scope", ENDPOINTS)
def test_a_person_without_roles_may_use_no_user_management_route(person, tenant, method, path, scope):
    target, group = UserFactory(tenant=tenant), GroupFactory(tenant=tenant)
    r = getattr(person, method)(real_path(path, target, group), {}, format="json")
    assert r.status_code == 403, r.content


@pytest.mark.parametrize("method, path, scope", ENDPOINTS)
def test_an_admin_may_manage_users_of_the_tenant_but_not_check_passwords(admin, tenant, method, path, scope):
    target, group = UserFactory(tenant=tenant), GroupFactory(tenant=tenant)
    RoleFactory(tenant=tenant, name="fan")
    r = getattr(admin, method)(real_path(path, target, group).replace("roles/admin", "roles/fan"), {},
                               format="json")
    if scope in ADMIN_SCOPES:
        assert r.status_code not in (401, 403), (path, r.status_code, r.content)
    else:
        assert r.status_code == 403


@pytest.mark.parametrize("method, path, scope", [e for e in ENDPOINTS if U in e[1]])
def test_another_tenants_admin_finds_nothing(admin, other_tenant, method, path, scope):
    target, group = UserFactory(tenant=other_tenant), GroupFactory(tenant=other_tenant)
    r = getattr(admin, method)(real_path(path, target, group), {"password": "x", "roles": [], "groups": []},
                               format="json")
    assert r.status_code in (403, 404), r.status_code  # 403 only for the password check (a service scope)


class TestMe:
    def test_who_am_i(self, person):
        body = person.get("/v1/me").json()
        assert body["username"] == "plain" and body["first_name"] == "Plain"

    def test_change_safe_fields_and_a_new_email_waits_for_its_proof(self, tenant):
        user = UserFactory(tenant=tenant, email="old@example.com", email_verified=True, phone_number="+15551230001",
                           phone_verified=True)
        client = as_person(user)
        r = client.patch("/v1/me", {"first_name": "New", "email": "new@example.com"}, format="json")
        assert r.status_code == 200, r.json()
        assert r.json()["first_name"] == "New" and r.json()["pending_email"] == "new@example.com"
        assert r.json()["email"] == "old@example.com" and r.json()["email_verified"] is True
        assert r.json()["phone_verified"] is True
        r = client.patch("/v1/me", {"first_name": "Same email", "email": "new@example.com"}, format="json")
        assert r.json()["first_name"] == "Same email" and r.json()["pending_email"] == "new@example.com"

    @pytest.mark.parametrize("field, value", [("enabled", False), ("email_verified", True), ("roles", ["admin"]),
                                              ("username", "someone"), ("phone_verified", True), ("id", U)])
    def test_unsafe_fields_are_refused(self, person, field, value):
        r = person.patch("/v1/me", {field: value}, format="json")
        assert r.status_code == 400 and field in r.json()["fields"]

    def test_bad_input(self, person):
        assert person.patch("/v1/me", {"email": "nope"}, format="json").status_code == 400
        assert person.patch("/v1/me", {"phone_number": "12"}, format="json").status_code == 400
        assert person.patch("/v1/me", {"email_verification_proof": "forged"}, format="json").status_code == 400

    @pytest.mark.parametrize("method, path", ME)
    def test_services_and_anonymous_have_no_me(self, api, method, path):
        assert getattr(api, method)(path, {}, format="json").status_code == 403
        assert getattr(APIClient(), method)(path, {}, format="json").status_code == 401
