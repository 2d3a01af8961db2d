"""Operators' rights never derive from data that a customer tenant's tokens can write.

The attack: a customer tenant's `admin` (people's tokens with that role hold `users:write`) creates
the roles `operator` and `superuser` in its tenant and gives them to itself; were its realm the one
the admin trusts, its next "Sign in with Keycloak" would make it a superuser, and from there every
tenant's operator. Defences, each tested here: only the operators' tenant has operators; the process
refuses to start (and each sign-in refuses) when `ADMIN_OIDC_ISSUER` is not that tenant's issuer;
that tenant is read-only through `/v1` (its realm's provider keeps reads, password checks and login
records); and another tenant's credentials never find its users.
"""

import io
import os
import re
import subprocess
import sys
import uuid
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.db import IntegrityError, connection
from rest_framework.test import APIClient

from keycloak_bridge.admin_sso import BACKEND_PATH, AdminOIDCBackend, check_operators_realm
from keycloak_bridge.dev.realm import ADMIN_CLIENT_ID, build_realm
from tests.access import as_person, served_methods
from tests.factories import TenantFactory, UserFactory
from users import backends, services
from users.forms import UserChangeForm
from users.models import Role, Tenant, User

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
OPERATORS_ISSUER = "http://keycloak.test/realms/ops"
CUSTOMER_ISSUER = "http://keycloak.test/realms/acme"
PASSWORD = "an operator passphrase"
PASSWORD_BACKEND = "users.backends.OperatorBackend"
ALL_SCOPES = sorted(services.KNOWN_SCOPES)


def sso_through(settings, issuer):
    settings.ADMIN_OIDC_ISSUER = issuer
    settings.AUTHENTICATION_BACKENDS = [PASSWORD_BACKEND, BACKEND_PATH]
    return settings


@pytest.fixture
def customer(tenant):
    tenant.oidc_issuer = CUSTOMER_ISSUER
    tenant.save()
    return tenant


@pytest.fixture
def ops(operators):
    """The operators' tenant, connected to its realm, with the roles that make operators."""
    operators.oidc_issuer = OPERATORS_ISSUER
    operators.save()
    for name in ("operator", "superuser"):
        Role.objects.create(tenant=operators, name=name)
    return operators


def person_of(tenant, roles=(), **fields):
    user = services.create_user(tenant, username=f"p{uuid.uuid4().hex[:8]}", **fields)
    services.set_password(user, PASSWORD)
    for name in roles:
        Role.objects.get_or_create(tenant=tenant, name=name)
    services.set_user_roles(user, list(roles))
    return user


def grant_self_operator_and_superuser(alice):
    """The finding's steps 1 and 2, with alice's own token (role `admin` of her tenant)."""
    api = as_person(alice)
    assert api.post("/v1/roles", {"name": "superuser"}, format="json").status_code == 201
    assert api.post("/v1/roles", {"name": "operator"}, format="json").status_code == 201
    r = api.put(f"/v1/users/{alice.pk}/roles", {"roles": ["admin", "operator", "superuser"]}, format="json")
    assert r.status_code == 200 and sorted(r.json()["roles"]) == ["admin", "operator", "superuser"], r.content


# --------------------------------------------------------------------------- the finding, reproduced


def test_a_customer_admin_cannot_become_superuser_through_its_own_realm(settings, customer):
    """The finding's shape: the admin trusts the customer's realm. The sign-in is refused anyway."""
    sso_through(settings, CUSTOMER_ISSUER)
    alice = person_of(customer, roles=["admin"])
    grant_self_operator_and_superuser(alice)

    assert AdminOIDCBackend().user_for_claims({"sub": str(alice.pk)}) is None  # step 3
    alice.refresh_from_db()
    assert not alice.is_staff and not alice.is_superuser


def test_a_customer_admin_cannot_become_an_operator_of_the_operators_realm(client, settings, customer, ops):
    """The safe shape: her roles are her tenant's, and the admin trusts the operators' realm only."""
    sso_through(settings, OPERATORS_ISSUER)
    alice = person_of(customer, roles=["admin"])
    grant_self_operator_and_superuser(alice)

    assert AdminOIDCBackend().user_for_claims({"sub": str(alice.pk)}) is None
    alice.refresh_from_db()
    assert not alice.is_staff and not alice.is_superuser
    response = client.post("/admin/login/", {"username": f"acme/{alice.username}", "password": PASSWORD})
    assert response.status_code == 200 and SESSION_KEY not in client.session


