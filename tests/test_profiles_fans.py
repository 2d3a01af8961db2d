import uuid

import pytest
from django.db import transaction

from profiles import services
from profiles.models import CelebrityProfile, FanFollow, FanFollowChange, FanMedia, FanProfile, follow_id
from tests.factories import CelebrityProfileFactory, UserFactory
from tests.test_concurrency import race
from users import services as user_services
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def fan(tenant):
    return UserFactory(password=None, tenant=tenant, username="fan", email="Fan@Example.com", first_name="Fiona", last_name="Fan")


@pytest.fixture
def star(tenant):
    return CelebrityProfileFactory(user__tenant=tenant, display_name="Star")


def followers(star):
    return CelebrityProfile.objects.get(pk=star.pk).follower_count


class TestFanProfile:
    def test_every_new_user_gets_a_fan_profile_in_the_same_transaction(self, papi, api, tenant):
        r = api.post("/v1/users", {"username": "newcomer"}, format="json")
        user = User.objects.get(pk=r.json()["id"])
        assert FanProfile.objects.get(pk=user.pk).tenant == tenant
        created = UserFactory(password=None, tenant=tenant)
        assert FanProfile.objects.filter(pk=created.pk).exists()
        with pytest.raises(RuntimeError), transaction.atomic():
            rolled_back = user_services.create_user(tenant, username="rolled-back")
            raise RuntimeError
        assert not FanProfile.objects.filter(pk=rolled_back.pk).exists()

    def test_get_and_patch(self, papi, fan):
        r = papi.get(f"/v1/fans/{fan.pk}")
        assert r.status_code == 200 and r.json()["fan_user_id"] == str(fan.pk)
        r = papi.patch(f"/v1/fans/{fan.pk}", {"metadata": '{"a":1}', "fan_profile_exclusively": True}, format="json")
        assert r.status_code == 200 and r.json()["fan_profile_exclusively"] is True
        assert FanProfile.objects.get(pk=fan.pk).metadata == '{"a":1}'
        r = papi.patch(f"/v1/fans/{fan.pk}", {"created_on": "2020-01-01T00:00:00Z", "x": 1}, format="json")
        assert r.status_code == 400 and set(r.json()["fields"]) == {"created_on", "x"}

    def test_other_tenants_fan_is_404(self, papi, other_tenant):
        stranger = UserFactory(password=None, tenant=other_tenant)
        assert papi.get(f"/v1/fans/{stranger.pk}").status_code == 404
        assert papi.post(f"/v1/fans/{stranger.pk}/media", {"media_id": str(uuid.uuid4())},
                         format="json").status_code == 404


