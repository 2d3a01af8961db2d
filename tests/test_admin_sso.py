"""Operators' single sign-on to the admin (keycloak_bridge/admin_sso.py), below the browser: the
login page's switches, the backend's decisions on claims, the ID token checks and the logout.
The flow through a real Keycloak and Chromium is tests/e2e/test_admin_sso.py."""

import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import SuspiciousOperation

from keycloak_bridge.admin_sso import BACKEND_PATH, AdminOIDCBackend
from users import services
from users.models import Role, User

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
ISSUER = "http://keycloak.test/realms/acme"
PASSWORD = "an operator passphrase"


@pytest.fixture
def sso(settings, operators):
    """Single sign-on configured for the operators' realm (no Keycloak is contacted by these tests)."""
    settings.ADMIN_OIDC_ISSUER = ISSUER
    for name in ("AUTHORIZATION", "TOKEN", "USER", "JWKS", "LOGOUT"):
        path = {"AUTHORIZATION": "auth", "USER": "userinfo", "JWKS": "certs"}.get(name, name.lower())
        setattr(settings, f"OIDC_OP_{name}_ENDPOINT", f"{ISSUER}/protocol/openid-connect/{path}")
    settings.AUTHENTICATION_BACKENDS = ["users.backends.OperatorBackend", BACKEND_PATH]
    operators.oidc_issuer = ISSUER
    operators.save()
    for name in ("operator", "superuser", "fan"):
        Role.objects.create(tenant=operators, name=name)
    return settings


def person(tenant, roles=(), **fields):
    user = services.create_user(tenant, username=f"p{uuid.uuid4().hex[:8]}", **fields)
    services.set_password(user, PASSWORD)
    services.set_user_roles(user, list(roles))
    return user


# --------------------------------------------------------------------------- the login page


def test_without_sso_the_login_page_is_the_password_form(client):
    body = client.get("/admin/login/").content.decode()
    assert 'id="login-form"' in body and "Sign in with Keycloak" not in body
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404


def test_with_sso_the_button_sits_above_the_password_form(client, sso):
    body = client.get("/admin/login/?next=/admin/users/user/").content.decode()
    assert body.index("Sign in with Keycloak") < body.index('id="login-form"')
    assert 'href="/oidc/authenticate/?next=%2Fadmin%2Fusers%2Fuser%2F"' in body


def test_the_button_starts_the_code_flow_with_pkce(client, sso):
    response = client.get("/oidc/authenticate/?next=/admin/users/user/")
    assert response.status_code == 302
    url = urllib.parse.urlparse(response["Location"])
    query = urllib.parse.parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{ISSUER}/protocol/openid-connect/auth"
    assert query["client_id"] == ["identity-admin"] and query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["redirect_uri"] == ["http://testserver/oidc/callback/"]
    assert client.session["oidc_login_next"] == "/admin/users/user/"


def test_with_sso_the_password_form_admits_nobody(client, sso, operators, other_tenant):
    # The operators' tenant is the realm's, whose users sign in with Keycloak only; nobody else is an operator.
    for user in (person(operators, is_staff=True, is_superuser=True), person(other_tenant, is_staff=True)):
        response = client.post("/admin/login/", {"username": f"{user.tenant.slug}/{user.username}",
                                                 "password": PASSWORD, "next": "/admin/"})
        assert response.status_code == 200 and SESSION_KEY not in client.session


def test_password_login_off_removes_the_form_and_refuses_posts(client, sso, operators):
    sso.ADMIN_PASSWORD_LOGIN = False
    sso.AUTHENTICATION_BACKENDS = [BACKEND_PATH]
    user = person(operators, is_staff=True)
    body = client.get("/admin/login/").content.decode()
    assert "Sign in with Keycloak" in body and 'id="login-form"' not in body and 'name="password"' not in body
    response = client.post("/admin/login/", {"username": f"ops/{user.username}", "password": PASSWORD})
    assert response.status_code == 403 and SESSION_KEY not in client.session
    assert not client.login(username=f"ops/{user.username}", password=PASSWORD)


def settings_in_a_fresh_process(**env):
    code = "from django.conf import settings; import json; print(json.dumps(settings.AUTHENTICATION_BACKENDS))"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ADMIN_")}
    return subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT,
                          env={**clean, "DJANGO_SETTINGS_MODULE": "identity.settings", "DJANGO_DEBUG": "true", **env},
                          capture_output=True, text=True, timeout=60)


def test_the_environment_switches_the_backends():
    assert json.loads(settings_in_a_fresh_process().stdout) == ["users.backends.OperatorBackend"]
    assert json.loads(settings_in_a_fresh_process(ADMIN_OIDC_ISSUER=ISSUER).stdout) == [
        "users.backends.OperatorBackend", BACKEND_PATH]
    assert json.loads(settings_in_a_fresh_process(ADMIN_OIDC_ISSUER=ISSUER, ADMIN_PASSWORD_LOGIN="false").stdout) == [
        BACKEND_PATH]
    # Nobody could sign in: refused at start.
    refused = settings_in_a_fresh_process(ADMIN_PASSWORD_LOGIN="false")
    assert refused.returncode != 0 and "ADMIN_PASSWORD_LOGIN=false needs ADMIN_OIDC_ISSUER" in refused.stderr


# --------------------------------------------------------------------------- the backend's decisions