@pytest.mark.parametrize("backend", [BACKEND_PATH, PASSWORD_BACKEND])
@pytest.mark.parametrize("sso", [True, False], ids=["sso", "no-sso"])
def test_a_customer_user_with_staff_flags_never_holds_an_admin_session(client, settings, customer, ops, backend, sso):
    """Flags set before this fix (or by hand) open nothing: a session of theirs ends at once."""
    if sso:
        sso_through(settings, OPERATORS_ISSUER)
    else:
        settings.AUTHENTICATION_BACKENDS = [PASSWORD_BACKEND, BACKEND_PATH]
    alice = person_of(customer, roles=["admin", "operator", "superuser"], is_staff=True, is_superuser=True)
    client.force_login(alice, backend=backend)
    assert client.get("/admin/users/apiclient/add/").status_code == 302
    assert client.get("/admin/").status_code == 302


def test_the_sign_in_is_refused_whenever_the_issuer_is_not_the_operators_tenants(settings, ops, customer):
    """Defence in depth, should a process run with a realm that the start would refuse."""
    operator = person_of(ops, roles=["operator", "superuser"])
    sso_through(settings, OPERATORS_ISSUER)
    assert AdminOIDCBackend().user_for_claims({"sub": str(operator.pk)}) == operator
    Tenant.objects.filter(pk=ops.pk).update(is_operators=False)  # the operators' tenant moved away
    assert AdminOIDCBackend().user_for_claims({"sub": str(operator.pk)}) is None
    assert AdminOIDCBackend().get_user(operator.pk) is None


# --------------------------------------------------------------------------- the operators' tenant is read-only


def v1_write_routes():
    """(url name, method, path) of every write a credential can send to `/v1`; ids are made up,
    as the refusal comes before any lookup. Routes without authentication (public) are left out."""
    routes = []
    for module in ("users.api.urls", "users.api.verification_urls", "profiles.api.urls", "audit.api.urls"):
        for pattern in import_module(module).urlpatterns:
            view = pattern.callback
            if getattr(getattr(view, "cls", None), "authentication_classes", None) == []:
                continue
            path = re.sub(r"<(\w+):\w+>", lambda m: {"uuid": str(uuid.uuid4())}.get(m[1], "x"), str(pattern.pattern))
            for method in sorted(served_methods(view) - {"get"}):
                routes.append((pattern.name, method, f"/v1/{path}"))
    return routes


SIGN_IN_ROUTES = {("user-verify-password", "post"), ("user-record-login", "post")}
WRITES = [route for route in v1_write_routes() if route[:2] not in SIGN_IN_ROUTES]


def test_the_route_walk_finds_the_writes():
    names = {name for name, _, _ in WRITES}
    assert len(WRITES) > 40, WRITES
    assert {"user-password", "user-roles", "role-list", "user-detail", "user-list", "magic-link-list", "me"} <= names
    assert {name for name, _, _ in v1_write_routes()} >= {name for name, _ in SIGN_IN_ROUTES}


@pytest.mark.parametrize("name,method,path", WRITES, ids=[f"{m} {n}" for n, m, _ in WRITES])
def test_no_credential_of_the_operators_tenant_writes_through_v1(make_client, ops, name, method, path):
    admin = person_of(ops, roles=["admin"])  # a person's token with every write scope of the role
    for client in (make_client(ops, ALL_SCOPES), as_person(admin)):
        r = getattr(client, method)(path, {}, format="json")
        assert r.status_code == 403, (path, r.status_code, r.content)
        assert r.json()["code"] == "managed_in_admin" and "managed in the admin" in r.json()["message"]


def test_the_operators_realm_provider_reads_checks_passwords_and_records_logins(make_client, ops):
    provider = make_client(ops, ALL_SCOPES)  # what connect_keycloak gives the realm's provider
    dora = person_of(ops, roles=["operator"], email="dora@example.com")
    assert provider.get(f"/v1/users/{dora.pk}").json()["username"] == dora.username
    assert provider.get("/v1/users:search", {"email": "dora@example.com", "exact": "true"}).json()["results"]
    r = provider.post(f"/v1/users/{dora.pk}/credentials:verify", {"password": PASSWORD}, format="json")
    assert r.status_code == 200 and r.json() == {"valid": True}
    r = provider.post(f"/v1/users/{dora.pk}:record-login", {"client": "identity-admin"}, format="json")
    assert r.status_code == 204
    assert dora.login.login_count == 1


