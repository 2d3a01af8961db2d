"""Who may call which route: the standard access checks, generated from a class's route table.

A test class names the URLconf it covers and declares its routes as a text table, one
`method path scope` a row (`public` for routes that take no credential); `{name}` in a path stands
for the id of an object, which `objects()` makes for real where a check needs one. The mixins below
hold the checks; `RouteTable.pytest_generate_tests` parametrizes each with the class's rows, so a
new row is checked every way at once, and a route of the URLconf without a row fails the listing.
"""

import re
from collections import Counter
from importlib import import_module
from typing import NamedTuple

from django.urls import Resolver404, resolve
from rest_framework.test import APIClient

from keycloak_bridge.authentication import PersonCredential
from tests.factories import RoleFactory, UserFactory
from users import services
from users.queries import active_person

U = "00000000-0000-0000-0000-000000000000"  # an id that nothing has
PUBLIC = "public"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
ADMIN_ROLE_SCOPES = frozenset({"users:read", "users:write", "profiles:read", "profiles:write"})  # README's matrix


class Route(NamedTuple):
    method: str
    path: str
    scope: str

    def __str__(self):
        return f"{self.method} {self.path}"

    @property
    def placeholders(self):
        return PLACEHOLDER.findall(self.path)

    def fill(self, ids=None):
        """The path with `ids` in its placeholders, and an id that nothing has in the others."""
        return PLACEHOLDER.sub(lambda m: str((ids or {}).get(m[1], U)), self.path)


def route_table(text):
    """The rows of a table of `method path scope`, aligned as reads best; `#` starts a comment."""
    rows = [line.split("#")[0].split() for line in text.splitlines()]
    return [Route(*row) for row in rows if row]


def call(client, method, path, body=None):
    """A GET sends no body (the test client would make it a query string); the others send JSON."""
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, body or {}, format="json")


def as_person(user):
    """A client signed in as `user`, with the principal that KeycloakTokenAuthentication sets."""
    user = active_person(user.tenant_id, user.pk)
    client = APIClient()
    client.force_authenticate(user=user, token=PersonCredential(user, list(user.role_names), {"sub": str(user.pk)}))
    return client


def admin_of(tenant):
    user = UserFactory(tenant=tenant)
    user.roles.add(RoleFactory(tenant=tenant, name="admin"))
    return as_person(user)


def resolved(path):
    try:
        return resolve(path).func
    except Resolver404:
        return None


def served_methods(view):
    actions = getattr(view, "actions", None)  # a viewset's; DRF adds "head" to GET routes once served
    if actions is not None:
        return set(actions) - {"head"}
    return {method for method in HTTP_METHODS if hasattr(view.view_class, method)}


class RouteTable:
    """The table, and what the checks need from the class that declares it."""

    urlconf: str  # the module whose urlpatterns the table covers
    routes: list[Route]
    answers_with_scope = None  # the statuses of a permitted call with an empty body, where known

    def objects(self, tenant):
        """Real ids, made in `tenant`, for the placeholders of the paths."""
        return {}

    def body(self, ids):
        """The body of calls that reach an object: enough to get past validation to the lookup."""
        return {}

    def pytest_generate_tests(self, metafunc):
        rows = {
            "route": self.routes,
            "scoped_route": [route for route in self.routes if route.scope != PUBLIC],
            "object_route": [route for route in self.routes if route.placeholders],
        }
        if "scopes" in metafunc.fixturenames:
            metafunc.parametrize("scopes", list(self.clients.values()), ids=list(self.clients))
        for name, subset in rows.items():
            if name in metafunc.fixturenames:
                metafunc.parametrize(name, subset, ids=str)

    def assert_permitted(self, response):
        if self.answers_with_scope is not None:
            assert response.status_code in self.answers_with_scope, response.content
        else:
            assert response.status_code not in (401, 403) and response.status_code < 500, response.content

    @staticmethod
    def assert_refused(response, scope):
        assert response.status_code == 403, response.content
        assert scope in response.json()["message"]