class TestFollow:
    def test_follow_is_idempotent_counts_once_and_audits_once(self, papi, fan, star):
        url = f"/v1/fans/{fan.pk}/follows/{star.pk}"
        r = papi.post(url, {"followed_metadata": "from the home page"}, format="json")
        assert r.status_code == 201, r.json()
        assert r.json()["id"] == follow_id(fan.pk, star.pk)
        assert r.json()["celebrity"]["follower_count"] == 1
        assert r.json()["followed_metadata"] == "from the home page"
        assert papi.post(url).status_code == 200
        assert followers(star) == 1
        assert list(FanFollowChange.objects.values_list("change", flat=True)) == ["follow"]

    def test_unfollow_is_idempotent_soft_and_refollow_counts_again(self, papi, fan, star):
        url = f"/v1/fans/{fan.pk}/follows/{star.pk}"
        papi.post(url)
        assert papi.delete(url).status_code == 204
        assert papi.delete(url).status_code == 204
        assert followers(star) == 0
        follow = FanFollow.objects.get()
        assert follow.unfollowed_on is not None  # kept, not deleted
        assert papi.post(url).status_code == 201
        assert followers(star) == 1 and FanFollow.objects.get().unfollowed_on is None
        changes = FanFollowChange.objects.order_by("occurred_on").values_list("change", flat=True)
        assert list(changes) == ["follow", "unfollow", "follow"]

    def test_unfollow_without_a_follow_changes_nothing(self, papi, fan, star):
        assert papi.delete(f"/v1/fans/{fan.pk}/follows/{star.pk}").status_code == 204
        assert followers(star) == 0 and not FanFollowChange.objects.exists()

    def test_cannot_follow_deleted_foreign_unknown_or_oneself(self, papi, tenant, other_tenant, fan, star):
        services.toggle_celebrity_deleted(star)
        assert papi.post(f"/v1/fans/{fan.pk}/follows/{star.pk}").status_code == 404
        foreign = CelebrityProfileFactory(user__tenant=other_tenant)
        assert papi.post(f"/v1/fans/{fan.pk}/follows/{foreign.pk}").status_code == 404
        assert papi.post(f"/v1/fans/{fan.pk}/follows/{uuid.uuid4()}").status_code == 404
        me = CelebrityProfileFactory(user=fan)
        r = papi.post(f"/v1/fans/{fan.pk}/follows/{me.pk}")
        assert r.status_code == 400 and "celebrity_user_id" in r.json()["fields"]
        live = CelebrityProfileFactory(user__tenant=tenant)
        r = papi.post(f"/v1/fans/{fan.pk}/follows/{live.pk}", {"extra": 1}, format="json")
        assert r.status_code == 400 and "extra" in r.json()["fields"]

    def test_deleting_a_fan_takes_their_follows_out_of_the_counts(self, papi, tenant, fan, star):
        other = UserFactory(password=None, tenant=tenant)
        for user in (fan, other):
            papi.post(f"/v1/fans/{user.pk}/follows/{star.pk}")
        papi.delete(f"/v1/fans/{other.pk}/follows/{star.pk}")
        assert followers(star) == 1
        user_services.delete_user(fan)
        assert followers(star) == 0
        user_services.delete_user(other)
        assert followers(star) == 0

    def test_followed_pages_with_one_query_and_counts(self, papi, tenant, fan, django_assert_num_queries):
        stars = [CelebrityProfileFactory(user__tenant=tenant) for _ in range(5)]
        for s in stars:
            papi.post(f"/v1/fans/{fan.pk}/follows/{s.pk}")
        papi.delete(f"/v1/fans/{fan.pk}/follows/{stars[0].pk}")
        expected = sorted(str(s.pk) for s in stars[1:])
        with django_assert_num_queries(2):  # the fan, the page with its celebrities
            body = papi.get(f"/v1/fans/{fan.pk}/follows?limit=3").json()
        seen = [f["celebrity"]["celebrity_user_id"] for f in body["results"]]
        seen += [f["celebrity"]["celebrity_user_id"] for f in papi.get(body["next"]).json()["results"]]
        assert seen == expected
        assert papi.get(f"/v1/fans/{fan.pk}/follows:count").json() == {"count": 4}
        assert papi.get(f"/v1/fans/{fan.pk}/follows?sort=x").status_code == 400

    def test_deleted_celebrities_leave_a_readers_followed_list(self, papi, reader, tenant, fan, star):
        papi.post(f"/v1/fans/{fan.pk}/follows/{star.pk}")
        services.toggle_celebrity_deleted(star)
        assert reader.get(f"/v1/fans/{fan.pk}/follows").json()["results"] == []
        assert reader.get(f"/v1/fans/{fan.pk}/follows:count").json() == {"count": 0}
        assert len(papi.get(f"/v1/fans/{fan.pk}/follows").json()["results"]) == 1

    def test_do_i_follow_answers_in_one_query(self, papi, tenant, fan, django_assert_num_queries):
        followed, unfollowed, never = (CelebrityProfileFactory(user__tenant=tenant) for _ in range(3))
        papi.post(f"/v1/fans/{fan.pk}/follows/{followed.pk}")
        papi.post(f"/v1/fans/{fan.pk}/follows/{unfollowed.pk}")
        papi.delete(f"/v1/fans/{fan.pk}/follows/{unfollowed.pk}")
        asked = [str(followed.pk), str(unfollowed.pk), str(never.pk), str(uuid.uuid4())]
        with django_assert_num_queries(1):
            assert services.followed_among(FanProfile(pk=fan.pk), asked) == {followed.pk}
        r = papi.post(f"/v1/fans/{fan.pk}/follows:check", {"celebrity_user_ids": asked}, format="json")
        assert r.status_code == 200
        assert r.json() == {"follows": {asked[0]: True, asked[1]: False, asked[2]: False, asked[3]: False}}

    @pytest.mark.parametrize("body", [{}, {"celebrity_user_ids": []}, {"celebrity_user_ids": ["x"]},
                                      {"celebrity_user_ids": [str(uuid.uuid4())] * 501}])
    def test_bad_check_is_400(self, papi, fan, body):
        r = papi.post(f"/v1/fans/{fan.pk}/follows:check", body, format="json")
        assert r.status_code == 400 and "celebrity_user_ids" in r.json()["fields"]

    def test_follower_count_endpoint_reads_the_counter(self, papi, reader, tenant, star, django_assert_num_queries):
        CelebrityProfile.objects.filter(pk=star.pk).update(follower_count=1_000_000)
        reader.get(f"/v1/celebrities/{star.pk}/followers:count")
        with django_assert_num_queries(1):
            r = reader.get(f"/v1/celebrities/{star.pk}/followers:count")
        assert r.json() == {"count": 1_000_000}


