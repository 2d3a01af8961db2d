"""Who may call what, for every profiles route: anonymous, no scope, read, write, other tenant."""

import pytest
from rest_framework.test import APIClient

from profiles import services
from tests.factories import CelebrityProfileFactory, IndexPageElementFactory, ReferralCodeFactory, UserFactory

pytestmark = pytest.mark.django_db
U = "00000000-0000-0000-0000-000000000000"
READ, WRITE, PUBLIC = "profiles:read", "profiles:write", "public"

ENDPOINTS = [
    ("get", "/v1/celebrities", READ),
    ("post", "/v1/celebrities", WRITE),
    ("get", "/v1/celebrities:count", READ),
    ("get", "/v1/celebrities:created-per-day", READ),
    ("get", f"/v1/celebrities/{U}", READ),
    ("patch", f"/v1/celebrities/{U}", WRITE),
    ("post", f"/v1/celebrities/{U}/shortlinks", WRITE),
    ("post", f"/v1/celebrities/{U}:set-store-code", WRITE),
    ("post", f"/v1/celebrities/{U}:toggle-delete", WRITE),
    ("get", f"/v1/celebrities/{U}/followers:count", READ),
    ("get", "/v1/referral-codes", READ),
    ("post", "/v1/referral-codes", WRITE),
    ("get", "/v1/referral-codes:lookup", READ),
    ("post", "/v1/referral-codes:redeem", WRITE),
    ("get", f"/v1/referral-codes/{U}", READ),
    ("patch", f"/v1/referral-codes/{U}", WRITE),
    ("delete", f"/v1/referral-codes/{U}", WRITE),
    ("post", f"/v1/referral-codes/{U}:assign", WRITE),
    ("get", f"/v1/fans/{U}", READ),
    ("patch", f"/v1/fans/{U}", WRITE),
    ("post", f"/v1/fans/{U}:subscribe-mailing-list", WRITE),
    ("get", f"/v1/fans/{U}/follows", READ),
    ("get", f"/v1/fans/{U}/follows:count", READ),
    ("post", f"/v1/fans/{U}/follows:check", READ),
    ("post", f"/v1/fans/{U}/follows/{U}", WRITE),
    ("delete", f"/v1/fans/{U}/follows/{U}", WRITE),
    ("get", f"/v1/fans/{U}/media", READ),
    ("post", f"/v1/fans/{U}/media", WRITE),
    ("delete", f"/v1/fans/{U}/media/{U}", WRITE),
    ("get", "/v1/fan-media", WRITE),  # adminGetMedia: admins only
    ("get", "/v1/preferences", READ),
    ("put", "/v1/preferences/default_language", WRITE),
    ("get", "/v1/index-elements", READ),
    ("post", "/v1/index-elements", WRITE),
    ("post", "/v1/index-elements:reorder", WRITE),
    ("get", f"/v1/index-elements/{U}", READ),
    ("patch", f"/v1/index-elements/{U}", WRITE),
    ("delete", f"/v1/index-elements/{U}", WRITE),
    ("get", "/v1/tenants/acme/celebrities", PUBLIC),
    ("get", f"/v1/tenants/acme/celebrities/{U}", PUBLIC),
    ("get", "/v1/tenants/acme/index-page", PUBLIC),
]


def call(client, method, path):
    return getattr(client, method)(path, {}, format="json")


def test_every_route_and_method_is_listed_here():
    from profiles.api.urls import urlpatterns

    # DRF adds "head" to the actions of a GET route once it has served one.
    assert sum(len(set(pattern.callback.actions) - {"head"}) for pattern in urlpatterns) == len(ENDPOINTS)


@pytest.mark.parametrize("method, path, scope", ENDPOINTS)
def test_anonymous(tenant, method, path, scope):
    r = call(APIClient(), method, path)
    if scope == PUBLIC:
        assert r.status_code in (200, 404), r.content
    else:
        assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("method, path, scope", ENDPOINTS)
def test_a_client_without_profiles_scopes_is_403(make_client, tenant, method, path, scope):
    r = call(make_client(tenant, ["users:read", "users:write", "credentials:verify"]), method, path)
    if scope == PUBLIC:
        assert r.status_code in (200, 404)
    else:
        assert r.status_code == 403 and scope in r.json()["message"]


@pytest.mark.parametrize("method, path, scope", ENDPOINTS)
def test_read_scope_reads_only(make_client, tenant, method, path, scope):
    r = call(make_client(tenant, [READ]), method, path)
    if scope == WRITE:
        assert r.status_code == 403 and WRITE in r.json()["message"]
    else:
        assert r.status_code != 403 and r.status_code < 500, r.content


@pytest.mark.parametrize("method, path, scope", ENDPOINTS)
def test_write_scope_writes(make_client, tenant, method, path, scope):
    """Write does not imply read, as for users: a reading admin holds both."""
    r = call(make_client(tenant, [WRITE]), method, path)
    if scope == READ:
        assert r.status_code == 403 and READ in r.json()["message"]
    else:
        assert r.status_code != 403 and r.status_code < 500, r.content


@pytest.mark.parametrize("method, path, scope", [e for e in ENDPOINTS if U in e[1]])
def test_other_tenants_objects_are_404(papi, other_tenant, method, path, scope):
    """Each object route is tried with real ids of the other tenant (public ones under our slug)."""
    star = CelebrityProfileFactory(user__tenant=other_tenant)
    fan = UserFactory(password=None, tenant=other_tenant)
    code = ReferralCodeFactory(tenant=other_tenant)
    element = IndexPageElementFactory(tenant=other_tenant)
    media = services.save_fan_media(fan.fan_profile, U)[0]
    real = (path.replace(f"celebrities/{U}", f"celebrities/{star.pk}").replace(f"fans/{U}", f"fans/{fan.pk}")
            .replace(f"follows/{U}", f"follows/{star.pk}").replace(f"referral-codes/{U}", f"referral-codes/{code.pk}")
            .replace(f"index-elements/{U}", f"index-elements/{element.pk}")
            .replace(f"media/{U}", f"media/{media.media_id}"))
    body = {"store_code": "x", "name": "n", "body": "b", "assigned_to": None, "celebrity_user_ids": [str(star.pk)],
            "media_id": U}
    client = papi if scope != PUBLIC else APIClient()
    r = client.get(real) if method == "get" else getattr(client, method)(real, body, format="json")
    assert r.status_code == 404, (real, r.status_code, r.content)
