"""Keycloak resolves every user through the backend, driven only through Keycloak's
admin REST API, its token endpoint and its login form, as an operator and a frontend would."""

import time
import urllib.parse
import uuid

import pytest

from audit.models import AuditEvent
from events.models import OutboxEvent
from tests.e2e.conftest import API_TOKEN, REALM, REDIRECT_URI, release
from tests.e2e.keycloak_api import browser_login, claims, direct_grant
from users import services
from users.models import User, UserLogin

pytestmark = pytest.mark.e2e
PASSWORD = "a passphrase only the backend knows"


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def admin_get(kc_admin, path):
    status, body = kc_admin.request("GET", f"/admin/realms/{REALM}{path}")
    assert status == 200, body
    return body


def backend_user(tenant, username, password=PASSWORD, roles=(), **fields):
    user = services.create_user(tenant, username=username, **fields)
    services.set_password(user, password)
    services.set_user_roles(user, list(roles))
    return user


def test_create_through_keycloak_writes_only_the_backend(kc_admin, e2e_tenant):
    username = unique("created")
    status, user_id = kc_admin.request("POST", f"/admin/realms/{REALM}/users", {
        "username": username, "email": f"{username}@example.com", "firstName": "Ada", "lastName": "Lovelace",
        "enabled": True, "attributes": {"phone_number": ["+15551230099"], "department": ["research"]},
    }, ok=(201,))
    user = User.objects.get(tenant=e2e_tenant, username=username)
    assert (user.email, user.first_name, user.last_name, user.phone_number) == (
        f"{username}@example.com", "Ada", "Lovelace", "+15551230099")
    assert user.attributes == {"department": ["research"]}
    [shown] = admin_get(kc_admin, f"/users?username={username}&exact=true")
    assert shown["id"] == str(user.id) and shown["firstName"] == "Ada"

    # With the provider switched off, Keycloak can show only what it stored itself.
    component = admin_get(kc_admin, "/components?type=org.keycloak.storage.UserStorageProvider")[0]
    component["config"]["enabled"] = ["false"]
    kc_admin.request("PUT", f"/admin/realms/{REALM}/components/{component['id']}", component)
    try:
        local = admin_get(kc_admin, f"/users/{user.id}")
        assert local["id"] == str(user.id) and local["username"] == username
        assert "email" not in local and "firstName" not in local and "lastName" not in local
        assert not local.get("attributes")
    finally:
        component["config"]["enabled"] = ["true"]
        kc_admin.request("PUT", f"/admin/realms/{REALM}/components/{component['id']}", component)


def test_updates_flow_both_ways(kc_admin, e2e_tenant):
    user = backend_user(e2e_tenant, unique("upd"), email="before@example.com", first_name="Old")
    shown = admin_get(kc_admin, f"/users?username={user.username}&exact=true")[0]
    shown.update({"firstName": "New", "lastName": "Name", "email": "after@example.com"})
    kc_admin.request("PUT", f"/admin/realms/{REALM}/users/{user.id}", shown)
    user.refresh_from_db()
    assert (user.first_name, user.last_name, user.email) == ("New", "Name", "after@example.com")
    [event] = AuditEvent.objects.filter(object_id=str(user.pk), actor_kind="keycloak")
    assert (event.action, event.actor_display) == ("user.updated", "keycloak")
    assert event.changes["first_name"] == {"old": "Old", "new": "New"} and event.ip == "127.0.0.1"

    services.update_user(user, {"first_name": "Changed", "phone_number": "+15551230098"})
    shown = admin_get(kc_admin, f"/users/{user.id}")
    assert shown["firstName"] == "Changed"
    assert shown["attributes"]["phone_number"] == ["+15551230098"]


@pytest.fixture
def searchable(e2e_tenant, realm):
    """Users whose names share a rare stem, so that searches see only them."""
    stem = unique("qz")
    made = [
        backend_user(e2e_tenant, f"{stem}alpha", email=f"{stem}alpha@example.com", first_name="Ann",
                     last_name=f"{stem}smith", phone_number="+15551234567"),
        backend_user(e2e_tenant, f"{stem}beta", email=f"{stem}beta@example.org", first_name="Ben",
                     last_name="Other"),
        backend_user(e2e_tenant, f"{stem}gamma", email=f"{stem}gamma@example.com", first_name="Cy",
                     last_name="Third", is_active=False),
    ]
    return stem, made


def keycloak_names(kc_admin, query):
    return sorted(u["username"] for u in admin_get(kc_admin, f"/users?{query}"))


