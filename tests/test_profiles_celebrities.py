import datetime
import uuid

import pytest
from django.utils import timezone

from profiles import services
from profiles.models import CelebrityProfile, ProfileStatusHistory
from tests.factories import CelebrityProfileFactory, UserFactory
from users.models import Role

pytestmark = pytest.mark.django_db


def names(api, query=""):
    r = api.get(f"/v1/celebrities?{query}")
    assert r.status_code == 200, r.json()
    return [p["display_name"] for p in r.json()["results"]]


class TestCreate:
    def test_creates_a_profile_and_gives_the_celebrity_role(self, papi, tenant):
        user = UserFactory(password=None, tenant=tenant, first_name="Ada", last_name="Lovelace")
        r = papi.post("/v1/celebrities", {"celebrity_user_id": str(user.pk), "bio": "Analyst",
                                          "celeb_profile_type": "expert", "display_weight": 5,
                                          "images": [{"url": "https://img.example/a.png", "meta_data": "{}"}]},
                      format="json")
        assert r.status_code == 201, r.json()
        body = r.json()
        assert body["celebrity_user_id"] == str(user.pk)
        assert body["display_name"] == "Ada Lovelace" and body["first_name"] == "Ada"
        assert body["status"] == "pending" and body["follower_count"] == 0 and body["is_deleted"] is False
        assert [i["url"] for i in body["images"]] == ["https://img.example/a.png"]
        assert body["shortlinks"] == []
        assert list(user.roles.values_list("name", flat=True)) == ["celebrity"]
        assert Role.objects.filter(tenant=tenant, name="celebrity").count() == 1
        assert list(ProfileStatusHistory.objects.values_list("status", flat=True)) == ["pending"]

    def test_reuses_an_existing_celebrity_role(self, papi, tenant):
        role = Role.objects.create(tenant=tenant, name="celebrity")
        user = UserFactory(password=None, tenant=tenant)
        assert papi.post("/v1/celebrities", {"celebrity_user_id": str(user.pk)}, format="json").status_code == 201
        assert list(user.roles.all()) == [role]

    def test_a_second_profile_for_one_user_is_409(self, papi, tenant):
        user = UserFactory(password=None, tenant=tenant)
        assert papi.post("/v1/celebrities", {"celebrity_user_id": str(user.pk)}, format="json").status_code == 201
        r = papi.post("/v1/celebrities", {"celebrity_user_id": str(user.pk)}, format="json")
        assert r.status_code == 409 and "celebrity_user_id" in r.json()["fields"]

    @pytest.mark.parametrize("fields, bad", [
        ({}, "celebrity_user_id"),
        ({"celebrity_user_id": "nope"}, "celebrity_user_id"),
        ({"celebrity_user_id": str(uuid.uuid4())}, "celebrity_user_id"),
        ({"status": "famous"}, "status"),
        ({"celeb_profile_type": "alien"}, "celeb_profile_type"),
        ({"display_weight": "heavy"}, "display_weight"),
        ({"profile_video": "javascript:alert(1)"}, "profile_video"),
        ({"images": [{"url": "not a url"}]}, "images"),
        ({"images": [{"url": "https://x.example/a.png", "colour": "red"}]}, "images"),
        ({"store_code": "abc"}, "store_code"),
        ({"follower_count": 10}, "follower_count"),
        ({"nickname": "x"}, "nickname"),
    ])
    def test_bad_input_is_400_and_writes_nothing(self, papi, tenant, fields, bad):
        user = UserFactory(password=None, tenant=tenant)
        body = {"celebrity_user_id": str(user.pk), **fields}
        if fields == {}:
            body = {}
        r = papi.post("/v1/celebrities", body, format="json")
        assert r.status_code == 400, r.json()
        assert bad in r.json()["fields"], r.json()
        assert not CelebrityProfile.objects.exists()

    def test_a_user_of_another_tenant_cannot_become_a_celebrity_here(self, papi, other_tenant):
        user = UserFactory(password=None, tenant=other_tenant)
        r = papi.post("/v1/celebrities", {"celebrity_user_id": str(user.pk)}, format="json")
        assert r.status_code == 400 and "celebrity_user_id" in r.json()["fields"]


