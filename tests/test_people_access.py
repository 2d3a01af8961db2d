"""Who may do what, for people signed in with Keycloak (README's matrix), on every users route.

The principal is set as KeycloakTokenAuthentication sets it; the token checks themselves are
tested against a real Keycloak in tests/e2e/test_tokens.py.
"""

import pytest
from rest_framework.test import APIClient

from tests.access import U, PeopleIsolation, PeopleRoutes, as_person
from tests.factories import UserFactory
from tests.test_access import ME, UserRoutes

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(tenant):
    return as_person(UserFactory(tenant=tenant, username="plain", first_name="Plain"))


class TestPeopleOnUserRoutes(PeopleRoutes, PeopleIsolation, UserRoutes):
    """An admin manages the users of their tenant but may not check passwords (a service's scope)."""


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
