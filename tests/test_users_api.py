import uuid

import pytest

from tests.factories import RoleFactory, UserFactory
from users.models import User

pytestmark = pytest.mark.django_db


def create(api, **fields):
    return api.post("/v1/users", fields, format="json")


class TestCreate:
    def test_normalises_and_returns_the_canonical_user(self, api, tenant):
        r = create(api, username="Alice.Smith", email=" Alice@Example.COM ", phone_number="+1 (555) 123-4567",
                   first_name="Alice", attributes={"department": ["sales"], "team": "north"})
        assert r.status_code == 201, r.json()
        body = r.json()
        assert body["username"] == "alice.smith"
        assert body["email"] == "alice@example.com"
        assert body["phone_number"] == "+15551234567"
        assert body["attributes"] == {"department": ["sales"], "team": ["north"]}
        assert body["enabled"] is True and body["roles"] == [] and body["groups"] == []
        user = User.objects.get(pk=body["id"])
        assert user.tenant == tenant
        assert not user.has_usable_password()

    def test_keeps_a_supplied_keycloak_uuid(self, api):
        given = uuid.uuid4()
        r = create(api, id=str(given), username="imported")
        assert r.status_code == 201
        assert r.json()["id"] == str(given)

    def test_password_is_hashed_with_argon2(self, api):
        r = create(api, username="pw", password="a-long-enough-secret")
        user = User.objects.get(pk=r.json()["id"])
        assert user.password.startswith("argon2$argon2id$v=19$m=7168,t=5,p=1$")
        assert "password" not in r.json()

    def test_disabled_on_create_records_when(self, api):
        r = create(api, username="off", enabled=False)
        assert r.json()["enabled"] is False
        assert r.json()["deactivated_at"] is not None

    @pytest.mark.parametrize(
        "fields, bad",
        [
            ({"username": "ok", "email": "not-an-email"}, "email"),
            ({"username": "ok", "phone_number": "call me"}, "phone_number"),
            ({"username": "ok", "phone_number": "+1555"}, "phone_number"),
            ({"username": "bad name!"}, "username"),
            ({"username": "x" * 256}, "username"),
            ({"username": ""}, "username"),
            ({}, "username"),
            ({"username": "ok", "attributes": ["a"]}, "attributes"),
            ({"username": "ok", "attributes": {"a": [1]}}, "attributes"),
            ({"username": "ok", "attributes": {"a b": ["x"]}}, "attributes"),
            ({"username": "ok", "attributes": {"email": ["x"]}}, "attributes"),
            ({"username": "ok", "attributes": {"a": ["x" * 2049]}}, "attributes"),
            ({"username": "ok", "attributes": {f"a{i}": ["x"] for i in range(101)}}, "attributes"),
            ({"username": "ok", "nickname": "al"}, "nickname"),
            ({"username": "ok", "roles": ["admin"]}, "roles"),
            ({"username": "ok", "password": "123"}, "password"),
            ({"username": "ok", "id": "not-a-uuid"}, "id"),
        ],
    )
    def test_bad_input_is_400_per_field_and_writes_nothing(self, api, fields, bad):
        r = create(api, **fields)
        assert r.status_code == 400, r.json()
        body = r.json()
        assert body["code"] == "invalid"
        assert bad in body["fields"], body
        assert body["message"].startswith("Correct these fields")
        assert not User.objects.exists()

    def test_not_json_is_400(self, api):
        r = api.post("/v1/users", "{nope", content_type="application/json")
        assert r.status_code == 400
        assert r.json()["code"] == "parse_error"

    @pytest.mark.parametrize(
        "first, second, field",
        [
            ({"username": "dup"}, {"username": "DUP"}, "username"),
            ({"username": "a", "email": "x@example.com"}, {"username": "b", "email": "X@example.com"}, "email"),
            ({"username": "a", "phone_number": "+15551234567"}, {"username": "b", "phone_number": "+1 555 123 4567"},
             "phone_number"),
        ],
    )
    def test_duplicates_are_409(self, api, first, second, field):
        assert create(api, **first).status_code == 201
        r = create(api, **second)
        assert r.status_code == 409
        assert r.json()["code"] == "conflict"
        assert field in r.json()["fields"]
        assert User.objects.count() == 1

    def test_duplicate_id_is_409(self, api):
        given = str(uuid.uuid4())
        create(api, id=given, username="one")
        r = create(api, id=given, username="two")
        assert r.status_code == 409 and "id" in r.json()["fields"]

    def test_same_username_and_email_in_two_tenants(self, api, other_api):
        assert create(api, username="same", email="same@example.com").status_code == 201
        assert create(other_api, username="same", email="same@example.com").status_code == 201

    def test_empty_email_and_phone_are_absent_not_duplicates(self, api):
        assert create(api, username="a", email="", phone_number="").status_code == 201
        assert create(api, username="b", email="", phone_number="").status_code == 201
        assert User.objects.filter(email__isnull=True, phone_number__isnull=True).count() == 2


