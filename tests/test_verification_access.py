"""Authentication and the `verification:write` scope on every route of users/api/verification_urls.py."""

import pytest
from rest_framework.test import APIClient

from tests.test_access import U
from tests.test_people_access import as_person
from tests.factories import RoleFactory, UserFactory
from users import services

pytestmark = pytest.mark.django_db
SCOPE = "verification:write"

ENDPOINTS = [
    ("post", "/v1/phone-verifications"),
    ("post", f"/v1/phone-verifications/{U}:confirm"),
    ("post", "/v1/email-verifications"),
    ("post", f"/v1/email-verifications/{U}:confirm"),
    ("post", "/v1/magic-links"),
    ("post", "/v1/magic-links:redeem"),
    ("post", "/v1/magic-sms"),
    ("post", "/v1/magic-sms:redeem"),
]


def test_every_route_is_listed_here():
    from users.api.verification_urls import urlpatterns

    assert sum(len(set(p.callback.actions) - {"head"}) for p in urlpatterns) == len(ENDPOINTS)


def test_the_scope_is_known_so_the_keycloak_provider_client_gets_it():
    assert SCOPE in services.KNOWN_SCOPES


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_without_a_token_is_401(method, path):
    r = getattr(APIClient(), method)(path, {}, format="json")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_each_endpoint_needs_the_scope(make_client, tenant, method, path):
    others = sorted(services.KNOWN_SCOPES - {SCOPE})
    r = getattr(make_client(tenant, others), method)(path, {}, format="json")
    assert r.status_code == 403 and SCOPE in r.json()["message"]
    r = getattr(make_client(tenant, [SCOPE]), method)(path, {}, format="json")
    assert r.status_code in (400, 404), r.content


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_people_even_admins_are_403(tenant, method, path):
    user = UserFactory(tenant=tenant)
    user.roles.add(RoleFactory(tenant=tenant, name="admin"))
    assert getattr(as_person(user), method)(path, {}, format="json").status_code == 403
