from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import UserFactory
from users.models import PasswordResetToken

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


def verify(api, user, password):
    return api.post(f"/v1/users/{user.pk}/credentials:verify", {"password": password}, format="json")


def test_verify_right_and_wrong_password(api, tenant):
    user = UserFactory(tenant=tenant)
    assert verify(api, user, PASSWORD).json() == {"valid": True}
    assert verify(api, user, "wrong").json() == {"valid": False}


def test_verify_is_false_for_deactivated_users_and_users_without_password(api, tenant):
    user = UserFactory(tenant=tenant)
    api.post(f"/v1/users/{user.pk}:deactivate")
    assert verify(api, user, PASSWORD).json() == {"valid": False}
    nopw = UserFactory(tenant=tenant, password=None)
    nopw.set_unusable_password()
    nopw.save()
    assert verify(api, nopw, "").json()["valid"] is False if verify(api, nopw, "").status_code == 200 else True
    assert verify(api, nopw, "anything").json() == {"valid": False}


def test_verify_upgrades_an_outdated_hash(api, tenant, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 *settings.PASSWORD_HASHERS]
    user = UserFactory(tenant=tenant)
    assert user.password.startswith("pbkdf2_sha256$")
    settings.PASSWORD_HASHERS = settings.PASSWORD_HASHERS[1:]
    assert verify(api, user, PASSWORD).json() == {"valid": True}
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")


def test_verify_is_throttled_per_user(api, tenant):
    user, other = UserFactory(tenant=tenant), UserFactory(tenant=tenant)
    for _ in range(20):
        assert verify(api, user, "guess").status_code == 200
    r = verify(api, user, PASSWORD)
    assert r.status_code == 429
    assert r.json()["code"] == "throttled" and "Retry-After" in r.headers
    assert verify(api, other, PASSWORD).json() == {"valid": True}  # another user is unaffected


def test_verify_needs_the_scope(make_client, tenant):
    user = UserFactory(tenant=tenant)
    reader = make_client(tenant, ["users:read", "users:write"])
    r = verify(reader, user, PASSWORD)
    assert r.status_code == 403 and "credentials:verify" in r.json()["message"]


def test_set_password(api, tenant):
    user = UserFactory(tenant=tenant)
    r = api.put(f"/v1/users/{user.pk}/password", {"password": "a brand new passphrase"}, format="json")
    assert r.status_code == 204
    assert verify(api, user, "a brand new passphrase").json() == {"valid": True}
    assert verify(api, user, PASSWORD).json() == {"valid": False}


@pytest.mark.parametrize("body", [{"password": "short"}, {"password": "password123"}, {}, {"password": "x", "y": 1}])
def test_weak_or_bad_password_is_400_and_keeps_the_old_one(api, tenant, body):
    user = UserFactory(tenant=tenant)
    r = api.put(f"/v1/users/{user.pk}/password", body, format="json")
    assert r.status_code == 400
    assert verify(api, user, PASSWORD).json() == {"valid": True}


class TestPasswordReset:
    def test_reset_token_is_single_use(self, api, tenant):
        user = UserFactory(tenant=tenant)
        r = api.post(f"/v1/users/{user.pk}:reset-password", {}, format="json")
        assert r.status_code == 201
        token = r.json()["token"]
        assert PasswordResetToken.objects.get().token_hash != token  # only a hash is stored
        expires = timezone.datetime.fromisoformat(r.json()["expires_at"].replace("Z", "+00:00"))
        assert timedelta(minutes=59) < expires - timezone.now() <= timedelta(hours=1)
        r = api.post("/v1/password-resets:redeem", {"token": token, "password": "the new passphrase"}, format="json")
        assert r.status_code == 204
        assert verify(api, user, "the new passphrase").json() == {"valid": True}
        r = api.post("/v1/password-resets:redeem", {"token": token, "password": "another passphrase"}, format="json")
        assert r.status_code == 400 and "token" in r.json()["fields"]
        assert verify(api, user, "the new passphrase").json() == {"valid": True}

    def test_ttl_bounds(self, api, tenant):
        user = UserFactory(tenant=tenant)
        r = api.post(f"/v1/users/{user.pk}:reset-password", {"ttl_seconds": 24 * 3600}, format="json")
        assert r.status_code == 201
        for ttl in (24 * 3600 + 1, 10):
            r = api.post(f"/v1/users/{user.pk}:reset-password", {"ttl_seconds": ttl}, format="json")
            assert r.status_code == 400 and "ttl_seconds" in r.json()["fields"]

    def test_expired_token_is_refused(self, api, tenant):
        user = UserFactory(tenant=tenant)
        token = api.post(f"/v1/users/{user.pk}:reset-password", {}, format="json").json()["token"]
        PasswordResetToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        r = api.post("/v1/password-resets:redeem", {"token": token, "password": "the new passphrase"}, format="json")
        assert r.status_code == 400
        assert verify(api, user, PASSWORD).json() == {"valid": True}

    def test_weak_password_does_not_spend_the_token(self, api, tenant):
        user = UserFactory(tenant=tenant)
        token = api.post(f"/v1/users/{user.pk}:reset-password", {}, format="json").json()["token"]
        r = api.post("/v1/password-resets:redeem", {"token": token, "password": "123"}, format="json")
        assert r.status_code == 400 and "password" in r.json()["fields"]
        r = api.post("/v1/password-resets:redeem", {"token": token, "password": "the new passphrase"}, format="json")
        assert r.status_code == 204

    def test_another_tenants_token_is_refused(self, api, other_api, tenant):
        user = UserFactory(tenant=tenant)
        token = api.post(f"/v1/users/{user.pk}:reset-password", {}, format="json").json()["token"]
        r = other_api.post("/v1/password-resets:redeem", {"token": token, "password": "the new passphrase"},
                           format="json")
        assert r.status_code == 400
