"""Admin rights that Keycloak sign-ins derive from backend roles must not outlive those roles: the
password form does not admit users of the operators' realm (they sign in with Keycloak, and its
MFA), and a Keycloak session re-reads the roles at each request."""

import uuid

import pytest
from django.contrib.auth import SESSION_KEY

from keycloak_bridge.admin_sso import BACKEND_PATH, AdminOIDCBackend
from users import services
from users.models import Role, User

pytestmark = pytest.mark.django_db
ISSUER = "http://keycloak.test/realms/acme"
PASSWORD = "an operator passphrase"
PASSWORD_BACKEND = "users.backends.OperatorBackend"


@pytest.fixture
def sso(settings, operators):
    """Single sign-on to the admin through the operators' realm (no Keycloak is contacted)."""
    settings.ADMIN_OIDC_ISSUER = ISSUER
    settings.AUTHENTICATION_BACKENDS = [PASSWORD_BACKEND, BACKEND_PATH]
    operators.oidc_issuer = ISSUER
    operators.save()
    for name in ("operator", "superuser"):
        Role.objects.create(tenant=operators, name=name)
    return settings


def sso_operator(tenant, roles=("operator", "superuser")):
    """A user of the realm's tenant, signed in once through Keycloak (which set the staff flags)."""
    user = services.create_user(tenant, username=f"op{uuid.uuid4().hex[:8]}")
    services.set_password(user, PASSWORD)
    services.set_user_roles(user, list(roles))
    assert AdminOIDCBackend().user_for_claims({"sub": str(user.pk)}) == user
    user.refresh_from_db()
    return user


def password_login(client, login):
    return client.post("/admin/login/", {"username": login, "password": PASSWORD, "next": "/admin/"})


def test_a_former_operator_cannot_use_the_password_form(client, sso, operators):
    user = sso_operator(operators)
    assert user.is_staff and user.is_superuser
    services.set_user_roles(user, [])  # every role taken away, in the backend

    response = password_login(client, f"{operators.slug}/{user.username}")
    assert response.status_code == 200 and SESSION_KEY not in client.session
    assert client.get("/admin/").status_code == 302


def test_an_sso_operator_signs_in_with_keycloak_only(client, sso, operators):
    user = sso_operator(operators)  # still holds the roles: the password form would skip Keycloak's MFA
    assert password_login(client, f"{operators.slug}/{user.username}").status_code == 200
    assert SESSION_KEY not in client.session


def test_with_single_sign_on_createsuperusers_operators_sign_in_with_keycloak_too(client, sso, operators):
    # `createsuperuser` puts them in the operators' tenant, which is the realm's.
    root = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    assert root.tenant == operators
    assert password_login(client, "root").status_code == 200 and SESSION_KEY not in client.session


def test_a_keycloak_session_ends_when_the_staff_role_is_taken_away(client, sso, operators):
    user = sso_operator(operators)
    client.force_login(user, backend=BACKEND_PATH)
    assert client.get("/admin/").status_code == 200

    services.set_user_roles(user, ["superuser"])  # the staff role is gone
    assert client.get("/admin/").status_code == 302
    user.refresh_from_db()
    assert not user.is_staff and not user.is_superuser


def test_a_keycloak_session_loses_superuser_with_its_role(client, sso, operators):
    user = sso_operator(operators)
    client.force_login(user, backend=BACKEND_PATH)
    assert client.get("/admin/users/apiclient/").status_code == 200
    services.set_user_roles(user, ["operator"])
    assert client.get("/admin/users/apiclient/").status_code == 403
    assert client.get("/admin/").status_code == 200  # still staff, with Django's permissions only


def test_an_earlier_password_session_of_an_sso_operator_ends(client, sso, operators):
    user = sso_operator(operators)
    client.force_login(user, backend=PASSWORD_BACKEND)
    assert client.get("/admin/").status_code == 302
