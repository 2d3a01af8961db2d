"""Session limits in the realm as code, and signing a user out everywhere, against the real Keycloak.

Two more realms, each a tenant's, apply a limit of two sessions per user: `limit-oldest` ends the
oldest session at a third login, `limit-deny` refuses it. The backend signs users out through the
realm's admin API as its `identity-backend` service account.
"""

import json
import time
import urllib.parse
import uuid

import pytest

from keycloak_bridge.dev.realm import SessionLimits, apply_realm
from tests.e2e.conftest import REALM, REDIRECT_URI, backend_client_secret, provider_client
from tests.e2e.keycloak_api import Browser, _request, browser_login, text
from tests.e2e.test_tokens import call
from users import services
from users.models import Tenant

pytestmark = pytest.mark.e2e
PASSWORD = "a passphrase only the backend knows"
LIMITED = {  # realm: (the provider's API key, its limits)
    "limit-oldest": ("e2elimitoldest00", SessionLimits(per_realm=2, behavior="end_oldest")),
    "limit-deny": ("e2elimitdeny0000", SessionLimits(per_realm=2, behavior="deny")),
    "cached": ("e2ecached0000000", None),
}
API_SECRET = "a-secret-of-the-limited-realms-providers"


@pytest.fixture(scope="module")
def limited_realms(keycloak, backend):
    """The realms, applied once; the cached one reads users through Keycloak's user cache."""
    realms = {}
    for name, (key, limits) in LIMITED.items():
        token = f"{services.TOKEN_PREFIX}{key}.{API_SECRET}"
        realms[name] = apply_realm(
            keycloak.base_url, keycloak.admin_user, keycloak.admin_password, backend.url, token, realm=name,
            cache_policy="DEFAULT" if name == "cached" else "NO_CACHE", redirect_uris=[REDIRECT_URI],
            admin_client=False, session_limits=limits, backend_client_secret=backend_client_secret(name))
        realms[name]["base_url"] = keycloak.base_url
    return realms


@pytest.fixture
def tenants(transactional_db, limited_realms, backend, operators_tenant):
    """Each limited realm's tenant with its provider's client, committed for the backend to see."""
    made = {}
    for name, (key, _) in LIMITED.items():
        made[name] = Tenant.objects.create(slug=name, display_name=name, oidc_issuer=limited_realms[name]["issuer"])
        provider_client(made[name], key, API_SECRET)
    yield made
    backend.wait_until_idle()


def person(tenant):
    user = services.create_user(tenant, username=f"p{uuid.uuid4().hex[:10]}")
    services.set_password(user, PASSWORD)
    return user


def api_token(tenant, scopes=("users:read", "users:write")):
    return services.create_api_client(tenant, f"operations-{uuid.uuid4().hex[:6]}", list(scopes))[1]


def refresh(base_url, realm, refresh_token, client_id="identity-frontend"):
    status, _, body = _request(f"{base_url}/realms/{realm}/protocol/openid-connect/token", method="POST",
                               data={"grant_type": "refresh_token", "client_id": client_id,
                                     "refresh_token": refresh_token})
    return status, json.loads(body)


def grant(realm_info, realm, user, scope="openid"):
    status, _, body = _request(
        f"{realm_info['base_url']}/realms/{realm}/protocol/openid-connect/token", method="POST",
        data={"grant_type": "password", "client_id": "identity-frontend", "username": user.username,
              "password": PASSWORD, "scope": scope})
    assert status == 200, body
    return json.loads(body)


def login(way, realm_info, realm, user):
    if way == "direct grant":
        return grant(realm_info, realm, user)
    status, tokens = browser_login(realm_info["base_url"], realm, REDIRECT_URI, user.username, PASSWORD)
    assert status == 200, text(tokens)[:500]
    return tokens


def login_a_second_apart(way, realm_info, realm, user):
    """Keycloak keeps a session's times in whole seconds: sessions started within one second tie for
    "oldest", and the limiter may end any of them."""
    time.sleep(1.1)
    return login(way, realm_info, realm, user)