class TestUpdate:
    def test_patch_changes_given_fields_and_records_status_changes(self, papi, tenant):
        profile = CelebrityProfileFactory(user__tenant=tenant, bio="old", title="Dr")
        r = papi.patch(f"/v1/celebrities/{profile.pk}", {"bio": "new", "status": "active"}, format="json")
        assert r.status_code == 200, r.json()
        assert r.json()["bio"] == "new" and r.json()["title"] == "Dr" and r.json()["status"] == "active"
        papi.patch(f"/v1/celebrities/{profile.pk}", {"status": "active", "title": "Prof"}, format="json")
        papi.patch(f"/v1/celebrities/{profile.pk}", {"status": "inactive"}, format="json")
        history = ProfileStatusHistory.objects.filter(celebrity=profile).order_by("occurred_on")
        assert list(history.values_list("status", flat=True)) == ["pending", "active", "inactive"]

    def test_images_and_banners_are_replaced_when_given(self, papi, tenant):
        profile = CelebrityProfileFactory(user__tenant=tenant, images=[{"url": "https://x.example/1.png"}])
        r = papi.patch(f"/v1/celebrities/{profile.pk}", {"banners": [{"url": "https://x.example/b.png"}]},
                       format="json")
        assert [i["url"] for i in r.json()["images"]] == ["https://x.example/1.png"]
        assert [b["url"] for b in r.json()["banners"]] == ["https://x.example/b.png"]
        r = papi.patch(f"/v1/celebrities/{profile.pk}", {"images": []}, format="json")
        assert r.json()["images"] == []

    def test_update_never_writes_back_a_stale_follower_count(self, papi, tenant):
        profile = CelebrityProfileFactory(user__tenant=tenant)
        CelebrityProfile.objects.filter(pk=profile.pk).update(follower_count=7)
        services.update_celebrity(profile, {"bio": "x"})  # `profile` still holds 0
        profile.refresh_from_db()
        assert profile.follower_count == 7

    @pytest.mark.parametrize("fields, bad", [
        ({"status": "gone"}, "status"),
        ({"is_deleted": True}, "is_deleted"),
        ({"celebrity_user_id": str(uuid.uuid4())}, "celebrity_user_id"),
        ({"metadata": "x" * 70_000}, "metadata"),
    ])
    def test_bad_update_is_400(self, papi, tenant, fields, bad):
        profile = CelebrityProfileFactory(user__tenant=tenant)
        r = papi.patch(f"/v1/celebrities/{profile.pk}", fields, format="json")
        assert r.status_code == 400 and bad in r.json()["fields"]


class TestShortlinksAndStoreCode:
    def test_create_shortlink_and_show_it_in_the_detail(self, papi, tenant):
        profile = CelebrityProfileFactory(user__tenant=tenant)
        r = papi.post(f"/v1/celebrities/{profile.pk}/shortlinks", {"name": "promo", "body": "https://t.example/p"},
                      format="json")
        assert r.status_code == 201, r.json()
        assert papi.get(f"/v1/celebrities/{profile.pk}").json()["shortlinks"] == [r.json()]
        again = papi.post(f"/v1/celebrities/{profile.pk}/shortlinks", {"name": "promo", "body": "x"}, format="json")
        assert again.status_code == 409 and "name" in again.json()["fields"]
        assert papi.post(f"/v1/celebrities/{profile.pk}/shortlinks", {"name": "x"}, format="json").status_code == 400

    def test_store_code_is_unique_per_tenant_and_clearable(self, papi, other_papi, tenant, other_tenant):
        one = CelebrityProfileFactory(user__tenant=tenant)
        two = CelebrityProfileFactory(user__tenant=tenant)
        elsewhere = CelebrityProfileFactory(user__tenant=other_tenant)
        r = papi.post(f"/v1/celebrities/{one.pk}:set-store-code", {"store_code": "ada"}, format="json")
        assert r.status_code == 200 and r.json()["store_code"] == "ada"
        r = papi.post(f"/v1/celebrities/{two.pk}:set-store-code", {"store_code": "ada"}, format="json")
        assert r.status_code == 409 and "store_code" in r.json()["fields"]
        r = other_papi.post(f"/v1/celebrities/{elsewhere.pk}:set-store-code", {"store_code": "ada"}, format="json")
        assert r.status_code == 200
        assert papi.post(f"/v1/celebrities/{one.pk}:set-store-code", {"store_code": None},
                         format="json").json()["store_code"] is None
        r = papi.post(f"/v1/celebrities/{one.pk}:set-store-code", {"store_code": "no spaces"}, format="json")
        assert r.status_code == 400 and "store_code" in r.json()["fields"]


