import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from profiles import services
from profiles.models import CelebrityProfile, FanProfile, IndexPageElement, ProfileStatusHistory, ReferralCode
from tests.factories import CelebrityProfileFactory, IndexPageElementFactory, ReferralCodeFactory, UserFactory
from users import admin as users_admin

pytestmark = pytest.mark.django_db

MODELS = ["celebrityprofile", "celebrityprofileimage", "celebrityprofilebanner", "celebrityprofileshortlink",
          "profilestatushistory", "referralcode", "fanprofile", "fanfollow", "fanfollowchange", "fanmedia",
          "globalpreference", "indexpageelement"]
ADDABLE = {"celebrityprofile", "celebrityprofileimage", "celebrityprofilebanner", "celebrityprofileshortlink",
           "referralcode", "globalpreference", "indexpageelement"}



@pytest.fixture
def world(tenant):
    star = CelebrityProfileFactory(user__tenant=tenant, display_name="Ada", images=[{"url": "https://x.example/a"}],
                                   banners=[{"url": "https://x.example/b"}])
    services.create_shortlink(star, "promo", "https://t.example")
    fan = UserFactory(password=None, tenant=tenant, username="fiona")
    services.follow_celebrity(fan.fan_profile, star)
    services.save_fan_media(fan.fan_profile, "00000000-0000-0000-0000-000000000001")
    services.set_global_preference(tenant, "default_language", "en")
    ReferralCodeFactory(tenant=tenant, assigned_to=star)
    IndexPageElementFactory(tenant=tenant, celebrity=star)
    return star, fan


@pytest.mark.parametrize("model", MODELS)
def test_every_changelist_change_and_add_page_renders(client, operator, world, model):
    r = client.get(f"/admin/profiles/{model}/")
    assert r.status_code == 200
    assert client.get(f"/admin/profiles/{model}/?q=a").status_code == 200
    add = client.get(f"/admin/profiles/{model}/add/")
    assert add.status_code == (200 if model in ADDABLE else 403)
    obj = apps.get_model("profiles", model).objects.first()
    assert client.get(f"/admin/profiles/{model}/{obj.pk}/change/").status_code == 200


def test_big_tables_never_count_everything(client, operator, world, monkeypatch):
    monkeypatch.setattr(users_admin.EstimatedCountPaginator, "exact_below", 0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE profiles_fanfollow, profiles_fanfollowchange, profiles_fanprofile, profiles_fanmedia")
    for model in ("fanfollow", "fanfollowchange", "fanprofile", "fanmedia"):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/admin/profiles/{model}/").status_code == 200
        counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and f"profiles_{model}" in q["sql"]]
        assert counts == [], (model, counts)


def test_fans_are_found_through_the_users_search(client, operator, world, tenant):
    UserFactory(password=None, tenant=tenant, username="zed")
    body = client.get("/admin/profiles/fanprofile/?q=fio").content.decode()
    assert "fiona" in body and "zed" not in body
    assert "Ada" in client.get("/admin/profiles/fanfollow/?q=fio").content.decode()


def test_soft_delete_and_restore_actions(client, operator, world):
    star, _ = world
    client.post("/admin/profiles/celebrityprofile/", {"action": "soft_delete", "_selected_action": [star.pk]})
    star.refresh_from_db()
    assert star.is_deleted and star.deleted_by_id == operator.pk and star.deleted_on
    client.post("/admin/profiles/celebrityprofile/", {"action": "restore", "_selected_action": [star.pk]})
    star.refresh_from_db()
    assert not star.is_deleted and star.deleted_on is None


def test_reset_usage_action(client, operator, tenant):
    code = ReferralCodeFactory(tenant=tenant, used=4, limit=5)
    client.post("/admin/profiles/referralcode/", {"action": "reset_usage", "_selected_action": [code.pk]})
    code.refresh_from_db()
    assert code.used == 0


def test_reorder_action_renumbers_with_the_selected_first(client, operator, tenant):
    a, b, c = (IndexPageElementFactory(tenant=tenant, position=p) for p in (1, 2, 3))
    client.post("/admin/profiles/indexpageelement/", {"action": "renumber", "_selected_action": [c.pk]})
    assert list(IndexPageElement.objects.order_by("position").values_list("pk", "position")) == [
        (c.pk, 10), (a.pk, 20), (b.pk, 30)]


def test_admin_creates_and_edits_a_celebrity_through_the_services(client, operator, tenant):
    user = UserFactory(password=None, tenant=tenant, first_name="Grace", last_name="Hopper")
    form = {"user": user.pk, "display_name": "Grace", "first_name": "Grace", "last_name": "Hopper",
            "store_code": "", "bio": "", "title": "", "company_name": "", "profile_video": "",
            "celeb_profile_type": "celebrity", "metadata": "", "status": "pending", "display_weight": 0}
    for prefix in ("images", "banners", "shortlinks", "status_history"):
        form.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    r = client.post("/admin/profiles/celebrityprofile/add/", form)
    assert r.status_code == 302, r.content.decode()[:3000]
    profile = CelebrityProfile.objects.get(pk=user.pk)
    assert profile.tenant == tenant and list(user.roles.values_list("name", flat=True)) == ["celebrity"]
    form.pop("user")
    form.update({"status": "active", "store_code": "grace",
                 "status_history-INITIAL_FORMS": 1, "status_history-TOTAL_FORMS": 1,
                 "status_history-0-id": ProfileStatusHistory.objects.get().pk,
                 "status_history-0-celebrity": user.pk})
    r = client.post(f"/admin/profiles/celebrityprofile/{user.pk}/change/", form)
    assert r.status_code == 302, r.content.decode()[:3000]
    profile.refresh_from_db()
    assert profile.status == "active" and profile.store_code == "grace"
    other = CelebrityProfileFactory(user__tenant=tenant)
    r = client.post(f"/admin/profiles/celebrityprofile/{other.pk}/change/",
                    {**form, "status_history-0-id": ProfileStatusHistory.objects.filter(celebrity=other).get().pk,
                     "status_history-0-celebrity": other.pk, "status": "pending"})
    assert r.status_code == 200 and b"has this store code" in r.content  # a form error, not a crash
    history = ProfileStatusHistory.objects.filter(celebrity=profile).order_by("occurred_on")
    assert list(history.values_list("status", flat=True)) == [
        "pending", "active"]


def test_admin_referral_code_add_goes_through_the_service(client, operator, tenant):
    r = client.post("/admin/profiles/referralcode/add/", {"tenant": tenant.pk, "code": "spring", "type": "",
                                                           "limit": 3})
    assert r.status_code == 302
    assert ReferralCode.objects.get().code == "SPRING"
    r = client.post("/admin/profiles/referralcode/add/", {"tenant": tenant.pk, "code": "Spring", "type": "",
                                                           "limit": 3})
    assert r.status_code == 200 and ReferralCode.objects.count() == 1  # a form error, not a crash
    assert FanProfile.objects.filter(pk=operator.pk).exists()  # operators are users too
