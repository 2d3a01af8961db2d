"""Operators sign in to the Django admin through Keycloak's login page, in headless
Chromium: Debian's `chromium` package driven by Playwright, no browser download. The backend is
the gunicorn process of conftest.py, configured with the operators' realm's `identity-admin`
client; a customer realm's admin, whatever roles it gives itself, cannot get in."""

import json
import urllib.error
import urllib.request
import uuid

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import REALM
from tests.e2e.keycloak_api import direct_grant

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
# As root Chromium needs --no-sandbox; the rest keep it from calling Google's hosts.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "an operator's passphrase"


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an asyncio loop in this thread, which Django's guard takes for async
    # code; no Django code runs on that loop, so the test's ORM calls are safe while the browser is open.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as p:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def backend_user(tenant, roles, *, view_users=False):
    from users import services

    user = services.create_user(tenant, username=f"op{uuid.uuid4().hex[:8]}", email=None)
    services.set_password(user, PASSWORD)
    services.set_user_roles(user, roles)
    if view_users:  # what a staff member may do in the admin is Django's permissions
        user.user_permissions.add(Permission.objects.get(codename="view_user", content_type__app_label="users"))
    return user


def keycloak_login(page, username, password):
    page.wait_for_selector("#kc-login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#kc-login")


def test_an_operator_signs_in_through_keycloak_sees_the_users_and_logs_out_of_both(
        page, backend, operators_realm, operators_tenant):
    operator = backend_user(operators_tenant, ["operator"], view_users=True)
    colleague = backend_user(operators_tenant, ["fan"])

    page.goto(f"{backend.url}/admin/")
    assert page.url.startswith(f"{backend.url}/admin/login/")
    page.click("text=Sign in with Keycloak")
    assert page.url.startswith(f"{operators_realm['issuer']}/protocol/openid-connect/auth")
    keycloak_login(page, operator.username, PASSWORD)
    page.wait_for_url(f"{backend.url}/admin/")
    expect(page.locator("#user-tools")).to_contain_text(operator.username)

    page.goto(f"{backend.url}/admin/users/user/")
    expect(page.locator("#result_list")).to_contain_text(operator.username)
    expect(page.locator("#result_list")).to_contain_text(colleague.username)
    operator.refresh_from_db()
    assert operator.is_staff and not operator.is_superuser

    # Logging out of the admin ends the Keycloak session too: the button asks for a password again.
    page.click("#logout-form button[type=submit]")
    page.wait_for_url(f"{backend.url}/admin/login/?next=/admin/")
    page.click("text=Sign in with Keycloak")
    page.wait_for_selector("#kc-login")
    assert page.url.startswith(f"{operators_realm['issuer']}/")
    # And the operator can sign in again.
    keycloak_login(page, operator.username, PASSWORD)
    page.wait_for_url(f"{backend.url}/admin/")


def test_a_user_without_the_staff_role_is_refused(page, backend, operators_realm, operators_tenant):
    fan = backend_user(operators_tenant, ["fan"], view_users=True)
    page.goto(f"{backend.url}/admin/login/")
    page.click("text=Sign in with Keycloak")
    keycloak_login(page, fan.username, PASSWORD)
    page.wait_for_url(f"{backend.url}/admin/login/?next=/admin/")
    expect(page.locator(".messagelist")).to_contain_text("may not use the admin")
    fan.refresh_from_db()
    assert not fan.is_staff
    assert page.request.get(f"{backend.url}/admin/users/user/", max_redirects=0).status == 302
    # The refusal also ended the Keycloak session: the next try asks for a password again.
    page.click("text=Sign in with Keycloak")
    page.wait_for_selector("#kc-login")


def test_a_user_unknown_to_the_backend_cannot_sign_in(page, backend, operators_realm, operators_tenant):
    page.goto(f"{backend.url}/admin/login/")
    page.click("text=Sign in with Keycloak")
    keycloak_login(page, f"nobody{uuid.uuid4().hex[:8]}", PASSWORD)
    expect(page.get_by_text("Invalid username or password")).to_be_visible()
    assert page.url.startswith(f"{operators_realm['issuer']}/")
    assert page.request.get(f"{backend.url}/admin/", max_redirects=0).status == 302


def test_a_customer_admin_who_grants_itself_operator_and_superuser_cannot_sign_in(
        page, backend, realm, operators_realm, e2e_tenant, operators_tenant):
    """The finding's steps through the real stack: alice's token from her (customer) realm writes
    her tenant's roles, which is her right; the admin trusts only the operators' realm, where she
    does not exist, and the password form admits no customer's user."""
    alice = backend_user(e2e_tenant, ["admin"])
    status, grant = direct_grant(realm["base_url"], REALM, alice.username, PASSWORD)
    assert status == 200, grant
    api = {"Authorization": f"Bearer {grant['access_token']}"}
    for name in ("superuser", "operator"):
        assert page.request.post(f"{backend.url}/v1/roles", headers=api, data={"name": name}).status == 201
    answer = page.request.put(f"{backend.url}/v1/users/{alice.pk}/roles", headers=api,
                              data={"roles": ["admin", "operator", "superuser"]})
    assert answer.status == 200, answer.text()

    page.goto(f"{backend.url}/admin/login/")
    page.click("text=Sign in with Keycloak")
    assert page.url.startswith(f"{operators_realm['issuer']}/protocol/openid-connect/auth")
    keycloak_login(page, alice.username, PASSWORD)
    expect(page.get_by_text("Invalid username or password")).to_be_visible()
    assert page.request.get(f"{backend.url}/admin/", max_redirects=0).status == 302
    alice.refresh_from_db()
    assert not alice.is_staff and not alice.is_superuser

    # Her own realm has no client for the admin at all.
    refused = page.request.get(f"{realm['issuer']}/protocol/openid-connect/auth?client_id=identity-admin"
                               f"&response_type=code&redirect_uri={backend.url}/oidc/callback/")
    assert refused.status == 400 and "Client not found" in refused.text()


def test_the_operators_realm_provider_cannot_write_operators(backend, operators_tenant):
    """Its token has every scope (as connect_keycloak gives it), yet the operators' tenant is read-only."""
    from tests.e2e.conftest import OPERATORS_API_TOKEN

    operator = backend_user(operators_tenant, ["operator"])
    headers = {"Authorization": f"Bearer {OPERATORS_API_TOKEN}", "Content-Type": "application/json"}
    request = urllib.request.Request(f"{backend.url}/v1/users/{operator.pk}/password", method="PUT", headers=headers,
                                     data=json.dumps({"password": "a new passphrase 123"}).encode())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403 and json.load(refused.value)["code"] == "managed_in_admin"
    operator.refresh_from_db()
    assert operator.check_password(PASSWORD)