def backend_names(api_token, backend, query):
    import json
    import urllib.request

    request = urllib.request.Request(f"{backend.url}/v1/users:search?{query}",
                                     headers={"Authorization": f"Bearer {api_token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return sorted(u["username"] for u in json.load(response)["results"])


@pytest.mark.parametrize("shape", ["prefix", "infix", "exact", "email", "username", "phone", "disabled"])
def test_admin_search_matches_the_backend_search(kc_admin, backend, e2e_tenant, searchable, shape):
    stem, (alpha, beta, gamma) = searchable
    q = urllib.parse.quote
    keycloak_query, backend_query, expected = {
        "prefix": (f"search={stem}", f"search={stem}", [alpha, beta, gamma]),
        "infix": (f"search=*{stem[2:]}a*", f"search=*{stem[2:]}a*", [alpha]),
        "exact": (f"search={q(chr(34) + beta.username + chr(34))}", f"search={q(chr(34) + beta.username + chr(34))}",
                  [beta]),
        "email": (f"email={q(beta.email)}&exact=true", f"email={q(beta.email)}&exact=true", [beta]),
        "username": (f"username={alpha.username}&exact=true", f"username={alpha.username}&exact=true", [alpha]),
        "phone": (f"q={q('phone_number:+15551234567')}", f"q={q('phone_number:+15551234567')}", [alpha]),
        "disabled": (f"enabled=false&search={stem}", f"enabled=false&search={stem}", [gamma]),
    }[shape]
    before = backend.mark()
    found = keycloak_names(kc_admin, keycloak_query)
    assert found == sorted(u.username for u in expected)
    assert found == backend_names(API_TOKEN, backend, backend_query)
    asked = [p for p in backend.paths_since(before, "/v1/users:search") if p.startswith("/v1/users:search")]
    assert asked, "Keycloak did not search the backend"
    assert all("search=" in p or "email=" in p or "username=" in p or "phone_number" in p for p in asked), asked


@pytest.mark.parametrize("field", ["username", "email"])
def test_an_exact_lookup_of_a_known_user_costs_one_backend_call(kc_admin, backend, searchable, field):
    """By username, Keycloak's own query finds the imported user's row and validates it with the
    backend (GET by id), and that answer proves who has this unique username: no search follows.
    By e-mail (local rows keep none), the provider's search is the one call."""
    _, (alpha, _, _) = searchable
    value = urllib.parse.quote(getattr(alpha, field))
    keycloak_names(kc_admin, f"{field}={value}&exact=true")  # imports alpha
    before = backend.mark()
    assert keycloak_names(kc_admin, f"{field}={value}&exact=true") == [alpha.username]
    expected = f"/v1/users/{alpha.pk}" if field == "username" else "/v1/users:search"
    asked = [p for p in backend.paths_since(before, expected) if p.startswith("/v1/")]
    assert len(asked) == 1 and asked[0].startswith(expected), asked


def test_a_new_user_takes_the_username_a_deleted_users_row_still_holds(kc_admin, backend, e2e_tenant):
    """A backend page's local rows and usernames are looked up in one query, and the backend
    users behind the rows holding its usernames in one call: a new user whose username the row of
    a user deleted in the backend still holds gets it (that row goes), and the rest of the page is
    imported beside it."""
    stem = unique("qs")
    old = backend_user(e2e_tenant, f"{stem}one", email=f"{stem}one@old.example.com")
    assert keycloak_names(kc_admin, f"search={stem}") == [old.username]  # Keycloak keeps old's row
    old_id = str(old.pk)
    services.delete_user(old)
    new = [backend_user(e2e_tenant, f"{stem}one", email=f"{stem}one@new.example.com"),
           backend_user(e2e_tenant, f"{stem}two", email=f"{stem}two@new.example.com")]
    before = backend.mark()
    found = admin_get(kc_admin, f"/users?email={stem}&max=10")  # local rows keep no e-mail: all from the backend
    assert sorted((u["username"], u["id"]) for u in found) == sorted((u.username, str(u.pk)) for u in new)
    asked = [p for p in backend.paths_since(before, "/v1/users") if p.startswith("/v1/users")]
    assert [p for p in asked if f"id={old_id}" in p] and f"/v1/users/{old_id}" not in asked, asked
    status, _ = kc_admin.request("GET", f"/admin/realms/{REALM}/users/{old_id}")
    assert status == 404


def test_admin_paging_and_count(kc_admin, keycloak, backend, e2e_tenant, searchable):
    stem, made = searchable
    pages = [keycloak_names(kc_admin, f"search={stem}&first={first}&max=2") for first in (0, 2)]
    assert [len(p) for p in pages] == [2, 1]
    assert sorted(pages[0] + pages[1]) == sorted(u.username for u in made)
    backend_user(e2e_tenant, f"{stem}delta")  # Keycloak has not seen this one
    before = backend.mark()
    status, total = kc_admin.request("GET", f"/admin/realms/{REALM}/users/count?search={stem}")
    asked = backend.paths_since(before, "/v1/users:count")
    if release(keycloak.version) >= (26, 4):
        assert total == 4, asked
        assert any(p.startswith("/v1/users:count") for p in asked), asked
        assert not any(p.startswith("/v1/users:search") and "max=" not in p for p in asked), asked
    else:
        # 26.3 counts a filtered query in its own database only, never asking a provider: the
        # minimal rows of the users it has seen (the README's "Supported Keycloak versions")
        assert (total, asked) == (3, [])


def test_delete_through_keycloak_deletes_in_the_backend(kc_admin, e2e_tenant):
    user = backend_user(e2e_tenant, unique("gone"))
    admin_get(kc_admin, f"/users?username={user.username}&exact=true")
    kc_admin.request("DELETE", f"/admin/realms/{REALM}/users/{user.id}")
    assert not User.objects.filter(pk=user.pk).exists()
    assert AuditEvent.objects.filter(object_id=str(user.pk), action="user.deleted", actor_kind="keycloak").exists()


def test_reset_password_in_keycloak_admin(kc_admin, realm, e2e_tenant):
    user = backend_user(e2e_tenant, unique("reset"))
    admin_get(kc_admin, f"/users?username={user.username}&exact=true")
    kc_admin.request("PUT", f"/admin/realms/{REALM}/users/{user.id}/reset-password",
                     {"type": "password", "value": "the replaced passphrase", "temporary": False})
    assert direct_grant(realm["base_url"], REALM, user.username, "the replaced passphrase")[0] == 200
    assert direct_grant(realm["base_url"], REALM, user.username, PASSWORD)[0] == 401


def test_login_tokens_carry_the_backend_uuid_and_roles(realm, e2e_tenant):
    user = backend_user(e2e_tenant, unique("login"), roles=["admin", "fan"], email=f"{unique('m')}@example.com")
    status, tokens = direct_grant(realm["base_url"], REALM, user.username, PASSWORD)
    assert status == 200, tokens
    access = claims(tokens["access_token"])
    assert access["sub"] == str(user.id)
    assert {"admin", "fan"} <= set(access["realm_access"]["roles"])
    assert claims(tokens["id_token"])["sub"] == str(user.id)

    status, tokens = browser_login(realm["base_url"], REALM, REDIRECT_URI, user.username, PASSWORD)
    assert status == 200, tokens
    assert claims(tokens["access_token"])["sub"] == str(user.id)
    status, page = browser_login(realm["base_url"], REALM, REDIRECT_URI, user.username, "wrong")
    assert status == 200 and "Invalid username or password" in page


def test_deactivated_in_the_backend_cannot_log_in(kc_admin, realm, e2e_tenant):
    user = backend_user(e2e_tenant, unique("off"))
    assert direct_grant(realm["base_url"], REALM, user.username, PASSWORD)[0] == 200
    services.deactivate_user(user)
    status, body = direct_grant(realm["base_url"], REALM, user.username, PASSWORD)
    assert status in (400, 401) and body["error"] == "invalid_grant", body
    assert admin_get(kc_admin, f"/users/{user.id}")["enabled"] is False


def test_backend_down_fails_fast_and_recovers(realm, backend, e2e_tenant):
    user = backend_user(e2e_tenant, unique("down"))
    backend.stop()
    try:
        started = time.monotonic()
        status, body = direct_grant(realm["base_url"], REALM, user.username, PASSWORD)
        elapsed = time.monotonic() - started
        assert status != 200 and "access_token" not in body, body
        assert elapsed < 2 + 5 + 3, elapsed  # connect timeout + read timeout + Keycloak's own work
    finally:
        backend.start()
    assert direct_grant(realm["base_url"], REALM, user.username, PASSWORD)[0] == 200


def test_login_updates_the_last_login_record(realm, e2e_tenant):
    user = backend_user(e2e_tenant, unique("seen"))
    assert direct_grant(realm["base_url"], REALM, user.username, PASSWORD)[0] == 200
    deadline = time.monotonic() + 15  # the listener reports after the login, asynchronously
    while time.monotonic() < deadline and not UserLogin.objects.filter(user=user).exists():
        time.sleep(0.2)
    login = UserLogin.objects.get(user=user)
    assert login.login_count == 1 and login.last_client == "identity-frontend"
    event = OutboxEvent.objects.get(type="KeycloakEvent", aggregate_id=str(user.pk))  # published on keycloak.events
    assert event.routing_key == f"KK.EVENT.CLIENT.{e2e_tenant.slug}.SUCCESS.identity-frontend.LOGIN"
    assert event.payload["type"] == "LOGIN" and event.payload["userId"] == str(user.pk)