class TestSoftDelete:
    def test_toggle_records_who_and_when_and_is_reversible(self, papi, reader, tenant):
        profile = CelebrityProfileFactory(user__tenant=tenant)
        operator = UserFactory(password=None, tenant=tenant)
        r = papi.post(f"/v1/celebrities/{profile.pk}:toggle-delete", {"deleted_by_id": str(operator.pk)},
                      format="json")
        assert r.status_code == 200, r.json()
        assert r.json()["is_deleted"] is True and r.json()["deleted_by_id"] == str(operator.pk)
        assert r.json()["deleted_on"]
        assert reader.get(f"/v1/celebrities/{profile.pk}").status_code == 404  # readers do not see it
        assert papi.get(f"/v1/celebrities/{profile.pk}").status_code == 200  # admins do
        r = papi.post(f"/v1/celebrities/{profile.pk}:toggle-delete")
        assert r.json()["is_deleted"] is False and r.json()["deleted_on"] is None and r.json()["deleted_by_id"] is None
        assert reader.get(f"/v1/celebrities/{profile.pk}").status_code == 200

    def test_bad_deleter_is_400(self, papi, tenant):
        profile = CelebrityProfileFactory(user__tenant=tenant)
        r = papi.post(f"/v1/celebrities/{profile.pk}:toggle-delete", {"deleted_by_id": "me"}, format="json")
        assert r.status_code == 400


