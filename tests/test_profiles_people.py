"""People signed in with Keycloak on the profiles routes: fans manage their own, celebrities
edit their own profile, the tenant's admins do everything (README's matrix)."""

import pytest

from profiles import services as profile_services
from tests.factories import RoleFactory, UserFactory
from tests.test_people_access import as_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def fan(tenant):
    return UserFactory(tenant=tenant, username="fan")


@pytest.fixture
def star(tenant):
    user = UserFactory(tenant=tenant, username="star")
    profile_services.create_celebrity(user, display_name="Star")
    return user


def test_a_fan_follows_and_unfollows_for_themselves_only(tenant, fan, star):
    client = as_person(fan)
    assert client.post(f"/v1/fans/{fan.pk}/follows/{star.pk}").status_code in (200, 201, 204)
    assert client.get(f"/v1/fans/{fan.pk}/follows:count").json()["count"] == 1
    other = UserFactory(tenant=tenant)
    assert client.post(f"/v1/fans/{other.pk}/follows/{star.pk}").status_code == 403
    assert client.get(f"/v1/fans/{other.pk}/follows").status_code == 403
    assert client.delete(f"/v1/fans/{fan.pk}/follows/{star.pk}").status_code in (200, 204)


def test_a_person_reaches_no_admin_route(fan):
    client = as_person(fan)
    for path in ("/v1/celebrities", "/v1/referral-codes", "/v1/fan-media", "/v1/preferences", "/v1/index-elements"):
        assert client.get(path).status_code == 403, path


def test_a_celebrity_edits_their_own_profile_but_not_its_curation(star, tenant):
    client = as_person(star)
    r = client.patch(f"/v1/celebrities/{star.pk}", {"bio": "Mine"}, format="json")
    assert r.status_code == 200 and r.json()["bio"] == "Mine"
    r = client.patch(f"/v1/celebrities/{star.pk}", {"status": "active", "display_weight": 99}, format="json")
    assert r.status_code == 400 and set(r.json()["fields"]) == {"status", "display_weight"}
    other = UserFactory(tenant=tenant)
    profile_services.create_celebrity(other, display_name="Other")
    assert client.patch(f"/v1/celebrities/{other.pk}", {"bio": "Not mine"}, format="json").status_code == 403
    assert client.post(f"/v1/celebrities/{star.pk}:toggle-delete", {}, format="json").status_code == 403


def test_the_tenants_admin_curates_any_profile(star, tenant):
    admin = UserFactory(tenant=tenant)
    admin.roles.add(RoleFactory(tenant=tenant, name="admin"))
    client = as_person(admin)
    r = client.patch(f"/v1/celebrities/{star.pk}", {"status": "active", "display_weight": 99}, format="json")
    assert r.status_code == 200 and r.json()["display_weight"] == 99
    assert client.get("/v1/celebrities").status_code == 200


def test_another_tenants_person_is_not_found(star, other_tenant):
    stranger = UserFactory(tenant=other_tenant)
    client = as_person(stranger)
    assert client.post(f"/v1/fans/{stranger.pk}/follows/{star.pk}").status_code == 404
