import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import GroupFactory, RoleFactory, UserFactory
from users import admin as users_admin
from users.models import ApiClient, User
from users import services

pytestmark = pytest.mark.django_db



def test_operator_signs_in_with_tenant_and_username(client, tenant):
    User.objects.create_superuser("root", "root@example.com", "an operator passphrase")
    UserFactory(tenant=tenant, username="root", password="brand operator pass", is_staff=True)
    assert client.login(username="root", password="an operator passphrase")
    assert client.login(username="default/root", password="an operator passphrase")
    # A customer tenant's user is never an operator, whatever its flags.
    assert not client.login(username="acme/root", password="brand operator pass")
    assert not client.login(username="acme/root", password="an operator passphrase")


@pytest.mark.parametrize("model", ["user", "role", "group", "apiclient", "userlogin", "tenant"])
def test_every_changelist_and_add_page_renders(client, operator, tenant, model):
    user = UserFactory(tenant=tenant)
    RoleFactory(tenant=tenant)
    GroupFactory(tenant=tenant)
    services.record_login(user, client="web", ip="127.0.0.1")
    services.create_api_client(tenant, "svc", ["users:read"])
    assert client.get(f"/admin/users/{model}/").status_code == 200
    if model != "userlogin":
        assert client.get(f"/admin/users/{model}/add/").status_code == 200


def test_user_change_page_renders(client, operator, tenant):
    user = UserFactory(tenant=tenant)
    services.record_login(user, client="web")
    r = client.get(f"/admin/users/user/{user.pk}/change/")
    assert r.status_code == 200
    assert b"Last client" in r.content and b"web" in r.content


def test_admin_search_uses_the_api_search(client, operator, tenant):
    UserFactory(tenant=tenant, username="alice", last_name="Smith")
    UserFactory(tenant=tenant, username="bob", last_name="Jones")
    body = client.get("/admin/users/user/?q=smi").content.decode()
    assert "alice" in body and "bob" not in re.sub(r"<option.*?</option>", "", body)


def test_unfiltered_user_list_uses_an_estimate_not_count(client, operator, tenant, monkeypatch):
    for i in range(5):
        UserFactory(tenant=tenant)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE users_user")
    monkeypatch.setattr(users_admin.EstimatedCountPaginator, "exact_below", 0)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/admin/users/user/").status_code == 200
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "users_user" in q["sql"]]
    assert counts == []


def test_actions_deactivate_reactivate_and_reset(client, operator, tenant):
    user = UserFactory(tenant=tenant)
    client.post("/admin/users/user/", {"action": "deactivate", "_selected_action": [user.pk]})
    user.refresh_from_db()
    assert not user.is_active and user.deactivated_at
    client.post("/admin/users/user/", {"action": "reactivate", "_selected_action": [user.pk]})
    user.refresh_from_db()
    assert user.is_active and user.deactivated_at is None
    r = client.post("/admin/users/user/", {"action": "issue_reset_token", "_selected_action": [user.pk]}, follow=True)
    token = re.search(r"<code>([^<]+)</code>", r.content.decode()).group(1)
    services.redeem_password_reset(tenant, token, "reset by operator")
    user.refresh_from_db()
    assert user.check_password("reset by operator")


def test_api_client_token_is_shown_once_and_works(client, operator, tenant):
    r = client.post("/admin/users/apiclient/add/", {"tenant": tenant.pk, "name": "provider",
                                                    "scopes": '["users:read"]'}, follow=True)
    token = re.search(r"<code>([^<]+)</code>", r.content.decode()).group(1)
    assert services.authenticate_api_client(token).name == "provider"
    stored = ApiClient.objects.get(name="provider")
    assert token not in stored.secret_hash
    page = client.get(f"/admin/users/apiclient/{stored.pk}/change/").content.decode()
    assert token not in page


def test_admin_add_user_normalises(client, operator, tenant):
    r = client.post("/admin/users/user/add/", {"tenant": tenant.pk, "username": "NewUser", "email": "New@Example.com",
                                               "usable_password": "true", "password1": "a good passphrase",
                                               "password2": "a good passphrase"})
    assert r.status_code == 302, re.findall(r"errorlist.*?</ul>", r.content.decode(), re.S)
    user = User.objects.get(tenant=tenant, username="newuser")
    assert user.email == "new@example.com"


def test_admin_refuses_a_duplicate_email_in_the_same_tenant(client, operator, tenant):
    UserFactory(tenant=tenant, email="taken@example.com")
    r = client.post("/admin/users/user/add/", {"tenant": tenant.pk, "username": "other", "email": "TAKEN@example.com",
                                               "usable_password": "false"})
    assert r.status_code == 200
    assert User.objects.filter(email="taken@example.com").count() == 1