@pytest.mark.parametrize("way", ["direct grant", "browser form"])
def test_over_the_limit_the_oldest_session_ends(way, limited_realms, tenants):
    realm = "limit-oldest"
    info, user = limited_realms[realm], person(tenants[realm])
    first, second, third = (login_a_second_apart(way, info, realm, user) for _ in range(3))
    status, body = refresh(info["base_url"], realm, first["refresh_token"])
    assert status == 400 and body["error"] == "invalid_grant", body
    for kept in (second, third):
        assert refresh(info["base_url"], realm, kept["refresh_token"])[0] == 200


def test_over_the_limit_a_direct_grant_is_refused(limited_realms, tenants):
    realm = "limit-deny"
    info, user = limited_realms[realm], person(tenants[realm])
    first, second = grant(info, realm, user), grant(info, realm, user)
    status, _, body = _request(f"{info['base_url']}/realms/{realm}/protocol/openid-connect/token", method="POST",
                               data={"grant_type": "password", "client_id": "identity-frontend",
                                     "username": user.username, "password": PASSWORD})
    assert status == 403 and "There are too many sessions" in text(body), body[:500]
    for kept in (first, second):
        assert refresh(info["base_url"], realm, kept["refresh_token"])[0] == 200


def test_over_the_limit_the_login_form_refuses_with_keycloaks_message(limited_realms, tenants):
    realm = "limit-deny"
    info, user = limited_realms[realm], person(tenants[realm])
    for _ in range(2):
        login("browser form", info, realm, user)
    status, page = browser_login(info["base_url"], realm, REDIRECT_URI, user.username, PASSWORD)
    assert status == 403 and "There are too many sessions" in text(page), text(page)[:500]


def test_the_limit_holds_in_the_passwordless_and_enrollment_flows_too(kc_admin, limited_realms, tenants):
    for flow in ("passwordless sign-in", "phone enrollment", "browser with session limits forms",
                 "direct grant with session limits"):
        _, executions = kc_admin.request(
            "GET", f"/admin/realms/limit-deny/authentication/flows/{urllib.parse.quote(flow)}/executions")
        top = sorted((e for e in executions if e["level"] == 0), key=lambda e: e["index"])
        assert top[-1]["providerId"] == "user-session-limits" and top[-1]["requirement"] == "REQUIRED", flow
        _, config = kc_admin.request("GET", f"/admin/realms/limit-deny/authentication/config/"
                                            f"{top[-1]['authenticationConfig']}")
        assert config["config"] == {"userRealmLimit": "2", "userClientLimit": "0", "behavior": "Deny new session"}
    _, realm = kc_admin.request("GET", "/admin/realms/limit-deny")
    assert (realm["browserFlow"], realm["directGrantFlow"]) == ("browser with session limits",
                                                               "direct grant with session limits")
    _, unlimited = kc_admin.request("GET", "/admin/realms/cached")
    assert (unlimited["browserFlow"], unlimited["directGrantFlow"]) == ("browser", "direct grant")


def at_the_limit(limited_realms, tenants, client_id, **fields):
    """A user of the `limit-deny` realm (limit 2) with `fields`, already signed in twice, and a
    browser at the first page of `client_id`'s flow: (user, browser, page)."""
    info, user = limited_realms["limit-deny"], person(tenants["limit-deny"])
    for name, value in fields.items():
        setattr(user, name, value)
    user.save(update_fields=list(fields))
    for _ in range(2):
        grant(info, "limit-deny", user)
    browser = Browser(info["base_url"], "limit-deny", REDIRECT_URI, client_id=client_id)
    return user, browser, browser.authorize()


def test_over_the_limit_phone_enrollment_is_refused(limited_realms, tenants, sms):
    user, browser, page = at_the_limit(limited_realms, tenants, "identity-enroll",
                                       phone_number="+15557000301", phone_verified=True)
    status, _, page = browser.submit(page, "kc-phone-form", {"phone_number": user.phone_number})
    assert status == 200 and 'id="kc-code-form"' in page, text(page)[:500]
    status, _, page = browser.submit(page, "kc-code-form", {"code": sms.wait_code(user.phone_number)})
    assert status == 403 and "There are too many sessions" in text(page), text(page)[:500]


