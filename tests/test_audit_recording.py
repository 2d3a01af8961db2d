"""The audit trail records who changed what, from where, in which request: API clients, Keycloak's
provider, people and the system; never a secret value; nothing for a change that rolled back."""

import json
import re

import pytest
from django.core import mail
from django.db import transaction

from audit import context
from audit.models import AuditEvent
from audit.redaction import is_secret, redact
from profiles import services as profile_services
from tests.factories import CelebrityProfileFactory, RoleFactory, UserFactory
from tests.test_people_access import as_person
from users import services

pytestmark = pytest.mark.django_db
PASSWORD = "a long and secret passphrase"
SCOPES = ["users:read", "users:write", "profiles:read", "profiles:write", "verification:write"]


@pytest.fixture
def crm(tenant, make_client):
    return make_client(tenant, SCOPES, name="crm")


def events(**filters):
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


def only_event(**filters):
    [event] = events(**filters)
    return event


def row_text(event) -> str:
    return json.dumps([event.changes, event.actor_display, event.action, event.object_id, event.request_id])


class TestAnApiClient:
    def test_create_records_the_client_ip_request_and_values_but_not_the_password(self, crm, tenant):
        r = crm.post("/v1/users", {"username": "ann", "email": "ann@example.com", "password": PASSWORD},
                     format="json", HTTP_X_REQUEST_ID="req-123")
        assert r.status_code == 201, r.json()
        assert r.headers["X-Request-ID"] == "req-123"
        event = only_event(action="user.created")
        client = tenant.api_clients.get(name="crm")
        assert (event.tenant_id, event.actor_kind, event.actor_id, event.actor_display) == (
            tenant.pk, "api_client", str(client.pk), "crm")
        assert (event.object_type, event.object_id, event.ip, event.request_id) == (
            "user", r.json()["id"], "127.0.0.1", "req-123")
        assert event.changes["username"] == {"new": "ann"} and event.changes["email"] == {"new": "ann@example.com"}
        assert event.changes["password"] == {"redacted": True}
        stored_hash = services.User.objects.get(pk=r.json()["id"]).password
        assert PASSWORD not in row_text(event) and stored_hash not in row_text(event)

    def test_update_records_only_the_changed_fields_with_old_and_new_values(self, crm, tenant):
        user = UserFactory(tenant=tenant, first_name="Old", last_name="Same")
        r = crm.patch(f"/v1/users/{user.pk}", {"first_name": "New", "last_name": "Same"}, format="json")
        assert r.status_code == 200
        event = only_event(action="user.updated")
        assert event.changes == {"first_name": {"old": "Old", "new": "New"}}
        assert event.object_id == str(user.pk) and event.actor_display == "crm"

    def test_deactivate_is_one_event_of_its_own_action(self, crm, tenant):
        user = UserFactory(tenant=tenant)
        assert crm.post(f"/v1/users/{user.pk}:deactivate").status_code == 200
        [event] = events(object_id=str(user.pk))
        assert event.action == "user.deactivated"
        assert event.changes["is_active"] == {"old": True, "new": False}
        assert event.changes["deactivated_at"]["old"] is None and event.changes["deactivated_at"]["new"]

    def test_password_set_records_that_it_changed_and_nothing_of_it(self, crm, tenant):
        user = UserFactory(tenant=tenant)
        old_hash = user.password
        assert crm.put(f"/v1/users/{user.pk}/password", {"password": PASSWORD}, format="json").status_code == 204
        event = only_event(action="user.password_set")
        user.refresh_from_db()
        assert event.changes == {"password": {"redacted": True}}
        assert not {PASSWORD, old_hash, user.password} & {s for s in re.split(r'[\s"]', row_text(event)) if s}

    def test_roles_changes_record_the_names_before_and_after(self, crm, tenant):
        user = UserFactory(tenant=tenant)
        RoleFactory(tenant=tenant, name="admin")
        RoleFactory(tenant=tenant, name="fan")
        assert crm.put(f"/v1/users/{user.pk}/roles", {"roles": ["fan", "admin"]}, format="json").status_code == 200
        assert crm.delete(f"/v1/users/{user.pk}/roles/fan").status_code == 204
        first, second = events(action="user.roles_changed")
        assert first.changes == {"roles": {"old": [], "new": ["admin", "fan"]}}
        assert second.changes == {"roles": {"old": ["admin", "fan"], "new": ["admin"]}}

    def test_role_and_group_lifecycle(self, crm, tenant):
        crm.post("/v1/roles", {"name": "editor", "description": "Edits"}, format="json")
        crm.delete("/v1/roles/editor")
        created, deleted = events(object_type="role")
        assert (created.action, created.changes["name"]) == ("role.created", {"new": "editor"})
        assert (deleted.action, deleted.changes["name"]) == ("role.deleted", {"old": "editor"})
        assert created.object_id == deleted.object_id
        group = crm.post("/v1/groups", {"name": "staff"}, format="json").json()
        assert only_event(action="group.created").object_id == group["id"]

    def test_a_reset_token_is_never_recorded_nor_the_password_it_sets(self, crm, tenant):
        user = UserFactory(tenant=tenant)
        token = crm.post(f"/v1/users/{user.pk}:reset-password", {}, format="json").json()["token"]
        r = crm.post("/v1/password-resets:redeem", {"token": token, "password": PASSWORD}, format="json")
        assert r.status_code == 204
        issued, password_set = events(object_id=str(user.pk))
        assert (issued.action, password_set.action) == ("user.password_reset_issued", "user.password_set")
        for event in (issued, password_set):
            assert token not in row_text(event) and PASSWORD not in row_text(event)

    def test_a_verification_proof_is_never_recorded(self, crm, tenant):
        user = UserFactory(tenant=tenant, email="carol@example.com")
        vid = crm.post("/v1/email-verifications", {"email": "carol@example.com"}, format="json").json()["id"]
        code = re.search(r"\b(\d{6})\b", mail.outbox[0].body).group(1)
        proof = crm.post(f"/v1/email-verifications/{vid}:confirm", {"code": code}, format="json").json()["proof"]
        r = crm.patch(f"/v1/users/{user.pk}", {"email_verification_proof": proof}, format="json")
        assert r.status_code == 200
        event = only_event(action="user.updated")
        assert event.changes == {"email_verified": {"old": False, "new": True}}
        assert proof not in row_text(event) and code not in row_text(event)

    def test_a_profile_change(self, crm, tenant):
        star = CelebrityProfileFactory(user__tenant=tenant, bio="before")
        r = crm.patch(f"/v1/celebrities/{star.pk}", {"bio": "after", "status": "active"}, format="json")
        assert r.status_code == 200, r.json()
        event = only_event(action="celebrity.updated")
        assert (event.actor_kind, event.object_type, event.object_id) == ("api_client", "celebrity", str(star.pk))
        assert event.changes == {"bio": {"old": "before", "new": "after"}, "status": {"old": "pending", "new": "active"}}

    def test_keycloaks_provider_is_its_own_kind_of_actor(self, tenant, make_client):
        keycloak = make_client(tenant, SCOPES, name="keycloak")
        user = UserFactory(tenant=tenant)
        keycloak.patch(f"/v1/users/{user.pk}", {"last_name": "Lovelace"}, format="json")
        event = only_event(action="user.updated")
        assert (event.actor_kind, event.actor_display) == ("keycloak", "keycloak")


