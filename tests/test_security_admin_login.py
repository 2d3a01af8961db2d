"""The admin's password form locks a login name, and a client address, out for a while after a few
failed passwords: the right password is then refused too, with a message saying so. Failures are
counted in the shared database cache; the clock that ages them is moved by the test."""

import time

import pytest
from django.contrib.auth import SESSION_KEY, authenticate

from users import backends
from users.models import User

pytestmark = pytest.mark.django_db
PASSWORD = "an operator passphrase"
LOCKED = "Too many failed sign-ins"


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def limits(settings):
    settings.ADMIN_LOGIN_FAILURES_PER_USERNAME = 5
    settings.ADMIN_LOGIN_FAILURES_PER_IP = 8
    settings.ADMIN_LOGIN_LOCKOUT_SECONDS = 900
    return settings


@pytest.fixture
def clock(frozen_clock):
    return frozen_clock(backends, time.time())


def sign_in(client, username, password, ip="127.0.0.1"):
    return client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"},
                       REMOTE_ADDR=ip)


def test_the_right_password_after_too_many_wrong_ones_is_refused_until_the_window_passes(
        client, root, clock, limits):
    for attempt in range(limits.ADMIN_LOGIN_FAILURES_PER_USERNAME):
        response = sign_in(client, "root", f"wrong {attempt}")
        assert response.status_code == 200 and LOCKED not in response.content.decode()

    response = sign_in(client, "root", PASSWORD)
    assert response.status_code == 200 and SESSION_KEY not in client.session
    assert LOCKED in response.content.decode()
    assert sign_in(client, "default/ROOT", PASSWORD).status_code == 200  # the same login name, spelled otherwise
    assert authenticate(None, username="root", password=PASSWORD) is None  # the backend refuses too

    clock.now += limits.ADMIN_LOGIN_LOCKOUT_SECONDS - 60
    assert LOCKED in sign_in(client, "root", PASSWORD).content.decode()
    clock.now += 61
    assert sign_in(client, "root", PASSWORD).status_code == 302 and client.session[SESSION_KEY] == str(root.pk)


def test_an_address_trying_many_login_names_is_locked_out(client, root, clock, limits):
    for attempt in range(limits.ADMIN_LOGIN_FAILURES_PER_IP):
        assert sign_in(client, f"someone{attempt}", "guess", ip="198.51.100.7").status_code == 200

    response = sign_in(client, "root", PASSWORD, ip="198.51.100.7")
    assert response.status_code == 200 and LOCKED in response.content.decode()
    # Another address is not held up by it.
    assert sign_in(client, "root", PASSWORD, ip="198.51.100.8").status_code == 302


def test_a_successful_sign_in_clears_the_login_names_failures(client, root, clock, limits):
    for _ in range(2):
        for attempt in range(limits.ADMIN_LOGIN_FAILURES_PER_USERNAME - 1):
            sign_in(client, "root", f"wrong {attempt}", ip=f"198.51.100.{attempt}")
        assert sign_in(client, "root", PASSWORD).status_code == 302
        client.post("/admin/logout/")


def test_the_limits_are_small():
    from identity import settings as project_settings

    assert project_settings.ADMIN_LOGIN_FAILURES_PER_USERNAME <= 10
    assert project_settings.ADMIN_LOGIN_FAILURES_PER_IP <= 50
