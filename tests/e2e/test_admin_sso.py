"""Operators sign in to the Django admin through Keycloak's login page, in headless
Chromium: Debian's `chromium` package driven by Playwright, no browser download. The backend is
the gunicorn process of conftest.py, configured with the realm's `identity-admin` client."""

import uuid

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect, sync_playwright

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
        page, backend, realm, e2e_tenant):
    operator = backend_user(e2e_tenant, ["operator"], view_users=True)
    colleague = backend_user(e2e_tenant, ["fan"])

    page.goto(f"{backend.url}/admin/")
    assert page.url.startswith(f"{backend.url}/admin/login/")
    page.click("text=Sign in with Keycloak")
    assert page.url.startswith(f"{realm['issuer']}/protocol/openid-connect/auth")
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
    assert page.url.startswith(f"{realm['issuer']}/")
    # And the operator can sign in again.
    keycloak_login(page, operator.username, PASSWORD)
    page.wait_for_url(f"{backend.url}/admin/")


def test_a_user_without_the_staff_role_is_refused(page, backend, realm, e2e_tenant):
    fan = backend_user(e2e_tenant, ["fan"], view_users=True)
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


def test_a_user_unknown_to_the_backend_cannot_sign_in(page, backend, realm, e2e_tenant):
    page.goto(f"{backend.url}/admin/login/")
    page.click("text=Sign in with Keycloak")
    keycloak_login(page, f"nobody{uuid.uuid4().hex[:8]}", PASSWORD)
    expect(page.get_by_text("Invalid username or password")).to_be_visible()
    assert page.url.startswith(f"{realm['issuer']}/")
    assert page.request.get(f"{backend.url}/admin/", max_redirects=0).status == 302


def test_the_password_form_stays_as_a_fallback(page, backend, realm, e2e_tenant):
    from users import services
    from users.models import Tenant

    # For operators outside the realm's tenant: its own users sign in with Keycloak only.
    elsewhere = Tenant.objects.create(slug=f"ops{uuid.uuid4().hex[:6]}", display_name="Operators")
    operator = services.create_user(elsewhere, username=f"pw{uuid.uuid4().hex[:8]}", is_staff=True)
    services.set_password(operator, PASSWORD)
    page.goto(f"{backend.url}/admin/login/")
    page.fill("#id_username", f"{elsewhere.slug}/{operator.username}")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form input[type=submit]")
    page.wait_for_url(f"{backend.url}/admin/")
    page.click("#logout-form button[type=submit]")
    expect(page.locator("#content")).to_contain_text("Log in again")