class TestAPerson:
    def test_a_persons_own_change_is_recorded_as_theirs(self, tenant):
        user = UserFactory(tenant=tenant, email="old@example.com", email_verified=True)
        r = as_person(user).patch("/v1/me", {"email": "new@example.com"}, format="json")
        assert r.status_code == 200, r.json()
        event = only_event(action="user.updated")
        assert (event.actor_kind, event.actor_id, event.actor_display) == ("person", str(user.pk), user.username)
        # A person's new address waits, unproven, beside the live one.
        assert event.changes == {"pending_email": {"old": None, "new": "new@example.com"}}
        assert re.fullmatch(r"[0-9a-f]{32}", event.request_id) and r.headers["X-Request-ID"] == event.request_id

    def test_a_persons_fan_profile_change(self, tenant):
        user = UserFactory(tenant=tenant)
        r = as_person(user).patch(f"/v1/fans/{user.pk}", {"metadata": "likes jazz"}, format="json")
        assert r.status_code == 200, r.json()
        event = only_event(action="fan.updated")
        assert event.actor_kind == "person" and event.changes == {"metadata": {"old": "", "new": "likes jazz"}}


def test_a_request_id_that_is_not_a_sane_token_is_replaced(api):
    r = api.get("/v1/roles", HTTP_X_REQUEST_ID="<script>")
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"])


