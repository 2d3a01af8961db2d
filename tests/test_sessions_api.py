"""`/v1/users/{id}/sessions` and `:logout`, the admin's "Sign out everywhere", and deactivation's
sign-out, where no Keycloak answers. Keycloak itself is in `tests/e2e/test_sessions.py`."""

import logging

import pytest
from rest_framework.test import APIClient

from keycloak_bridge import sessions as keycloak_sessions
from keycloak_bridge.dev.processes import free_port
from keycloak_bridge.dev.realm import SessionLimits
from tests.factories import TenantFactory, UserFactory
from tests.test_audit_admin import assert_saved, user_form
from users.models import Tenant

pytestmark = pytest.mark.django_db


def routes(user):
    return [("get", f"/v1/users/{user.pk}/sessions"), ("post", f"/v1/users/{user.pk}:logout")]


@pytest.fixture
def unreachable(tenant, settings):
    """The tenant's realm on a port where nothing listens, with the backend's client key set."""
    settings.KEYCLOAK_ADMIN_CLIENT_KEY = "a key"
    Tenant.objects.filter(pk=tenant.pk).update(oidc_issuer=f"http://127.0.0.1:{free_port()}/realms/acme")
    tenant.refresh_from_db()
    return tenant


def test_nobody_gets_401(tenant):
    user = UserFactory(tenant=tenant)
    for method, path in routes(user):
        response = getattr(APIClient(), method)(path)
        assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_listing_reads_and_logout_writes(tenant, make_client):
    user = UserFactory(tenant=tenant)
    reader, writer = make_client(tenant, ["users:read"]), make_client(tenant, ["users:write"])
    assert reader.get(f"/v1/users/{user.pk}/sessions").status_code == 200
    assert writer.get(f"/v1/users/{user.pk}/sessions").status_code == 403
    response = reader.post(f"/v1/users/{user.pk}:logout")
    assert response.status_code == 403 and "users:write" in response.json()["message"]
    assert writer.post(f"/v1/users/{user.pk}:logout").status_code == 204


def test_another_tenants_user_is_not_found(api, other_tenant):
    stranger = UserFactory(tenant=other_tenant)
    for method, path in routes(stranger):
        response = getattr(api, method)(path)
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_tenant_without_a_realm_has_no_sessions(api, tenant):
    user = UserFactory(tenant=tenant)
    assert tenant.oidc_issuer is None
    response = api.get(f"/v1/users/{user.pk}/sessions")
    assert response.status_code == 200 and response.json() == []
    assert api.post(f"/v1/users/{user.pk}:logout").status_code == 204


def test_operators_are_signed_out_in_the_admin_not_through_v1(operators, make_client):
    operator = UserFactory(tenant=operators)
    api = make_client(operators, ["users:read", "users:write"])
    response = api.post(f"/v1/users/{operator.pk}:logout")
    assert response.status_code == 403 and response.json()["code"] == "managed_in_admin"
    assert api.get(f"/v1/users/{operator.pk}/sessions").status_code == 200


def test_keycloak_unreachable_is_a_503_with_the_error_body(api, unreachable):
    user = UserFactory(tenant=unreachable)
    for method, path in routes(user):
        response = getattr(api, method)(path)
        assert response.status_code == 503, response.content
        assert response.json() == {"code": "keycloak_unavailable",
                                   "message": "Keycloak could not be reached; try again."}


def test_without_the_client_key_the_realm_cannot_be_asked(api, unreachable, settings):
    settings.KEYCLOAK_ADMIN_CLIENT_KEY = ""
    user = UserFactory(tenant=unreachable)
    assert api.get(f"/v1/users/{user.pk}/sessions").status_code == 503


def test_deactivation_stands_when_keycloak_cannot_end_the_sessions(
        api, unreachable, caplog, django_capture_on_commit_callbacks):
    user = UserFactory(tenant=unreachable)
    with caplog.at_level(logging.ERROR, logger="keycloak_bridge.sessions"):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = api.post(f"/v1/users/{user.pk}:deactivate")
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert len(callbacks) == 1
    user.refresh_from_db()
    assert not user.is_active
    assert f"User {user.pk} of tenant acme is deactivated, but their Keycloak sessions were not ended" in caplog.text