def test_over_the_limit_a_magic_link_is_refused(limited_realms, tenants, outbox):
    user, browser, page = at_the_limit(limited_realms, tenants, "identity-passwordless",
                                       email=f"limited-{uuid.uuid4().hex[:8]}@example.com", email_verified=True)
    status, _, page = browser.submit(page, "kc-email-form", {"email": user.email})
    assert status == 200, text(page)[:500]
    # The suite's backend links to the `demo` realm; deployments put `{tenant}`, the realm's name, there.
    link = outbox.wait_link(user.email).replace(f"/realms/{REALM}/", "/realms/limit-deny/")
    status, _, page = browser.follow(*browser.get(link)[:2])  # the link resumes the login, which then ends
    assert status == 403 and "There are too many sessions" in text(page), (status, text(page)[:500])


def test_logout_ends_every_session_offline_ones_included(realm, backend, e2e_tenant, kc_admin):
    user = person(e2e_tenant)
    token = api_token(e2e_tenant)
    by_form = login("browser form", realm, "demo", user)
    by_grant = grant(realm, "demo", user)
    offline = grant(realm, "demo", user, scope="openid offline_access")
    status, sessions = call(backend, f"/v1/users/{user.id}/sessions", token)
    assert status == 200, sessions
    # Keycloak may keep or drop the regular session of the grant that asked for an offline token.
    regular, offline_ones = [s for s in sessions if not s["offline"]], [s for s in sessions if s["offline"]]
    assert len(regular) >= 2 and len(offline_ones) == 1, (
        sessions, kc_admin.request("GET", f"/admin/realms/demo/users/{user.id}/consents"))
    assert all(s["clients"] == ["identity-frontend"] and s["ip_address"] for s in sessions)
    assert all(s["started_at"] <= s["last_access_at"] for s in sessions)

    assert call(backend, f"/v1/users/{user.id}:logout", token, "POST") == (204, None)
    for tokens in (by_form, by_grant, offline):
        status, body = refresh(realm["base_url"], "demo", tokens["refresh_token"])
        assert status == 400 and body["error"] == "invalid_grant", body
    assert call(backend, f"/v1/users/{user.id}/sessions", token) == (200, [])
    assert call(backend, f"/v1/users/{user.id}:logout", token, "POST") == (204, None)  # idempotent


def test_deactivation_ends_every_session(realm, backend, e2e_tenant):
    user = person(e2e_tenant)
    token = api_token(e2e_tenant)
    sessions = [grant(realm, "demo", user), grant(realm, "demo", user, scope="openid offline_access")]
    status, body = call(backend, f"/v1/users/{user.id}:deactivate", token, "POST")
    assert status == 200 and body["enabled"] is False
    for tokens in sessions:
        assert refresh(realm["base_url"], "demo", tokens["refresh_token"])[0] == 400
    assert call(backend, f"/v1/users/{user.id}/sessions", token) == (200, [])


def test_with_keycloaks_user_cache_a_deactivation_is_missed_unless_it_signs_out(limited_realms, tenants, backend):
    """Keycloak checks `isEnabled()` at each refresh, but a cached user answers from the cache: a
    deactivation Keycloak is not told of is missed until the cache drops the user. Deactivating
    through the backend ends the sessions, so the cache no longer matters."""
    realm = "cached"
    info, tenant = limited_realms[realm], tenants[realm]
    missed, ended = person(tenant), person(tenant)
    missed_tokens, ended_tokens = grant(info, realm, missed), grant(info, realm, ended)
    type(missed).objects.filter(pk=missed.pk).update(is_active=False)  # behind the services' back
    assert refresh(info["base_url"], realm, missed_tokens["refresh_token"])[0] == 200
    assert call(backend, f"/v1/users/{ended.id}:deactivate", api_token(tenant), "POST")[0] == 200
    assert refresh(info["base_url"], realm, ended_tokens["refresh_token"])[0] == 400


def test_without_the_cache_keycloak_refuses_a_deactivated_users_refresh_by_itself(realm, e2e_tenant):
    """The provider reads the user from the backend at each refresh (`NO_CACHE`): even a
    deactivation Keycloak was not told of stops the refresh tokens."""
    user = person(e2e_tenant)
    tokens = grant(realm, "demo", user)
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    status, body = refresh(realm["base_url"], "demo", tokens["refresh_token"])
    assert status == 400 and body["error"] == "invalid_grant", body
