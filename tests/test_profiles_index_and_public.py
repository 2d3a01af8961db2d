import uuid

import pytest

from profiles import services
from profiles.models import IndexPageElement
from tests.factories import CelebrityProfileFactory, IndexPageElementFactory

pytestmark = pytest.mark.django_db


class TestIndexElements:
    def test_crud(self, papi, reader, tenant):
        star = CelebrityProfileFactory(user__tenant=tenant)
        r = papi.post("/v1/index-elements", {"element_type": "celebrity", "title": "Star of the week", "position": 5,
                                             "celebrity_user_id": str(star.pk)}, format="json")
        assert r.status_code == 201, r.json()
        element = r.json()
        assert element["celebrity_user_id"] == str(star.pk) and element["is_published"] is True
        assert reader.get(f"/v1/index-elements/{element['id']}").json() == element
        r = papi.patch(f"/v1/index-elements/{element['id']}", {"is_published": False, "celebrity_user_id": None},
                       format="json")
        assert r.status_code == 200 and r.json()["celebrity_user_id"] is None
        assert papi.delete(f"/v1/index-elements/{element['id']}").status_code == 204
        assert not IndexPageElement.objects.exists()

    @pytest.mark.parametrize("fields, bad", [
        ({}, "element_type"),
        ({"element_type": "video"}, "element_type"),
        ({"element_type": "link", "link_url": "javascript:alert(1)"}, "link_url"),
        ({"element_type": "text", "celebrity_user_id": str(uuid.uuid4())}, "celebrity_user_id"),
        ({"element_type": "text", "position": "first"}, "position"),
        ({"element_type": "text", "colour": "red"}, "colour"),
    ])
    def test_bad_elements_are_400(self, papi, fields, bad):
        r = papi.post("/v1/index-elements", fields, format="json")
        assert r.status_code == 400 and bad in r.json()["fields"], r.json()

    def test_list_in_position_order_and_reorder(self, papi, tenant, other_tenant, django_assert_num_queries):
        a, b, c = (IndexPageElementFactory(tenant=tenant, position=p, title=t) for p, t in [(1, "a"), (2, "b"), (2, "c")])
        IndexPageElementFactory(tenant=other_tenant)
        papi.get("/v1/index-elements")
        with django_assert_num_queries(1):
            body = papi.get("/v1/index-elements?limit=2").json()
        titles = [e["title"] for e in body["results"]] + [e["title"] for e in papi.get(body["next"]).json()["results"]]
        assert titles[0] == "a" and sorted(titles[1:]) == ["b", "c"] and len(titles) == 3
        r = papi.post("/v1/index-elements:reorder", {"ids": [str(c.pk), str(a.pk)]}, format="json")
        assert r.status_code == 200
        assert [(e["title"], e["position"]) for e in r.json()["results"]] == [("c", 10), ("a", 20), ("b", 30)]
        foreign = IndexPageElement.objects.get(tenant=other_tenant)
        r = papi.post("/v1/index-elements:reorder", {"ids": [str(foreign.pk)]}, format="json")
        assert r.status_code == 400 and "ids" in r.json()["fields"]


class TestPublic:
    @pytest.fixture
    def page(self, tenant, other_tenant):
        star = CelebrityProfileFactory(user__tenant=tenant, display_name="Shown", display_weight=2,
                                       metadata="private", store_code="shown")
        gone = CelebrityProfileFactory(user__tenant=tenant, display_name="Gone", display_weight=3, store_code="gone")
        services.toggle_celebrity_deleted(gone)
        CelebrityProfileFactory(user__tenant=other_tenant, display_name="Theirs", store_code="theirs")
        IndexPageElementFactory(tenant=tenant, title="Welcome", position=1)
        IndexPageElementFactory(tenant=tenant, title="Draft", position=2, is_published=False)
        IndexPageElementFactory(tenant=tenant, title="Featured", position=3, element_type="celebrity", celebrity=star)
        IndexPageElementFactory(tenant=tenant, title="Featured gone", position=4, element_type="celebrity",
                                celebrity=gone)
        IndexPageElementFactory(tenant=other_tenant, title="Theirs")
        return star, gone

    def test_anonymous_list_shows_only_this_tenants_live_profiles(self, anon, page, django_assert_num_queries):
        with django_assert_num_queries(4):  # tenant, page, images, banners
            r = anon.get("/v1/tenants/acme/celebrities")
        assert r.status_code == 200
        assert [p["display_name"] for p in r.json()["results"]] == ["Shown"]
        assert "metadata" not in r.json()["results"][0] and "is_deleted" not in r.json()["results"][0]
        assert [p["display_name"] for p in anon.get("/v1/tenants/acme/celebrities?q=sho").json()["results"]] == ["Shown"]

    @pytest.mark.parametrize("query", ["deleted=true", "deleted=false", "status=nope", "x=1"])
    def test_anonymous_cannot_ask_for_deleted_or_bad_filters(self, anon, page, query):
        assert anon.get(f"/v1/tenants/acme/celebrities?{query}").status_code == 400

    def test_anonymous_detail_by_id_or_store_code(self, anon, page):
        star, gone = page
        assert anon.get(f"/v1/tenants/acme/celebrities/{star.pk}").json()["display_name"] == "Shown"
        assert anon.get("/v1/tenants/acme/celebrities/shown").json()["celebrity_user_id"] == str(star.pk)
        for key in (str(gone.pk), "gone", "theirs", str(uuid.uuid4())):
            assert anon.get(f"/v1/tenants/acme/celebrities/{key}").status_code == 404
        assert anon.get("/v1/tenants/nobody/celebrities").status_code == 404

    def test_index_page_shows_published_elements_in_order(self, anon, page, django_assert_num_queries):
        with django_assert_num_queries(2):  # tenant, elements with their celebrities
            r = anon.get("/v1/tenants/acme/index-page")
        assert r.status_code == 200
        assert [e["title"] for e in r.json()] == ["Welcome", "Featured", "Featured gone"]
        assert r.json()[1]["celebrity"]["display_name"] == "Shown"
        assert r.json()[2]["celebrity"] is None  # a deleted celebrity is not shown
        assert anon.get("/v1/tenants/globex/index-page").json()[0]["title"] == "Theirs"
        assert anon.get("/v1/tenants/acme/index-page?draft=1").status_code == 400

    def test_credentials_do_not_widen_public_reads(self, other_papi, page):
        r = other_papi.get("/v1/tenants/acme/celebrities")
        assert [p["display_name"] for p in r.json()["results"]] == ["Shown"]