def test_only_a_deactivation_signs_out(api, unreachable, django_capture_on_commit_callbacks):
    user = UserFactory(tenant=unreachable)
    with django_capture_on_commit_callbacks() as callbacks:
        assert api.patch(f"/v1/users/{user.pk}", {"first_name": "Changed"}, format="json").status_code == 200
        assert api.post(f"/v1/users/{user.pk}:reactivate").status_code == 200
    assert callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        assert api.patch(f"/v1/users/{user.pk}", {"enabled": False}, format="json").status_code == 200
    assert len(callbacks) == 1


def test_the_admin_signs_out_one_user_or_a_selection(client, operator, tenant):
    users = [UserFactory(tenant=tenant), UserFactory(tenant=tenant)]
    page = client.get(f"/admin/users/user/{users[0].pk}/change/").content.decode()
    assert f"/admin/users/user/{users[0].pk}/sign-out/" in page and "Sign out everywhere" in page
    assert client.get(f"/admin/users/user/{users[0].pk}/sign-out/").status_code == 403
    response = client.post(f"/admin/users/user/{users[0].pk}/sign-out/", follow=True)
    assert f"Signed out everywhere: {users[0].username}." in response.content.decode()
    response = client.post("/admin/users/user/", {"action": "sign_out_everywhere",
                                                  "_selected_action": [u.pk for u in users]}, follow=True)
    assert "Signed out everywhere: " in response.content.decode()
    assert all(u.username in response.content.decode() for u in users)


def test_the_admin_says_when_keycloak_did_not_answer(client, operator, unreachable):
    user = UserFactory(tenant=unreachable)
    response = client.post(f"/admin/users/user/{user.pk}/sign-out/", follow=True)
    assert f"Sessions of {user.username} not ended: Keycloak could not be reached" in response.content.decode()


def test_the_admins_deactivation_signs_out_too(client, operator, unreachable, django_capture_on_commit_callbacks):
    user = UserFactory(tenant=unreachable)
    with django_capture_on_commit_callbacks() as callbacks:
        assert_saved(client.post(f"/admin/users/user/{user.pk}/change/", user_form(user, first_name="Kept")))
    assert callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        assert_saved(client.post(f"/admin/users/user/{user.pk}/change/", user_form(user, is_active=None)))
    assert len(callbacks) == 1
    user.refresh_from_db()
    assert not user.is_active and user.deactivated_at


def test_tenant_session_limits_are_edited_in_the_admin(client, operator):
    tenant = TenantFactory(slug="limited")
    page = client.get(f"/admin/users/tenant/{tenant.pk}/change/").content.decode()
    assert "session_limit_per_client" in page and "End the oldest session" in page
    client.post(f"/admin/users/tenant/{tenant.pk}/change/", {
        "slug": "limited", "display_name": "Limited", "oidc_issuer": "", "session_limit": "3",
        "session_limit_per_client": "1", "session_limit_behavior": "end_oldest"})
    tenant.refresh_from_db()
    assert (tenant.session_limit, tenant.session_limit_per_client, tenant.session_limit_behavior) == (3, 1, "end_oldest")


def test_session_limits_become_the_limiters_configuration():
    assert SessionLimits.of(0, 0, "end_oldest") is None
    assert SessionLimits.of(3, 1, "end_oldest").config() == {
        "userRealmLimit": "3", "userClientLimit": "1", "behavior": "Terminate oldest session"}
    assert SessionLimits.of(0, 2, "deny").config()["behavior"] == "Deny new session"
    with pytest.raises(ValueError):
        SessionLimits.of(2, 0, "sometimes")


def test_each_realm_has_its_own_client_secret():
    assert keycloak_sessions.client_secret("demo", "k") != keycloak_sessions.client_secret("other", "k")
    assert keycloak_sessions.client_secret("demo", "k") != keycloak_sessions.client_secret("demo", "k2")
    assert keycloak_sessions.client_secret("demo", "k") == keycloak_sessions.client_secret("demo", "k")
