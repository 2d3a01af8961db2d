import pytest

from tests.factories import GroupFactory, RoleFactory, UserFactory
from users.models import Group, Role

pytestmark = pytest.mark.django_db


class TestRoles:
    def test_create_list_delete(self, api, tenant, other_tenant):
        RoleFactory(tenant=other_tenant, name="hidden")
        r = api.post("/v1/roles", {"name": "admin", "description": "Everything"}, format="json")
        assert r.status_code == 201 and r.json() == {"name": "admin", "description": "Everything"}
        api.post("/v1/roles", {"name": "celebrity"}, format="json")
        assert [x["name"] for x in api.get("/v1/roles").json()["results"]] == ["admin", "celebrity"]
        assert api.delete("/v1/roles/admin").status_code == 204
        assert api.delete("/v1/roles/hidden").status_code == 404
        assert list(Role.objects.filter(tenant=tenant).values_list("name", flat=True)) == ["celebrity"]

    @pytest.mark.parametrize("body", [{"name": ""}, {"name": "has space"}, {"name": "x" * 256}, {"nom": "x"}])
    def test_bad_role_is_400(self, api, body):
        assert api.post("/v1/roles", body, format="json").status_code == 400
        assert not Role.objects.exists()

    def test_duplicate_role_is_409(self, api):
        api.post("/v1/roles", {"name": "admin"}, format="json")
        r = api.post("/v1/roles", {"name": "admin"}, format="json")
        assert r.status_code == 409 and "name" in r.json()["fields"]

    def test_user_roles_replace_add_remove(self, api, tenant):
        user = UserFactory(tenant=tenant)
        for name in ("admin", "fan", "celebrity"):
            RoleFactory(tenant=tenant, name=name)
        r = api.put(f"/v1/users/{user.pk}/roles", {"roles": ["fan", "admin"]}, format="json")
        assert r.status_code == 200 and r.json()["roles"] == ["admin", "fan"]
        assert api.post(f"/v1/users/{user.pk}/roles/celebrity").status_code == 204
        assert api.delete(f"/v1/users/{user.pk}/roles/admin").status_code == 204
        assert api.get(f"/v1/users/{user.pk}").json()["roles"] == ["celebrity", "fan"]

    def test_unknown_or_foreign_roles_are_refused(self, api, tenant, other_tenant):
        user = UserFactory(tenant=tenant)
        RoleFactory(tenant=tenant, name="fan")
        RoleFactory(tenant=other_tenant, name="admin")
        r = api.put(f"/v1/users/{user.pk}/roles", {"roles": ["fan", "admin"]}, format="json")
        assert r.status_code == 400 and "admin" in r.json()["fields"]["roles"][0]
        assert user.roles.count() == 0
        assert api.post(f"/v1/users/{user.pk}/roles/admin").status_code == 404

    def test_deleting_a_role_takes_it_from_users(self, api, tenant):
        user = UserFactory(tenant=tenant)
        user.roles.add(RoleFactory(tenant=tenant, name="fan"))
        api.delete("/v1/roles/fan")
        assert api.get(f"/v1/users/{user.pk}").json()["roles"] == []


class TestGroups:
    def test_nested_groups_have_paths(self, api, tenant):
        brand = api.post("/v1/groups", {"name": "brand"}, format="json").json()
        r = api.post("/v1/groups", {"name": "admins", "parent": brand["id"]}, format="json")
        assert r.status_code == 201 and r.json()["path"] == "/brand/admins" and r.json()["parent"] == brand["id"]
        assert [g["path"] for g in api.get("/v1/groups").json()["results"]] == ["/brand", "/brand/admins"]
        assert [g["name"] for g in api.get("/v1/groups?path=/brand/admins").json()["results"]] == ["admins"]
        assert api.get(f"/v1/groups/{brand['id']}").json()["path"] == "/brand"

    def test_deleting_a_group_deletes_its_subgroups(self, api, tenant):
        brand = GroupFactory(tenant=tenant, name="brand")
        GroupFactory(tenant=tenant, name="admins", parent=brand)
        assert api.delete(f"/v1/groups/{brand.pk}").status_code == 204
        assert not Group.objects.exists()

    def test_bad_and_duplicate_groups(self, api, tenant, other_tenant):
        foreign = GroupFactory(tenant=other_tenant, name="x")
        assert api.post("/v1/groups", {"name": "a/b"}, format="json").status_code == 400
        r = api.post("/v1/groups", {"name": "y", "parent": str(foreign.pk)}, format="json")
        assert r.status_code == 400 and "parent" in r.json()["fields"]
        api.post("/v1/groups", {"name": "brand"}, format="json")
        assert api.post("/v1/groups", {"name": "brand"}, format="json").status_code == 409
        assert api.get(f"/v1/groups/{foreign.pk}").status_code == 404
        assert api.get("/v1/groups?colour=red").status_code == 400

    def test_memberships_and_members(self, api, tenant, django_assert_num_queries):
        brand = GroupFactory(tenant=tenant, name="brand")
        admins = GroupFactory(tenant=tenant, name="admins", parent=brand)
        users = [UserFactory(tenant=tenant, username=f"m{i}") for i in range(3)]
        r = api.put(f"/v1/users/{users[0].pk}/groups", {"groups": ["/brand", "/brand/admins"]}, format="json")
        assert r.status_code == 200 and r.json()["groups"] == ["/brand", "/brand/admins"]
        for user in users[1:]:
            assert api.post(f"/v1/users/{user.pk}/groups/{admins.pk}").status_code == 204
        assert api.delete(f"/v1/users/{users[2].pk}/groups/{admins.pk}").status_code == 204
        body = api.get(f"/v1/groups/{admins.pk}/members?limit=1").json()
        assert [u["username"] for u in body["results"]] == ["m0"]
        assert [u["username"] for u in api.get(body["next"]).json()["results"]] == ["m1"]
        with django_assert_num_queries(2):  # the group, the members page
            api.get(f"/v1/groups/{admins.pk}/members")

    def test_unknown_group_path_is_400(self, api, tenant):
        user = UserFactory(tenant=tenant)
        r = api.put(f"/v1/users/{user.pk}/groups", {"groups": ["/nope"]}, format="json")
        assert r.status_code == 400 and "/nope" in r.json()["fields"]["groups"][0]
