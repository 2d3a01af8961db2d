import uuid

import pytest

from profiles.models import ReferralCode
from tests.factories import CelebrityProfileFactory, ReferralCodeFactory
from tests.test_concurrency import post, race

pytestmark = pytest.mark.django_db


def create(api, **fields):
    return api.post("/v1/referral-codes", fields, format="json")


class TestCrud:
    def test_create_get_update_delete(self, papi, tenant):
        star = CelebrityProfileFactory(user__tenant=tenant)
        r = create(papi, code="welcome-10", type="launch", limit=3, assigned_to=str(star.pk))
        assert r.status_code == 201, r.json()
        body = r.json()
        assert body["code"] == "WELCOME-10" and body["used"] == 0 and body["assigned_to"] == str(star.pk)
        assert papi.get(f"/v1/referral-codes/{body['id']}").json() == body
        r = papi.patch(f"/v1/referral-codes/{body['id']}", {"limit": 5, "type": "promo"}, format="json")
        assert r.status_code == 200 and r.json()["limit"] == 5 and r.json()["type"] == "promo"
        assert papi.delete(f"/v1/referral-codes/{body['id']}").status_code == 204
        assert not ReferralCode.objects.exists()

    def test_codes_are_unique_per_tenant_ignoring_case(self, papi, other_papi):
        assert create(papi, code="abc", limit=1).status_code == 201
        r = create(papi, code="ABC", limit=1)
        assert r.status_code == 409 and "code" in r.json()["fields"]
        assert create(other_papi, code="abc", limit=1).status_code == 201

    def test_renaming_to_a_taken_code_is_409(self, papi, tenant):
        ReferralCodeFactory(tenant=tenant, code="TAKEN")
        mine = ReferralCodeFactory(tenant=tenant, code="MINE")
        r = papi.patch(f"/v1/referral-codes/{mine.pk}", {"code": "taken"}, format="json")
        assert r.status_code == 409

    @pytest.mark.parametrize("fields, bad", [
        ({"limit": 1}, "code"),
        ({"code": "x"}, "limit"),
        ({"code": "has space", "limit": 1}, "code"),
        ({"code": "x" * 65, "limit": 1}, "code"),
        ({"code": "ok", "limit": -1}, "limit"),
        ({"code": "ok", "limit": 1, "used": 0}, "used"),
        ({"code": "ok", "limit": 1, "assigned_to": str(uuid.uuid4())}, "assigned_to"),
        ({"code": "ok", "limit": 1, "owner": "me"}, "owner"),
    ])
    def test_bad_create_is_400(self, papi, fields, bad):
        r = create(papi, **fields)
        assert r.status_code == 400 and bad in r.json()["fields"], r.json()
        assert not ReferralCode.objects.exists()

    def test_limit_cannot_go_below_used(self, papi, tenant):
        code = ReferralCodeFactory(tenant=tenant, limit=5, used=3)
        r = papi.patch(f"/v1/referral-codes/{code.pk}", {"limit": 2}, format="json")
        assert r.status_code == 400 and "limit" in r.json()["fields"]
        assert papi.patch(f"/v1/referral-codes/{code.pk}", {"limit": 3}, format="json").status_code == 200


class TestListLookupAssign:
    def test_list_in_code_order_with_filters_and_a_fixed_query_count(self, papi, tenant, other_tenant,
                                                                      django_assert_num_queries):
        star = CelebrityProfileFactory(user__tenant=tenant)
        for code, type_ in [("C", "a"), ("A", "b"), ("B", "a")]:
            ReferralCodeFactory(tenant=tenant, code=code, type=type_)
        ReferralCodeFactory(tenant=tenant, code="D", assigned_to=star)
        ReferralCodeFactory(tenant=other_tenant, code="AA")
        papi.get("/v1/referral-codes")
        with django_assert_num_queries(1):
            body = papi.get("/v1/referral-codes?limit=2").json()
        assert [c["code"] for c in body["results"]] == ["A", "B"]
        assert [c["code"] for c in papi.get(body["next"]).json()["results"]] == ["C", "D"]
        assert [c["code"] for c in papi.get("/v1/referral-codes?type=a").json()["results"]] == ["B", "C"]
        r = papi.get(f"/v1/referral-codes?assigned_to={star.pk}")
        assert [c["code"] for c in r.json()["results"]] == ["D"]
        assert papi.get("/v1/referral-codes?assigned_to=x").status_code == 400
        assert papi.get("/v1/referral-codes?owner=x").status_code == 400

    def test_lookup_by_code(self, papi, tenant, other_tenant):
        ReferralCodeFactory(tenant=tenant, code="HELLO")
        ReferralCodeFactory(tenant=other_tenant, code="THERE")
        assert papi.get("/v1/referral-codes:lookup?code=hello").json()["code"] == "HELLO"
        assert papi.get("/v1/referral-codes:lookup?code=THERE").status_code == 404
        assert papi.get("/v1/referral-codes:lookup").status_code == 400
        assert papi.get("/v1/referral-codes:lookup?code=HELLO&x=1").status_code == 400

    def test_assign_and_unassign(self, papi, tenant, other_tenant):
        code = ReferralCodeFactory(tenant=tenant)
        star = CelebrityProfileFactory(user__tenant=tenant)
        foreign = CelebrityProfileFactory(user__tenant=other_tenant)
        r = papi.post(f"/v1/referral-codes/{code.pk}:assign", {"assigned_to": str(star.pk)}, format="json")
        assert r.status_code == 200 and r.json()["assigned_to"] == str(star.pk)
        r = papi.post(f"/v1/referral-codes/{code.pk}:assign", {"assigned_to": str(foreign.pk)}, format="json")
        assert r.status_code == 400 and "assigned_to" in r.json()["fields"]
        r = papi.post(f"/v1/referral-codes/{code.pk}:assign", {"assigned_to": None}, format="json")
        assert r.json()["assigned_to"] is None
        assert papi.post(f"/v1/referral-codes/{code.pk}:assign", {}, format="json").status_code == 400


class TestRedeem:
    def test_redeem_counts_until_the_limit_then_409(self, papi, tenant):
        ReferralCodeFactory(tenant=tenant, code="TWICE", limit=2)
        for used in (1, 2):
            r = papi.post("/v1/referral-codes:redeem", {"code": "twice"}, format="json")
            assert r.status_code == 200 and r.json()["used"] == used
        r = papi.post("/v1/referral-codes:redeem", {"code": "TWICE"}, format="json")
        assert r.status_code == 409 and r.json()["code"] == "conflict" and "code" in r.json()["fields"]
        assert ReferralCode.objects.get(code="TWICE").used == 2

    def test_unknown_or_foreign_code_is_400(self, papi, other_tenant):
        ReferralCodeFactory(tenant=other_tenant, code="THEIRS")
        for code in ("THEIRS", "NOPE"):
            r = papi.post("/v1/referral-codes:redeem", {"code": code}, format="json")
            assert r.status_code == 400 and "code" in r.json()["fields"]
        assert ReferralCode.objects.get(code="THEIRS").used == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_redeems_never_pass_the_limit(live_server, tenant, make_client):
    client = make_client(tenant, ["profiles:write"])
    ReferralCodeFactory(tenant=tenant, code="RUSH", limit=3)
    results = race(10, lambda i: post(f"{live_server.url}/v1/referral-codes:redeem", client.token, {"code": "RUSH"}))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 3 + [409] * 7, results
    assert sorted(body["used"] for status, body in results if status == 200) == [1, 2, 3]
    assert ReferralCode.objects.get(code="RUSH").used == 3