@pytest.mark.django_db(transaction=True)
def test_concurrent_follows_and_unfollows_keep_the_counter_exact(tenant):
    star = CelebrityProfileFactory(user__tenant=tenant)
    fan = UserFactory(password=None, tenant=tenant)
    fans = [UserFactory(password=None, tenant=tenant) for _ in range(4)]
    profile = FanProfile.objects.get(pk=fan.pk)

    def work(i):
        from django.db import connection

        try:
            if i < 6:  # six concurrent follows of one pair
                services.follow_celebrity(profile, star)
            else:  # and four other fans at once
                services.follow_celebrity(FanProfile.objects.get(pk=fans[i - 6].pk), star)
        finally:
            connection.close()

    race(10, work)
    assert followers(star) == 5
    assert FanFollowChange.objects.filter(fan=profile).count() == 1


class TestMedia:
    def test_save_list_remove(self, papi, fan, tenant, django_assert_num_queries):
        ids = sorted(str(uuid.uuid4()) for _ in range(3))
        for media_id in ids:
            assert papi.post(f"/v1/fans/{fan.pk}/media", {"media_id": media_id}, format="json").status_code == 201
        assert papi.post(f"/v1/fans/{fan.pk}/media", {"media_id": ids[0]}, format="json").status_code == 200
        papi.get(f"/v1/fans/{fan.pk}/media")
        with django_assert_num_queries(2):  # the fan, the page
            body = papi.get(f"/v1/fans/{fan.pk}/media?limit=2").json()
        assert [m["media_id"] for m in body["results"]] == ids[:2]
        assert papi.delete(f"/v1/fans/{fan.pk}/media/{ids[0]}").status_code == 204
        assert papi.delete(f"/v1/fans/{fan.pk}/media/{ids[0]}").status_code == 204
        assert FanMedia.objects.count() == 2

    @pytest.mark.parametrize("body", [{}, {"media_id": "x"}, {"media_id": str(uuid.uuid4()), "fan_user_id": "x"}])
    def test_bad_media_is_400(self, papi, fan, body):
        assert papi.post(f"/v1/fans/{fan.pk}/media", body, format="json").status_code == 400

    def test_admin_lists_media_of_the_tenant_with_filters(self, papi, reader, tenant, other_tenant, fan,
                                                           django_assert_num_queries):
        other_fan = UserFactory(password=None, tenant=tenant)
        shared = uuid.uuid4()
        services.save_fan_media(FanProfile.objects.get(pk=fan.pk), shared)
        services.save_fan_media(FanProfile.objects.get(pk=other_fan.pk), shared)
        services.save_fan_media(FanProfile.objects.get(pk=other_fan.pk), uuid.uuid4())
        services.save_fan_media(FanProfile.objects.get(pk=UserFactory(password=None, tenant=other_tenant).pk), shared)
        papi.get("/v1/fan-media")
        with django_assert_num_queries(1):
            assert len(papi.get("/v1/fan-media").json()["results"]) == 3
        assert len(papi.get(f"/v1/fan-media?media_id={shared}").json()["results"]) == 2
        assert len(papi.get(f"/v1/fan-media?fan_user_id={other_fan.pk}").json()["results"]) == 2
        assert papi.get("/v1/fan-media?media_id=x").status_code == 400
        assert reader.get("/v1/fan-media").status_code == 403  # adminGetMedia is for admins


class TestPreferences:
    def test_set_and_get(self, papi, reader, other_papi):
        assert reader.get("/v1/preferences").json() == []
        r = papi.put("/v1/preferences/default_language", {"preference_value": "fr"}, format="json")
        assert r.status_code == 200 and r.json() == {"type": "default_language", "preference_value": "fr"}
        papi.put("/v1/preferences/default_language", {"preference_value": "de"}, format="json")
        papi.put("/v1/preferences/marketing_emails", {"preference_value": "true"}, format="json")
        assert reader.get("/v1/preferences").json() == [
            {"type": "default_language", "preference_value": "de"},
            {"type": "marketing_emails", "preference_value": "true"},
        ]
        assert other_papi.get("/v1/preferences").json() == []

    @pytest.mark.parametrize("kind, body, bad", [
        ("colour", {"preference_value": "x"}, "type"),
        ("default_language", {}, "preference_value"),
        ("default_language", {"preference_value": "x", "extra": 1}, "extra"),
        ("default_language", {"preference_value": None}, "preference_value"),
    ])
    def test_bad_preferences_are_400(self, papi, kind, body, bad):
        r = papi.put(f"/v1/preferences/{kind}", body, format="json")
        assert r.status_code == 400 and bad in r.json()["fields"]