def test_outside_a_request_the_system_acts_and_code_may_name_another_actor(tenant):
    user = services.create_user(tenant, username="batch")
    with context.acting(context.Actor("operator", "42", "night-shift"), ip="10.0.0.1", request_id="job-7"):
        services.update_user(user, {"first_name": "Night"})
    created, updated = events(object_id=str(user.pk))
    assert (created.actor_kind, created.actor_display, created.ip, created.request_id) == ("system", "system", None, "")
    assert (updated.actor_kind, updated.actor_id, updated.ip, updated.request_id) == (
        "operator", "42", "10.0.0.1", "job-7")


class TestRollback:
    def test_a_refused_change_leaves_no_event(self, crm, tenant):
        UserFactory(tenant=tenant, username="taken")
        user = UserFactory(tenant=tenant, username="free")
        r = crm.patch(f"/v1/users/{user.pk}", {"username": "taken"}, format="json")
        assert r.status_code == 409
        assert events(action="user.updated") == []

    def test_a_change_rolled_back_later_takes_its_event_with_it(self, tenant):
        with pytest.raises(RuntimeError), transaction.atomic():
            services.create_user(tenant, username="ghost")
            assert events(action="user.created")
            raise RuntimeError("the caller's transaction fails after the change")
        assert events(action="user.created") == []
        assert not services.User.objects.filter(username="ghost").exists()

    def test_an_event_that_cannot_be_written_undoes_the_change(self, tenant, monkeypatch):
        user = UserFactory(tenant=tenant, first_name="Kept")

        def refuse(**fields):
            raise RuntimeError("the audit table refused the row")

        monkeypatch.setattr(AuditEvent.objects, "create", refuse)
        with pytest.raises(RuntimeError):
            services.update_user(user, {"first_name": "Lost"})
        user.refresh_from_db()
        assert user.first_name == "Kept"


class TestDenyList:
    @pytest.mark.parametrize("name", ["password", "new_password", "secret_hash", "token_hash", "code_hash", "key",
                                      "api_token", "email_verification_proof", "client_secret", "otp", "pin"])
    def test_secret_names(self, name):
        assert is_secret(name)

    @pytest.mark.parametrize("name", ["username", "email", "first_name", "roles", "store_code", "code", "scopes",
                                      "attributes", "keycloak_id"])
    def test_ordinary_names(self, name):
        assert not is_secret(name)

    def test_secret_keys_inside_values_are_redacted_at_any_depth(self):
        assert redact({"department": ["sales"], "api_token": ["t0k"], "nested": [{"password": "p", "x": 1}]}) == {
            "department": ["sales"], "api_token": "[redacted]", "nested": [{"password": "[redacted]", "x": 1}]}

    def test_secret_attributes_of_a_user_are_recorded_without_their_values(self, crm, tenant):
        user = UserFactory(tenant=tenant)
        r = crm.patch(f"/v1/users/{user.pk}", {"attributes": {"legacy_password": ["hunter2"], "tier": ["gold"]}},
                      format="json")
        assert r.status_code == 200, r.json()
        event = only_event(action="user.updated")
        assert event.changes["attributes"]["new"] == {"legacy_password": "[redacted]", "tier": ["gold"]}
        assert "hunter2" not in row_text(event)

    def test_an_api_clients_secret_and_key_are_never_recorded(self, tenant):
        client, token = services.create_api_client(tenant, "svc", ["users:read"])
        event = only_event(action="api_client.created")
        assert event.changes["secret_hash"] == {"redacted": True} and event.changes["key"] == {"redacted": True}
        assert event.changes["scopes"] == {"new": ["users:read"]}
        key, _, secret = token[len(services.TOKEN_PREFIX):].partition(".")
        assert key not in row_text(event) and secret not in row_text(event)


def test_every_recorded_call_of_a_profile_admin_is_attributed(tenant):
    """Calls inside another on another object get their own events: creating a celebrity profile
    also creates the tenant's celebrity role and gives it to the user."""
    user = UserFactory(tenant=tenant)
    profile_services.create_celebrity(user, bio="hi")
    assert [e.action for e in events()] == ["role.created", "user.roles_changed", "celebrity.created"]
    assert only_event(action="user.roles_changed").changes == {"roles": {"old": [], "new": ["celebrity"]}}