class TestQuery:
    @pytest.fixture
    def stars(self, tenant, other_tenant):
        def make(name, weight, **fields):
            return CelebrityProfileFactory(user__tenant=tenant, display_name=name, display_weight=weight, **fields)

        make("Ada Lovelace", 50, status="active", celeb_profile_type="expert", first_name="Ada", last_name="Lovelace")
        make("Grace Hopper", 90, status="active", first_name="Grace", last_name="Hopper")
        make("Alan Turing", 70, status="pending", celeb_profile_type="expert", first_name="Alan", last_name="Turing")
        gone = make("Hidden Deleted", 100, status="active")
        services.toggle_celebrity_deleted(gone)
        CelebrityProfileFactory(user__tenant=other_tenant, display_name="Ada Elsewhere", display_weight=99)

    @pytest.mark.parametrize("query, expected", [
        ("", ["Grace Hopper", "Alan Turing", "Ada Lovelace"]),
        ("status=active", ["Grace Hopper", "Ada Lovelace"]),
        ("type=expert", ["Alan Turing", "Ada Lovelace"]),
        ("type=expert&status=active", ["Ada Lovelace"]),
        ("q=ada", ["Ada Lovelace"]),
        ("q=LOVE", ["Ada Lovelace"]),
        ("q=ing", ["Alan Turing"]),
        ("q=a", ["Alan Turing", "Ada Lovelace"]),  # short words match at the start
        ("q=al+tur", ["Alan Turing"]),
        ("q=nobody", []),
        ("deleted=true", ["Hidden Deleted"]),
        ("deleted=false", ["Grace Hopper", "Alan Turing", "Ada Lovelace"]),
    ])
    def test_filters(self, papi, stars, query, expected):
        assert names(papi, query) == expected

    @pytest.mark.parametrize("query, field", [
        ("status=famous", "status"), ("type=x", "type"), ("deleted=maybe", "deleted"), ("colour=red", "colour"),
        ("limit=0x", "limit"), ("cursor=%%%", "cursor"),
    ])
    def test_bad_filters_are_400(self, papi, stars, query, field):
        r = papi.get(f"/v1/celebrities?{query}")
        assert r.status_code == 400 and field in r.json()["fields"], r.json()

    def test_deleted_profiles_are_for_admins_only(self, reader, stars):
        r = reader.get("/v1/celebrities?deleted=true")
        assert r.status_code == 403 and r.json()["code"] == "permission_denied"

    def test_pages_by_weight_with_a_cursor_and_by_offset(self, papi, tenant):
        for i in range(7):
            CelebrityProfileFactory(user__tenant=tenant, display_name=f"p{i}", display_weight=i // 3)
        seen, url = [], "/v1/celebrities?limit=2"
        while url:
            body = papi.get(url).json()
            assert set(body) == {"results", "next"}
            seen += [(p["display_weight"], p["celebrity_user_id"]) for p in body["results"]]
            url = body["next"]
        assert len(seen) == 7 and seen == sorted(seen, reverse=True)
        offset = papi.get("/v1/celebrities?offset=2&limit=2").json()
        assert [(p["display_weight"], p["celebrity_user_id"]) for p in offset["results"]] == seen[2:4]

    def test_list_has_a_fixed_query_count(self, papi, tenant, django_assert_num_queries):
        papi.get("/v1/celebrities?limit=1")  # the first call checks the token (then cached)
        for i in range(3):
            CelebrityProfileFactory(user__tenant=tenant, images=[{"url": "https://x.example/i.png"}])
        # the page, its images, its banners: whatever the page size
        with django_assert_num_queries(3):
            papi.get("/v1/celebrities?limit=100")
        for i in range(10):
            CelebrityProfileFactory(user__tenant=tenant, banners=[{"url": "https://x.example/b.png"}])
        with django_assert_num_queries(3):
            assert len(papi.get("/v1/celebrities?limit=100&status=pending").json()["results"]) == 13


class TestCountsAndAnalytics:
    def test_counts_by_status_and_type(self, papi, tenant, other_tenant):
        CelebrityProfileFactory(user__tenant=tenant, status="active", celeb_profile_type="expert")
        CelebrityProfileFactory(user__tenant=tenant, status="active")
        CelebrityProfileFactory(user__tenant=tenant)
        gone = CelebrityProfileFactory(user__tenant=tenant, status="active")
        services.toggle_celebrity_deleted(gone)
        CelebrityProfileFactory(user__tenant=other_tenant, status="active")
        r = papi.get("/v1/celebrities:count")
        assert r.status_code == 200
        assert r.json() == {"total": 3, "by_status": {"active": 2, "pending": 1},
                            "by_type": {"expert": 1, "celebrity": 2}}
        assert papi.get("/v1/celebrities:count?status=x").status_code == 400

    def test_new_profiles_per_day(self, papi, tenant):
        today = timezone.now().date()
        for days_ago in (0, 0, 2):
            profile = CelebrityProfileFactory(user__tenant=tenant)
            CelebrityProfile.objects.filter(pk=profile.pk).update(
                created_on=timezone.now() - datetime.timedelta(days=days_ago))
        since = today - datetime.timedelta(days=3)
        r = papi.get(f"/v1/celebrities:created-per-day?since={since}&until={today}")
        assert r.status_code == 200, r.json()
        assert [d["count"] for d in r.json()["days"]] == [0, 1, 0, 2]
        assert r.json()["days"][0]["date"] == r.json()["since"] == str(since)
        assert len(papi.get("/v1/celebrities:created-per-day").json()["days"]) == 30

    @pytest.mark.parametrize("query, field", [
        ("since=2024-02-01&until=2024-01-01", "until"),
        ("since=2020-01-01&until=2024-01-01", "until"),
        ("since=yesterday", "since"),
        ("days=3", "days"),
    ])
    def test_bad_ranges_are_400(self, papi, query, field):
        r = papi.get(f"/v1/celebrities:created-per-day?{query}")
        assert r.status_code == 400 and field in r.json()["fields"], r.json()