class TestReadUpdateDelete:
    def test_get(self, api, tenant):
        user = UserFactory(tenant=tenant)
        user.roles.add(RoleFactory(tenant=tenant, name="admin"))
        body = api.get(f"/v1/users/{user.pk}").json()
        assert body["username"] == user.username and body["roles"] == ["admin"]

    def test_other_tenants_user_is_404_everywhere(self, api, other_tenant):
        user = UserFactory(tenant=other_tenant)
        for method, path in [("get", ""), ("patch", ""), ("put", ""), ("delete", ""), ("post", ":deactivate"),
                             ("post", ":reactivate"), ("post", ":record-login"), ("get", "/login")]:
            r = getattr(api, method)(f"/v1/users/{user.pk}{path}", {"username": "x"}, format="json")
            assert r.status_code == 404, (method, path, r.status_code)
            assert r.json()["code"] == "not_found"
        user.refresh_from_db()
        assert user.is_active and user.username != "x"

    def test_unknown_id_is_404_and_malformed_id_is_404(self, api):
        assert api.get(f"/v1/users/{uuid.uuid4()}").status_code == 404
        assert api.get("/v1/users/not-a-uuid").status_code == 404

    def test_patch_changes_only_given_fields(self, api, tenant):
        user = UserFactory(tenant=tenant, first_name="Old", last_name="Name")
        r = api.patch(f"/v1/users/{user.pk}", {"first_name": "New", "phone_number": "+447911123456"}, format="json")
        assert r.status_code == 200, r.json()
        assert r.json()["first_name"] == "New" and r.json()["last_name"] == "Name"
        assert r.json()["phone_number"] == "+447911123456"

    def test_patch_enabled_false_deactivates(self, api, tenant):
        user = UserFactory(tenant=tenant)
        r = api.patch(f"/v1/users/{user.pk}", {"enabled": False}, format="json")
        assert r.json()["enabled"] is False and r.json()["deactivated_at"]

    def test_put_replaces_and_resets_absent_fields(self, api, tenant):
        user = UserFactory(tenant=tenant, first_name="Old", attributes={"a": ["1"]})
        r = api.put(f"/v1/users/{user.pk}", {"username": "renamed", "last_name": "Only"}, format="json")
        assert r.status_code == 200, r.json()
        body = r.json()
        assert body["username"] == "renamed" and body["first_name"] == "" and body["last_name"] == "Only"
        assert body["email"] is None and body["attributes"] == {}

    def test_put_without_username_is_400(self, api, tenant):
        user = UserFactory(tenant=tenant)
        assert api.put(f"/v1/users/{user.pk}", {"first_name": "x"}, format="json").status_code == 400

    def test_update_to_a_taken_email_is_409_and_changes_nothing(self, api, tenant):
        UserFactory(tenant=tenant, email="taken@example.com")
        user = UserFactory(tenant=tenant, email="mine@example.com", first_name="Keep")
        r = api.patch(f"/v1/users/{user.pk}", {"email": "taken@example.com", "first_name": "Lost"}, format="json")
        assert r.status_code == 409
        user.refresh_from_db()
        assert user.email == "mine@example.com" and user.first_name == "Keep"

    def test_read_only_fields_are_refused(self, api, tenant):
        user = UserFactory(tenant=tenant)
        r = api.patch(f"/v1/users/{user.pk}", {"id": str(uuid.uuid4()), "created_at": "2020-01-01T00:00:00Z"},
                      format="json")
        assert r.status_code == 400
        assert set(r.json()["fields"]) == {"id", "created_at"}

    def test_delete(self, api, tenant):
        user = UserFactory(tenant=tenant)
        assert api.delete(f"/v1/users/{user.pk}").status_code == 204
        assert not User.objects.filter(pk=user.pk).exists()


