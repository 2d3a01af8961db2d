"""Operators' changes in the admin are recorded with the operator as actor; the trail itself is
read-only in the admin."""

import json
import re

import pytest

from audit.models import AuditEvent
from profiles import services as profile_services
from tests.factories import GroupFactory, RoleFactory, UserFactory
from users import services
from users.models import Role, User

pytestmark = pytest.mark.django_db



def events(**filters):
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


def user_form(user, **changes):
    """The admin's change form of `user`, as the page would post it, with `changes`."""
    data = {
        "tenant": user.tenant_id, "username": user.username, "first_name": user.first_name,
        "last_name": user.last_name, "email": user.email or "", "phone_number": user.phone_number or "",
        "attributes": json.dumps(user.attributes), "is_active": "on",
        "roles": [r.pk for r in user.roles.all()], "identity_groups": [g.pk for g in user.identity_groups.all()],
        "login-TOTAL_FORMS": "0", "login-INITIAL_FORMS": "0", "login-MIN_NUM_FORMS": "0", "login-MAX_NUM_FORMS": "0",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def assert_saved(response):
    assert response.status_code == 302, re.findall(r"errorlist.*?</ul>", response.content.decode(), re.S)


def test_a_user_edit_is_one_event_with_fields_and_memberships(client, operator, tenant):
    user = UserFactory(tenant=tenant, first_name="Old")
    role = RoleFactory(tenant=tenant, name="editor")
    r = client.post(f"/admin/users/user/{user.pk}/change/",
                    user_form(user, first_name="New", roles=[role.pk], email_verified="on"))
    assert_saved(r)
    [event] = events(object_id=str(user.pk))
    assert (event.action, event.actor_kind, event.actor_id, event.actor_display) == (
        "user.updated", "operator", str(operator.pk), "root")
    assert event.tenant_id == tenant.pk and event.ip == "127.0.0.1" and event.request_id
    assert event.changes == {"first_name": {"old": "Old", "new": "New"},
                             "email_verified": {"old": False, "new": True},
                             "roles": {"old": [], "new": ["editor"]}}


def test_an_operators_password_change_records_no_password(client, operator, tenant):
    user = UserFactory(tenant=tenant)
    passphrase = "an operator chose this"
    r = client.post(f"/admin/users/user/{user.pk}/password/",
                    {"password1": passphrase, "password2": passphrase, "set_usable_password": "true"})
    assert_saved(r)
    [event] = events(object_id=str(user.pk))
    user.refresh_from_db()
    assert (event.action, event.actor_kind, event.changes) == ("user.password_set", "operator",
                                                                {"password": {"redacted": True}})
    assert passphrase not in json.dumps(event.changes) and user.password not in json.dumps(event.changes)


def test_adding_a_user_and_a_role(client, operator, tenant):
    r = client.post("/admin/users/user/add/", {"tenant": tenant.pk, "username": "newbie", "email": "",
                                               "usable_password": "false"})
    assert_saved(r)
    [created] = events(action="user.created")
    assert created.object_id == str(User.objects.get(username="newbie").pk) and created.actor_kind == "operator"
    assert_saved(client.post("/admin/users/role/add/", {"tenant": tenant.pk, "name": "support", "description": ""}))
    [role] = events(action="role.created")
    assert role.changes["name"] == {"new": "support"} and role.actor_display == "root"


def test_adding_a_group_through_its_service_is_recorded_once(client, operator, tenant):
    assert_saved(client.post("/admin/users/group/add/", {"tenant": tenant.pk, "name": "staff"}))
    [event] = events(action="group.created")
    assert event.actor_kind == "operator" and event.changes["path"] == {"new": "/staff"}


def test_changing_an_api_clients_scopes_and_revoking_it(client, operator, tenant):
    api_client, _ = services.create_api_client(tenant, "svc", ["users:read"])
    r = client.post(f"/admin/users/apiclient/{api_client.pk}/change/",
                    {"tenant": tenant.pk, "name": "svc", "scopes": '["users:read", "audit:read"]'})
    assert_saved(r)
    client.post("/admin/users/apiclient/", {"action": "revoke", "_selected_action": [api_client.pk]})
    updated, revoked = events(object_type="api_client", actor_kind="operator")
    assert updated.changes == {"scopes": {"old": ["users:read"], "new": ["audit:read", "users:read"]}}
    assert revoked.action == "api_client.revoked" and revoked.changes["revoked_at"]["old"] is None


def test_actions_and_deletions(client, operator, tenant):
    user = UserFactory(tenant=tenant)
    client.post("/admin/users/user/", {"action": "deactivate", "_selected_action": [user.pk]})
    role = RoleFactory(tenant=tenant, name="gone")
    assert_saved(client.post(f"/admin/users/role/{role.pk}/delete/", {"post": "yes"}))
    group = GroupFactory(tenant=tenant, name="old")
    client.post("/admin/users/group/", {"action": "delete_selected", "_selected_action": [group.pk], "post": "yes"})
    assert not Role.objects.filter(pk=role.pk).exists()
    actions = [(e.action, e.actor_kind) for e in events(actor_kind="operator")]
    assert actions == [("user.deactivated", "operator"), ("role.deleted", "operator"), ("group.deleted", "operator")]
    assert events(action="role.deleted")[0].changes["name"] == {"old": "gone"}


def test_a_profile_change_in_the_admin_goes_through_the_services(client, operator, tenant):
    star = profile_services.create_celebrity(UserFactory(tenant=tenant), bio="before")
    fan = star.user.fan_profile
    r = client.post(f"/admin/profiles/fanprofile/{fan.pk}/change/",
                    {"metadata": "vip", "fan_profile_exclusively": "on"})
    assert_saved(r)
    [event] = events(action="fan.updated")
    assert event.actor_kind == "operator" and event.changes == {
        "metadata": {"old": "", "new": "vip"}, "fan_profile_exclusively": {"old": False, "new": True}}


def test_a_celebrity_edit_calls_two_services_and_each_records_its_own_change(client, operator, tenant):
    star = profile_services.create_celebrity(UserFactory(tenant=tenant), display_name="Grace")
    history = star.status_history.get()
    form = {"display_name": "Grace", "first_name": star.first_name, "last_name": star.last_name, "store_code": "grace",
            "bio": "", "title": "", "company_name": "", "profile_video": "", "celeb_profile_type": "celebrity",
            "metadata": "", "status": "active", "display_weight": 0,
            "status_history-0-id": history.pk, "status_history-0-celebrity": star.pk}
    for prefix in ("images", "banners", "shortlinks", "status_history"):
        form.update({f"{prefix}-TOTAL_FORMS": int(prefix == "status_history"),
                     f"{prefix}-INITIAL_FORMS": int(prefix == "status_history")})
    assert_saved(client.post(f"/admin/profiles/celebrityprofile/{star.pk}/change/", form))
    fields, store_code = events(action="celebrity.updated")
    assert fields.actor_kind == store_code.actor_kind == "operator"
    assert fields.changes == {"status": {"old": "pending", "new": "active"}}
    assert store_code.changes == {"store_code": {"old": None, "new": "grace"}}


class TestTheTrailInTheAdmin:
    @pytest.fixture
    def recorded(self, tenant):
        user = services.create_user(tenant, username="watched")
        services.update_user(user, {"first_name": "W"})
        return user

    def test_operators_read_filter_and_search_it(self, client, operator, tenant, recorded):
        page = client.get("/admin/audit/auditevent/")
        assert page.status_code == 200 and b"user.updated" in page.content
        body = client.get("/admin/audit/auditevent/", {"action": "user.updated"}).content.decode()
        assert "user.updated" in body and "user.created</td>" not in body
        body = client.get("/admin/audit/auditevent/", {"q": str(recorded.pk), "actor_kind": "system",
                                                       "tenant__id__exact": tenant.pk}).content.decode()
        assert str(recorded.pk) in body
        assert "0 audit events" in client.get("/admin/audit/auditevent/", {"q": "nobody"}).content.decode()
        event = AuditEvent.objects.filter(action="user.updated").get()
        assert client.get(f"/admin/audit/auditevent/{event.pk}/change/").status_code == 200

    def test_nobody_adds_changes_or_deletes_it(self, client, operator, recorded):
        event = AuditEvent.objects.filter(action="user.updated").get()
        assert client.get("/admin/audit/auditevent/add/").status_code == 403
        assert client.post("/admin/audit/auditevent/add/", {"action": "user.forged"}).status_code == 403
        client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "user.forged"})
        assert client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
        client.post("/admin/audit/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk],
                                                 "post": "yes"})
        event.refresh_from_db()
        assert event.action == "user.updated"
        assert not AuditEvent.objects.filter(action="user.forged").exists()
        page = client.get(f"/admin/audit/auditevent/{event.pk}/change/").content.decode()
        assert 'name="_save"' not in page and "deletelink" not in page