def test_the_operators_realm_provider_cannot_take_over_an_operator(make_client, ops):
    """The finding's other paths: a password set or reset, or roles, with the realm's provider token."""
    provider = make_client(ops, ALL_SCOPES)
    dora = person_of(ops, roles=["operator"])
    refused = [
        provider.put(f"/v1/users/{dora.pk}/password", {"password": "a new passphrase 123"}, format="json"),
        provider.post(f"/v1/users/{dora.pk}:reset-password", {}, format="json"),
        provider.put(f"/v1/users/{dora.pk}/roles", {"roles": ["operator", "superuser"]}, format="json"),
        provider.post(f"/v1/users/{dora.pk}/roles/superuser", {}, format="json"),
        provider.post("/v1/roles", {"name": "admin"}, format="json"),
        provider.patch(f"/v1/users/{dora.pk}", {"email": "attacker@example.com"}, format="json"),
        provider.post("/v1/users", {"username": "mallory"}, format="json"),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    dora.refresh_from_db()
    assert dora.check_password(PASSWORD) and dora.email is None and not dora.password_resets.exists()
    assert sorted(dora.roles.values_list("name", flat=True)) == ["operator"]
    assert not User.objects.filter(tenant=ops, username="mallory").exists()


def test_an_operators_own_token_reads_but_does_not_write_me(ops):
    dora = person_of(ops, roles=["operator"])
    me = as_person(dora)
    assert me.get("/v1/me").json()["id"] == str(dora.pk)
    r = me.patch("/v1/me", {"first_name": "Mallory"}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "managed_in_admin"


def test_customer_credentials_never_reach_an_operator(make_client, customer, ops):
    operator = person_of(ops, roles=["operator", "superuser"])
    alice = person_of(customer, roles=["admin"])
    for client in (as_person(alice), make_client(customer, ALL_SCOPES)):
        r = client.put(f"/v1/users/{operator.pk}/password", {"password": "a new passphrase 123"}, format="json")
        assert r.status_code == 404, r.content
        assert client.put(f"/v1/users/{operator.pk}/roles", {"roles": []}, format="json").status_code == 404
        assert client.post(f"/v1/users/{operator.pk}:reset-password", {}, format="json").status_code == 404
    operator.refresh_from_db()
    assert operator.check_password(PASSWORD) and not operator.password_resets.exists()


def test_customer_tenants_keep_their_writes(make_client, customer):
    bob = person_of(customer)
    api = make_client(customer, ALL_SCOPES)
    assert api.put(f"/v1/users/{bob.pk}/password", {"password": "a new passphrase 123"}, format="json").status_code == 204


# --------------------------------------------------------------------------- refusing to start


def fresh_process(code, **env):
    """`code` in a new process on the test database (whose rows this test commits)."""
    db = connection.settings_dict
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ADMIN_")}
    env = {**clean, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}", **env}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def connected(slug, issuer, **fields):
    return TenantFactory(slug=slug, oidc_issuer=issuer, **fields)


@pytest.mark.django_db(transaction=True)
def test_the_server_refuses_to_start_with_a_customers_realm():
    connected("acme", CUSTOMER_ISSUER)
    connected("ops", OPERATORS_ISSUER, is_operators=True)
    for module in ("identity.wsgi", "identity.asgi"):
        refused = fresh_process(f"import {module}", ADMIN_OIDC_ISSUER=CUSTOMER_ISSUER)
        assert refused.returncode != 0 and "is the issuer of 'acme', a customer tenant" in refused.stderr, refused
        assert "ImproperlyConfigured" in refused.stderr
    started = fresh_process("import identity.wsgi; print('serving')", ADMIN_OIDC_ISSUER=OPERATORS_ISSUER)
    assert started.returncode == 0 and started.stdout.strip() == "serving", started.stderr


@pytest.mark.django_db(transaction=True)
def test_the_server_refuses_to_start_with_an_issuer_of_no_tenant():
    connected("ops", OPERATORS_ISSUER, is_operators=True)
    refused = fresh_process("import identity.wsgi", ADMIN_OIDC_ISSUER="http://keycloak.test/realms/nobody")
    assert refused.returncode != 0 and "is the issuer of no tenant" in refused.stderr, refused.stderr
    assert fresh_process("import identity.wsgi").returncode == 0  # without single sign-on: no check


@pytest.mark.django_db(transaction=True)
def test_manage_py_check_database_shows_a_customers_realm():
    connected("acme", CUSTOMER_ISSUER)
    code = "import sys; from django.core.management import execute_from_command_line; " \
           "execute_from_command_line(['manage.py', 'check', '--database', 'default'])"
    refused = fresh_process(code, ADMIN_OIDC_ISSUER=CUSTOMER_ISSUER)
    assert refused.returncode != 0 and "keycloak_bridge.E001" in refused.stderr, refused.stderr
    assert fresh_process(code).returncode == 0


def test_the_system_check_warns_of_an_issuer_of_no_tenant_and_passes_the_operators(settings, ops, customer):
    """Only a warning, so that `migrate` (which runs database checks) prepares a fresh database."""
    settings.ADMIN_OIDC_ISSUER = "http://keycloak.test/realms/nobody"
    assert [m.id for m in check_operators_realm(databases=["default"])] == ["keycloak_bridge.W001"]
    settings.ADMIN_OIDC_ISSUER = CUSTOMER_ISSUER
    assert [m.id for m in check_operators_realm(databases=["default"])] == ["keycloak_bridge.E001"]
    assert check_operators_realm(databases=None) == []  # not asked for the database
    settings.ADMIN_OIDC_ISSUER = OPERATORS_ISSUER
    assert check_operators_realm(databases=["default"]) == []


# --------------------------------------------------------------------------- the operators' tenant


def test_there_is_at_most_one_operators_tenant(operators):
    with pytest.raises(IntegrityError):
        TenantFactory(slug="second", is_operators=True)


def test_making_another_tenant_the_operators_moves_the_flag(operators, tenant):
    services.make_operators_tenant(tenant)
    operators.refresh_from_db()
    assert Tenant.objects.get(is_operators=True) == tenant and not operators.is_operators


def test_createsuperuser_puts_operators_in_the_operators_tenant(client, monkeypatch, tenant):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", interactive=False, username="root", email="root@example.com", verbosity=0)
    root = User.objects.get(username="root")
    assert root.tenant.slug == "default" and root.tenant.is_operators and root.is_superuser
    assert client.login(username="root", password=PASSWORD)  # without single sign-on, the form admits it
    second = User.objects.create_superuser("second", "second@example.com", PASSWORD)
    assert second.tenant == root.tenant
    with pytest.raises(ValueError, match="operators' tenant"):
        User.objects.create_superuser("third", "third@example.com", PASSWORD, tenant=tenant)


def test_createsuperuser_joins_an_existing_operators_tenant(operators):
    assert User.objects.create_superuser("root", "root@example.com", PASSWORD).tenant == operators


def test_the_migration_makes_the_default_tenant_the_operators(db):
    TenantFactory(slug="default")
    migration = import_module("users.migrations.0011_operators_tenant")
    migration.default_is_the_operators_tenant(apps, None)
    assert Tenant.objects.get(slug="default").is_operators


def test_the_admin_form_refuses_staff_flags_outside_the_operators_tenant(customer, operators):
    for tenant, valid in ((customer, False), (operators, True)):
        user = UserFactory(tenant=tenant)
        data = {"tenant": tenant.pk, "username": user.username, "email": user.email, "is_active": True,
                "is_staff": True, "attributes": "{}", "first_name": "", "last_name": ""}
        form = UserChangeForm(data, instance=user)
        assert form.is_valid() is valid, form.errors
        if not valid:
            assert "operators' tenant" in form.non_field_errors()[0]


def test_a_bare_login_name_and_its_tenant_spelled_out_share_one_lockout(operators):
    keys = {backends._failures_keys(name, None)[0][0] for name in ("root", "ops/root", "OPS/Root")}
    assert len(keys) == 1


def test_only_the_operators_realm_has_the_admin_client():
    clients = lambda rep: [c["clientId"] for c in rep["clients"]]  # noqa: E731
    assert ADMIN_CLIENT_ID in clients(build_realm("http://backend", "token", realm="ops"))
    customer = build_realm("http://backend", "token", realm="acme", admin_client=False)
    assert ADMIN_CLIENT_ID not in clients(customer) and "identity-frontend" in clients(customer)


def test_the_demo_seed_keeps_operators_out_of_the_customer_tenant(db):
    TenantFactory(slug="default", is_operators=True)  # as an earlier make run's database has it
    for _ in range(2):  # make run seeds at every start
        call_command("seed_demo", tenant="demo", operators_tenant="operators", stdout=io.StringIO())
    operators = Tenant.objects.get(is_operators=True)
    assert operators.slug == "operators"
    assert set(User.objects.filter(tenant=operators).values_list("username", flat=True)) == {"dora", "operator"}
    assert User.objects.get(tenant=operators, username="dora").groups.filter(name="support").exists()
    demo = User.objects.filter(tenant__slug="demo")
    assert set(demo.values_list("username", flat=True)) == {"alice", "bob", "carol"}
    assert not demo.filter(is_staff=True).exists() and not Role.objects.filter(tenant__slug="demo", name="operator")