class TestLifecycle:
    def test_deactivate_and_reactivate(self, api, tenant):
        user = UserFactory(tenant=tenant)
        r = api.post(f"/v1/users/{user.pk}:deactivate")
        assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["deactivated_at"]
        r = api.post(f"/v1/users/{user.pk}:deactivate")  # idempotent
        assert r.status_code == 200
        r = api.post(f"/v1/users/{user.pk}:reactivate")
        assert r.json()["enabled"] is True and r.json()["deactivated_at"] is None

    def test_record_login_upserts_one_row(self, api, tenant):
        user = UserFactory(tenant=tenant)
        r = api.post(f"/v1/users/{user.pk}:record-login", {"client": "web", "ip": "10.0.0.1"}, format="json")
        assert r.status_code == 204
        api.post(f"/v1/users/{user.pk}:record-login", {"client": "mobile", "ip": "2001:db8::1"}, format="json")
        login = api.get(f"/v1/users/{user.pk}/login").json()
        assert login["login_count"] == 2 and login["last_client"] == "mobile" and login["last_ip"] == "2001:db8::1"

    def test_record_login_bad_ip_is_400(self, api, tenant):
        user = UserFactory(tenant=tenant)
        r = api.post(f"/v1/users/{user.pk}:record-login", {"ip": "not-an-ip"}, format="json")
        assert r.status_code == 400 and "ip" in r.json()["fields"]

    def test_no_login_yet_is_404(self, api, tenant):
        user = UserFactory(tenant=tenant)
        assert api.get(f"/v1/users/{user.pk}/login").status_code == 404


class TestList:
    def test_pages_by_cursor_in_username_order_without_count(self, api, tenant, other_tenant,
                                                            django_assert_num_queries):
        for name in ["d", "b", "e", "a", "c"]:
            UserFactory(tenant=tenant, username=name)
        UserFactory(tenant=other_tenant, username="zz-other")
        seen = []
        url = "/v1/users?limit=2"
        while url:
            body = api.get(url).json()
            assert set(body) == {"results", "next"}
            seen += [u["username"] for u in body["results"]]
            url = body["next"]
        assert seen == ["a", "b", "c", "d", "e"]

    def test_offset_paging_with_keycloak_names(self, api, tenant):
        for name in ["a", "b", "c"]:
            UserFactory(tenant=tenant, username=name)
        body = api.get("/v1/users?first=1&max=1").json()
        assert [u["username"] for u in body["results"]] == ["b"]
        assert "offset=2" in body["next"]
        assert api.get("/v1/users?first=2&max=5").json()["next"] is None

    def test_deep_offsets_find_the_page_on_the_index_first(self, api, tenant, monkeypatch,
                                                           django_assert_num_queries):
        from identity.api import pagination

        monkeypatch.setattr(pagination, "DEEP_OFFSET", 2)
        for name in ["a", "b", "c", "d", "e"]:
            UserFactory(tenant=tenant, username=name).roles.add(RoleFactory(tenant=tenant, name=f"r{name}"))
        api.get("/v1/users?limit=1")
        with django_assert_num_queries(2):  # the page's keys, then the page
            body = api.get("/v1/users:search?search=*&first=2&max=2").json()
        assert [(u["username"], u["roles"]) for u in body["results"]] == [("c", ["rc"]), ("d", ["rd"])]
        assert "offset=4" in body["next"]
        assert [u["username"] for u in api.get(body["next"]).json()["results"]] == ["e"]

    @pytest.mark.parametrize("query", ["limit=-1", "limit=1001", "max=abc", "offset=-5", "cursor=%%%", "email=x"])
    def test_bad_paging_is_400(self, api, query):
        r = api.get(f"/v1/users?{query}")
        assert r.status_code == 400, r.json()


def test_fast_representation_matches_drf(tenant):
    """UserSerializer renders users by hand, for speed; it must say exactly what DRF's fields say."""
    from datetime import datetime, timezone

    from rest_framework import serializers

    from tests.factories import GroupFactory
    from users.api.serializers import UserSerializer
    from users.queries import user_queryset

    user = UserFactory(tenant=tenant, username="full", email="full@example.com", email_verified=True,
                       phone_number="+15551234567", phone_verified=True, first_name="Fu", last_name="Ll",
                       pending_email="next@example.com", pending_phone_number="+15551234568",
                       attributes={"team": ["north", "south"]}, is_active=False,
                       deactivated_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc))
    user.roles.add(RoleFactory(tenant=tenant, name="zeta"), RoleFactory(tenant=tenant, name="alpha"))
    user.identity_groups.add(GroupFactory(tenant=tenant, name="g"))
    bare = UserFactory(tenant=tenant, username="bare", email=None, phone_number=None)
    for row in user_queryset().filter(pk__in=[user.pk, bare.pk]):
        fast = UserSerializer(row).data
        drf = serializers.ModelSerializer.to_representation(UserSerializer(row), row)
        assert fast == dict(drf) and list(fast) == list(drf)
    assert UserSerializer(user_queryset().get(pk=user.pk)).data["roles"] == ["alpha", "zeta"]