class ServiceRoutes(RouteTable):
    """Service clients' tokens: no token is 401, a route refuses every scope but its own."""

    elsewhere = ()  # (method, path) of the URLconf's routes that other tests check

    def test_every_route_and_method_is_listed(self):
        patterns = import_module(self.urlconf).urlpatterns
        names = {pattern.callback: pattern.name for pattern in patterns}
        served = {(method, pattern.name) for pattern in patterns for method in served_methods(pattern.callback)}
        rows = [(route.method, route.fill()) for route in self.routes] + list(self.elsewhere)
        listed = Counter((method, names.get(resolved(path), path)) for method, path in rows)
        assert [row for row, times in listed.items() if times > 1] == []
        assert sorted(served - set(listed)) == [], f"routes of {self.urlconf} without a row"
        assert sorted(set(listed) - served) == [], f"rows that {self.urlconf} does not serve"

    def test_without_a_token(self, tenant, route):
        r = call(APIClient(), route.method, route.fill())
        if route.scope == PUBLIC:
            assert r.status_code in (200, 404), r.content
        else:
            assert r.status_code == 401 and r.json()["code"] == "not_authenticated", r.content
            assert r.headers["WWW-Authenticate"].startswith("Bearer")

    def test_each_route_needs_its_scope(self, make_client, tenant, scoped_route):
        method, path, scope = scoped_route.method, scoped_route.fill(), scoped_route.scope
        self.assert_refused(call(make_client(tenant, sorted(services.KNOWN_SCOPES - {scope})), method, path), scope)
        self.assert_permitted(call(make_client(tenant, [scope]), method, path))


class ScopedClients(RouteTable):
    """Service clients holding the named sets of scopes (`clients`), on every route."""

    clients: dict[str, list[str]]

    def test_a_client_with_these_scopes(self, make_client, tenant, scopes, route):
        r = call(make_client(tenant, scopes), route.method, route.fill())
        if route.scope == PUBLIC:
            assert r.status_code in (200, 404), r.content
        elif route.scope in scopes:
            self.assert_permitted(r)
        else:
            self.assert_refused(r, route.scope)


class TenantIsolation(RouteTable):
    """A client of one tenant, holding every scope of the table, finds no object of another."""

    def test_other_tenants_objects_are_404(self, make_client, tenant, other_tenant, object_route):
        """Public routes are tried anonymously, under our tenant's slug."""
        ids = self.objects(other_tenant)
        assert set(object_route.placeholders) <= set(ids), "every id of the path must be a real one"
        scopes = sorted({route.scope for route in self.routes} - {PUBLIC})
        client = APIClient() if object_route.scope == PUBLIC else make_client(tenant, scopes)
        path = object_route.fill(ids)
        r = call(client, object_route.method, path, self.body(ids))
        assert r.status_code == 404, (path, r.status_code, r.content)


class PeopleRoutes(RouteTable):
    """People signed in with Keycloak: no route without a role; the `admin` role grants its scopes."""

    def test_a_person_without_roles_is_403(self, tenant, route):
        ids = self.objects(tenant)
        r = call(as_person(UserFactory(tenant=tenant)), route.method, route.fill(ids))
        assert r.status_code == 403, r.content

    def test_an_admin_may_use_the_routes_of_the_admin_scopes_only(self, tenant, route):
        ids = self.objects(tenant)
        r = call(admin_of(tenant), route.method, route.fill(ids))
        if route.scope in ADMIN_ROLE_SCOPES:
            assert r.status_code not in (401, 403), (route.fill(ids), r.status_code, r.content)
        else:
            assert r.status_code == 403, r.content


class PeopleIsolation(RouteTable):
    """An admin of one tenant finds no object of another."""

    def test_another_tenants_admin_finds_nothing(self, tenant, other_tenant, object_route):
        """403, before any lookup, where the route's scope is not the admin role's."""
        ids = self.objects(other_tenant)
        assert set(object_route.placeholders) <= set(ids), "every id of the path must be a real one"
        r = call(admin_of(tenant), object_route.method, object_route.fill(ids), self.body(ids))
        assert r.status_code == (404 if object_route.scope in ADMIN_ROLE_SCOPES else 403), r.content