def test_an_operator_is_found_by_sub_and_made_staff_by_role(sso, operators):
    user = person(operators, roles=["operator"])
    assert not user.is_staff
    signed_in = AdminOIDCBackend().user_for_claims({"sub": str(user.pk)})
    assert signed_in == user
    user.refresh_from_db()
    assert user.is_staff and not user.is_superuser


def test_the_superuser_role_makes_a_superuser_and_flags_follow_roles_at_each_sign_in(sso, operators):
    user = person(operators, roles=["operator", "superuser"])
    backend = AdminOIDCBackend()
    assert backend.user_for_claims({"sub": str(user.pk)}) == user
    user.refresh_from_db()
    assert user.is_staff and user.is_superuser

    services.set_user_roles(user, ["operator"])
    backend.user_for_claims({"sub": str(user.pk)})
    user.refresh_from_db()
    assert user.is_staff and not user.is_superuser

    # Without the staff role: refused, and the flags it had are taken away.
    services.set_user_roles(user, ["superuser", "fan"])
    assert backend.user_for_claims({"sub": str(user.pk)}) is None
    user.refresh_from_db()
    assert not user.is_staff and not user.is_superuser


def test_a_user_without_the_staff_role_is_refused(sso, operators):
    user = person(operators, roles=["fan"], is_staff=True)
    assert AdminOIDCBackend().user_for_claims({"sub": str(user.pk)}) is None
    user.refresh_from_db()
    assert not user.is_staff


def test_the_staff_role_is_a_setting(sso, operators):
    sso.ADMIN_OIDC_STAFF_ROLE = "fan"
    user = person(operators, roles=["fan"])
    assert AdminOIDCBackend().user_for_claims({"sub": str(user.pk)}) == user


def test_nobody_is_created_from_a_token(sso, operators, other_tenant):
    backend = AdminOIDCBackend()
    elsewhere = person(other_tenant, roles=[])
    Role.objects.create(tenant=other_tenant, name="operator")
    services.set_user_roles(elsewhere, ["operator"])
    deactivated = person(operators, roles=["operator"], is_active=False)
    before = User.objects.count()
    for sub in (str(uuid.uuid4()), str(elsewhere.pk), str(deactivated.pk), "not-a-uuid"):
        claims = {"sub": sub, "preferred_username": "someone", "email": "someone@example.com"}
        assert backend.user_for_claims(claims) is None, sub
        assert not backend.filter_users_by_claims(claims).exists()
    with pytest.raises(SuspiciousOperation):
        backend.create_user({"sub": str(uuid.uuid4()), "email": "new@example.com"})
    assert not backend.verify_claims({"email": "someone@example.com"})
    with pytest.raises(SuspiciousOperation):
        backend.user_for_claims({"email": "someone@example.com"})
    assert User.objects.count() == before


def test_a_deactivated_operator_loses_the_session(sso, operators):
    user = person(operators, roles=["operator"])
    backend = AdminOIDCBackend()
    assert backend.get_user(user.pk) == user
    services.deactivate_user(user)
    assert backend.get_user(user.pk) is None


# --------------------------------------------------------------------------- ID token checks


@pytest.fixture
def signing_key(sso):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sso.OIDC_RP_IDP_SIGN_KEY = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return key


def id_token(key, **claims):
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": "identity-admin", "sub": str(uuid.uuid4()), "iat": now, "exp": now + 60,
               "nonce": "n0nce", **claims}
    return jwt.encode(payload, key, algorithm="RS256")


def test_the_id_token_must_come_from_our_issuer_for_our_client(signing_key):
    backend = AdminOIDCBackend()
    assert backend.verify_token(id_token(signing_key), nonce="n0nce")["aud"] == "identity-admin"
    assert backend.verify_token(id_token(signing_key, aud=["identity-admin", "x"]), nonce="n0nce")
    for bad in ({"iss": "http://keycloak.test/realms/other"}, {"aud": "identity-frontend"}):
        with pytest.raises(SuspiciousOperation):
            backend.verify_token(id_token(signing_key, **bad), nonce="n0nce")
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(id_token(signing_key), nonce="another")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Exception):
        backend.verify_token(id_token(other_key), nonce="n0nce")
    with pytest.raises(jwt.ExpiredSignatureError):
        backend.verify_token(id_token(signing_key, exp=int(time.time()) - 120), nonce="n0nce")


# --------------------------------------------------------------------------- logout


def test_logout_after_keycloak_sign_in_ends_the_keycloak_session(client, sso, operators):
    user = person(operators, roles=["operator"], is_staff=True)
    client.force_login(user, backend=BACKEND_PATH)
    session = client.session
    session["oidc_id_token"] = "the.id.token"
    session.save()
    assert client.get("/admin/").status_code == 200
    response = client.post("/admin/logout/")
    assert response.status_code == 302
    url = urllib.parse.urlparse(response["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{ISSUER}/protocol/openid-connect/logout"
    assert urllib.parse.parse_qs(url.query) == {
        "client_id": ["identity-admin"], "id_token_hint": ["the.id.token"],
        "post_logout_redirect_uri": ["http://testserver/admin/"]}
    assert SESSION_KEY not in client.session
    assert client.get("/admin/").status_code == 302


def test_logout_after_password_sign_in_is_local(client, operators):
    user = person(operators, is_staff=True)  # without single sign-on, the form admits operators
    assert client.login(username=f"ops/{user.username}", password=PASSWORD)
    response = client.post("/admin/logout/")
    assert response.status_code == 200 and b"Log in again" in response.content
    assert SESSION_KEY not in client.session
    assert client.get("/admin/logout/").status_code == 405
