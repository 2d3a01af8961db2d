"""Realm configuration as code: builds a tenant's realm and applies it through the admin REST API.

Every realm, customers' (``demo``) and the operators' (``operators``), comes from one template,
``keycloak_bridge/realm/demo-realm.json`` (clients, roles, audience mappers, event listener, the
``identity-backend`` user storage component, the ``identity-admin`` client of operators' single
sign-on to the Django admin, which only the operators' realm keeps),
``keycloak_bridge/realm/user-profile.json`` (the declarative user profile: phone attributes, names
optional), ``keycloak_bridge/realm/flows.json`` (the phone enrollment and passwordless flows,
each bound as the browser flow of its own public client, a copy of ``identity-frontend``) and
``keycloak_bridge/realm/session-limits.json`` (where Keycloak's session count limiter goes when the
tenant limits sessions). Secrets and URLs are injected at apply time, never committed.

    python -m keycloak_bridge.dev.realm apply --keycloak-url http://127.0.0.1:8080 \\
        --backend-url http://127.0.0.1:8000 --api-token "$IDENTITY_KEYCLOAK_API_TOKEN"

Admin credentials default to ``KC_BOOTSTRAP_ADMIN_USERNAME`` / ``KC_BOOTSTRAP_ADMIN_PASSWORD``.
Applying *replaces* the realm (delete, then create): its sessions and Keycloak-side user rows go
with it; users themselves live in the backend and are untouched. A realm already in production is
not replaced but given the same user storage component (``attach_storage``, used by
``manage.py adopt_keycloak_realm``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

REALM_DIR = Path(__file__).resolve().parent.parent / "realm"
TEMPLATE = REALM_DIR / "demo-realm.json"
USER_PROFILE = REALM_DIR / "user-profile.json"
FLOWS = REALM_DIR / "flows.json"
SESSION_LIMITS = REALM_DIR / "session-limits.json"
FRONTEND_CLIENT_ID = "identity-frontend"
STORAGE_PROVIDER_ID = "identity-backend"
ADMIN_CLIENT_ID = "identity-admin"
STORAGE_COMPONENT_TYPE = "org.keycloak.storage.UserStorageProvider"
LOGIN_LISTENER = "identity-backend-login"
CACHE_POLICIES = ("NO_CACHE", "DEFAULT", "EVICT_DAILY", "EVICT_WEEKLY", "MAX_LIFESPAN")


class RealmError(RuntimeError):
    """The admin REST API refused a request."""


@dataclass(frozen=True)
class SessionLimits:
    """A tenant's session limits: per user in the realm, per user and client (0: none), and what a
    login over either does (``deny`` or ``end_oldest``)."""

    per_realm: int = 0
    per_client: int = 0
    behavior: str = "deny"

    @classmethod
    def of(cls, per_realm: int, per_client: int, behavior: str) -> "SessionLimits | None":
        """The limits, or None when neither number limits anything (the flows then have no limiter)."""
        behaviors = json.loads(SESSION_LIMITS.read_text())["behaviors"]
        if behavior not in behaviors:
            raise ValueError(f"session limit behavior must be one of {', '.join(behaviors)}")
        if per_realm < 0 or per_client < 0:
            raise ValueError("session limits cannot be negative")
        return cls(per_realm, per_client, behavior) if per_realm or per_client else None

    def config(self) -> dict[str, str]:
        """The configuration of Keycloak's ``user-session-limits`` authenticator."""
        behaviors = json.loads(SESSION_LIMITS.read_text())["behaviors"]
        return {"userRealmLimit": str(self.per_realm), "userClientLimit": str(self.per_client),
                "behavior": behaviors[self.behavior]}


def build_realm(
    backend_url: str,
    api_token: str,
    realm: str = "demo",
    cache_policy: str = "NO_CACHE",
    backend_client_secret: str | None = None,
    redirect_uris: Sequence[str] | None = None,
    admin_base_url: str | None = None,
    admin_client_secret: str | None = None,
    admin_client: bool = True,
    connect_timeout_ms: int = 2000,
    read_timeout_ms: int = 5000,
    max_lifespan_ms: int | None = None,
) -> dict[str, Any]:
    """The realm representation (a dict ready for ``POST /admin/realms``).

    ``admin_base_url`` is the backend's public URL as operators' browsers reach it (default
    ``backend_url``): the ``identity-admin`` client redirects to ``<admin_base_url>/oidc/callback/``
    after sign-in and to ``<admin_base_url>/admin/`` after logout. Without ``admin_client`` (a
    customer's realm) that client is left out: the admin trusts only the operators' realm."""
    if cache_policy not in CACHE_POLICIES:
        raise ValueError(f"cache_policy must be one of {', '.join(CACHE_POLICIES)}")
    rep = json.loads(TEMPLATE.read_text())
    rep["realm"] = realm
    rep["displayName"] = f"Identity backend {realm}"
    if not admin_client:
        rep["clients"] = [c for c in rep["clients"] if c["clientId"] != ADMIN_CLIENT_ID]
    admin_base_url = (admin_base_url or backend_url).rstrip("/")
    for client in rep["clients"]:
        if client.get("secret") == "__BACKEND_CLIENT_SECRET__":
            client["secret"] = backend_client_secret or secrets.token_urlsafe(32)
        if client.get("secret") == "__ADMIN_CLIENT_SECRET__":
            client["secret"] = admin_client_secret or secrets.token_urlsafe(32)
        if client["clientId"] == ADMIN_CLIENT_ID:
            client["redirectUris"] = [uri.replace("__ADMIN_BASE_URL__", admin_base_url)
                                      for uri in client["redirectUris"]]
            attributes = client["attributes"]
            attributes["post.logout.redirect.uris"] = attributes["post.logout.redirect.uris"].replace(
                "__ADMIN_BASE_URL__", admin_base_url)
        if redirect_uris is not None and client["clientId"] == FRONTEND_CLIENT_ID:
            client["redirectUris"] = list(redirect_uris)
    frontend = next(c for c in rep["clients"] if c["clientId"] == FRONTEND_CLIENT_ID)
    for flow in json.loads(FLOWS.read_text()):
        # Same redirect URIs, PKCE and token mappers as the frontend client; only the flow differs.
        rep["clients"].append({**copy.deepcopy(frontend), **flow["client"], "directAccessGrantsEnabled": False})
    rep["components"][STORAGE_COMPONENT_TYPE] = [storage_component(
        backend_url, api_token, cache_policy=cache_policy, connect_timeout_ms=connect_timeout_ms,
        read_timeout_ms=read_timeout_ms, max_lifespan_ms=max_lifespan_ms)]
    profile = rep["components"]["org.keycloak.userprofile.UserProfileProvider"][0]
    profile["config"]["kc.user.profile.config"] = [json.dumps(json.loads(USER_PROFILE.read_text()))]
    return rep


def storage_component(
    backend_url: str,
    api_token: str,
    cache_policy: str = "NO_CACHE",
    connect_timeout_ms: int = 2000,
    read_timeout_ms: int = 5000,
    max_lifespan_ms: int | None = None,
) -> dict[str, Any]:
    """The ``identity-backend`` user storage component of the template, configured (without parent)."""
    if cache_policy not in CACHE_POLICIES:
        raise ValueError(f"cache_policy must be one of {', '.join(CACHE_POLICIES)}")
    component = json.loads(TEMPLATE.read_text())["components"][STORAGE_COMPONENT_TYPE][0]
    config = component["config"]
    config["baseUrl"] = [backend_url.rstrip("/")]
    config["apiToken"] = [api_token]
    config["cachePolicy"] = [cache_policy]
    config["connectTimeoutMs"] = [str(connect_timeout_ms)]
    config["readTimeoutMs"] = [str(read_timeout_ms)]
    if cache_policy == "MAX_LIFESPAN":
        config["maxLifespan"] = [str(max_lifespan_ms or 60_000)]
    return component


# --------------------------------------------------------------------------- admin REST client


class AdminClient:
    """A minimal Keycloak admin REST client (master-realm password grant via ``admin-cli``)."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 120.0) -> None:
        # Creating a realm takes a fresh Keycloak more than 30 s on a busy machine.
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._username = username
        self._password = password
        self._token: str | None = None
        self._token_expires = 0.0

    def token(self) -> str:
        """An admin access token, renewed shortly before it expires (master tokens live 60 s)."""
        if self._token is None or time.monotonic() > self._token_expires:
            form = urllib.parse.urlencode({
                "grant_type": "password", "client_id": "admin-cli",
                "username": self._username, "password": self._password,
            }).encode()
            request = urllib.request.Request(
                f"{self.base_url}/realms/master/protocol/openid-connect/token", data=form,
                headers={"Content-Type": "application/x-www-form-urlencoded"}, method="POST",
            )
            grant = self._send(request)[1]
            self._token = grant["access_token"]
            self._token_expires = time.monotonic() + max(grant.get("expires_in", 60) - 10, 5)
        return self._token

    def renew_token(self) -> str:
        """A new token now, e.g. once the master realm's token lifespan was changed."""
        self._token = None
        return self.token()

    def request(self, method: str, path: str, body: Any = None, ok: Sequence[int] = (200, 201, 204)) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json",
                     "Accept": "application/json"},
        )
        status, payload = self._send(request, allow=(404,))
        if status not in ok and status != 404:
            raise RealmError(f"{method} {path} -> {status}: {payload}")
        return status, payload

    def _send(self, request: urllib.request.Request, allow: Sequence[int] = ()) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = raw.decode(errors="replace")
            if exc.code in allow:
                return exc.code, payload
            raise RealmError(f"{request.get_method()} {request.full_url} -> {exc.code}: {payload}") from None
        except urllib.error.URLError as exc:
            raise RealmError(f"{request.get_method()} {request.full_url}: {exc.reason}") from None


def apply_realm(
    kc_base_url: str,
    admin_user: str,
    admin_password: str,
    backend_url: str,
    api_token: str,
    realm: str = "demo",
    **options: Any,
) -> dict[str, Any]:
    """Creates (or deletes and re-creates) ``realm`` in the Keycloak at ``kc_base_url``.

    Returns ``{"realm", "issuer", "backend_client_secret", "admin_client_id", "admin_client_secret",
    "storage_component_id"}``; of the operators' realm, the backend needs the issuer and the admin
    client's id and secret (``ADMIN_OIDC_ISSUER``, ``ADMIN_OIDC_CLIENT_ID``,
    ``ADMIN_OIDC_CLIENT_SECRET``) for operators' single sign-on (a realm built without the admin
    client has None as its secret). ``options`` are those of ``build_realm``, and ``session_limits``
    (a ``SessionLimits``, or None for none). The ``identity-backend`` client, whose service account
    may view and manage users, is the backend's way into the realm's admin API (its secret:
    ``backend_client_secret``)."""
    limits = options.pop("session_limits", None)
    rep = build_realm(backend_url, api_token, realm=realm, **options)
    admin = AdminClient(kc_base_url, admin_user, admin_password)
    status, _ = admin.request("GET", f"/admin/realms/{urllib.parse.quote(realm)}")
    if status == 200:
        admin.request("DELETE", f"/admin/realms/{urllib.parse.quote(realm)}")
    admin.request("POST", "/admin/realms", copy.deepcopy(rep), ok=(201,))
    add_flows(admin, realm, limits)
    limit_built_in_flows(admin, realm, limits)
    component_id = _storage_component_id(admin, realm)
    if component_id is None:
        raise RealmError(f"realm {realm} was created but has no {STORAGE_PROVIDER_ID} user storage component; "
                         "is the provider jar installed in Keycloak's providers/ folder?")
    secret = next(c["secret"] for c in rep["clients"] if c["clientId"] == "identity-backend")
    admin_secret = next((c["secret"] for c in rep["clients"] if c["clientId"] == ADMIN_CLIENT_ID), None)
    return {
        "realm": realm,
        "issuer": f"{kc_base_url.rstrip('/')}/realms/{realm}",
        "backend_client_secret": secret,
        "admin_client_id": ADMIN_CLIENT_ID,
        "admin_client_secret": admin_secret,
        "storage_component_id": component_id,
    }


def attach_storage(admin: AdminClient, realm: str, backend_url: str, api_token: str, **options: Any) -> str:
    """Adds the ``identity-backend`` component to an existing realm, or reconfigures the one it has
    (a new API token, say), and its login event listener; nothing else of the realm changes.
    Returns the component's id. ``options`` are those of ``storage_component``."""
    base = f"/admin/realms/{urllib.parse.quote(realm)}"
    status, rep = admin.request("GET", base)
    if status == 404:
        raise RealmError(f"Keycloak has no realm {realm!r}")
    component = {**storage_component(backend_url, api_token, **options),
                 "parentId": rep["id"], "providerType": STORAGE_COMPONENT_TYPE}
    component.pop("subComponents")  # a realm export's field, not the component API's
    existing = _storage_component_id(admin, realm)
    if existing is None:
        admin.request("POST", f"{base}/components", component, ok=(201,))
        existing = _storage_component_id(admin, realm)
        if existing is None:
            raise RealmError(f"realm {realm} refused the {STORAGE_PROVIDER_ID} component; "
                             "is the provider jar installed in Keycloak's providers/ folder?")
    else:
        admin.request("PUT", f"{base}/components/{existing}", {**component, "id": existing})
    _, events = admin.request("GET", f"{base}/events/config")
    if LOGIN_LISTENER not in events["eventsListeners"]:
        admin.request("PUT", f"{base}/events/config",
                      {**events, "eventsListeners": [*events["eventsListeners"], LOGIN_LISTENER]})
    return existing


def _storage_component_id(admin: AdminClient, realm: str) -> str | None:
    _, components = admin.request(
        "GET", f"/admin/realms/{urllib.parse.quote(realm)}/components?type={STORAGE_COMPONENT_TYPE}")
    return next((c["id"] for c in components or [] if c.get("providerId") == STORAGE_PROVIDER_ID), None)


def add_flows(admin: AdminClient, realm: str, limits: SessionLimits | None = None) -> None:
    """Creates ``flows.json``'s flows and makes each its client's browser flow; steps marked
    ``sessionLimit`` become the session limiter, or are left out when there is no limit.

    Through the admin API rather than in the realm representation: a representation that lists any
    flow must list all of Keycloak's built-in ones too."""
    base = f"/admin/realms/{urllib.parse.quote(realm)}"
    for flow in json.loads(FLOWS.read_text()):
        admin.request("POST", f"{base}/authentication/flows", {
            "alias": flow["alias"], "description": flow["description"], "providerId": "basic-flow",
            "topLevel": True, "builtIn": False}, ok=(201,))
        _add_steps(admin, base, flow["alias"], flow["executions"], limits)
        _, flows = admin.request("GET", f"{base}/authentication/flows")
        flow_id = next(f["id"] for f in flows if f["alias"] == flow["alias"])
        _, clients = admin.request("GET", f"{base}/clients?clientId={urllib.parse.quote(flow['client']['clientId'])}")
        client = clients[0]
        client["authenticationFlowBindingOverrides"] = {"browser": flow_id}
        admin.request("PUT", f"{base}/clients/{client['id']}", client)


def limit_built_in_flows(admin: AdminClient, realm: str, limits: SessionLimits | None) -> None:
    """Binds copies of the built-in browser and direct grant flows that end with the limiter (in
    the browser flow, at the end of its form subflow, after the password and any second factor).
    Built-in flows themselves cannot be changed."""
    if limits is None:
        return
    base = f"/admin/realms/{urllib.parse.quote(realm)}"
    spec = json.loads(SESSION_LIMITS.read_text())
    bindings = {}
    for flow in spec["builtInFlows"]:
        admin.request("POST", f"{base}/authentication/flows/{urllib.parse.quote(flow['copy'])}/copy",
                      {"newName": flow["alias"]}, ok=(201,))
        parent = f"{flow['alias']} {flow['subflow']}" if flow["subflow"] else flow["alias"]
        _add_limiter(admin, base, parent, limits)
        bindings[flow["binding"]] = flow["alias"]
    admin.request("PUT", base, bindings)


def _add_steps(admin: AdminClient, base: str, parent: str, steps: list[dict], limits: SessionLimits | None) -> None:
    for step in steps:
        if step.get("sessionLimit"):
            if limits is not None:
                _add_limiter(admin, base, parent, limits)
        elif "flow" in step:
            admin.request("POST", f"{base}/authentication/flows/{urllib.parse.quote(parent)}/executions/flow",
                          {"alias": step["flow"], "type": "basic-flow", "description": ""}, ok=(201,))
            _require(admin, base, parent, step["flow"], step["requirement"])
            _add_steps(admin, base, step["flow"], step["executions"], limits)
        else:
            admin.request("POST", f"{base}/authentication/flows/{urllib.parse.quote(parent)}/executions/execution",
                          {"provider": step["provider"]}, ok=(201,))
            _require(admin, base, parent, step["provider"], step["requirement"])


def _add_limiter(admin: AdminClient, base: str, parent: str, limits: SessionLimits) -> None:
    provider = json.loads(SESSION_LIMITS.read_text())["provider"]
    admin.request("POST", f"{base}/authentication/flows/{urllib.parse.quote(parent)}/executions/execution",
                  {"provider": provider}, ok=(201,))
    execution = _require(admin, base, parent, provider, "REQUIRED")
    admin.request("POST", f"{base}/authentication/executions/{execution['id']}/config",
                  {"alias": f"{parent} session limits", "config": limits.config()}, ok=(201,))


def _require(admin: AdminClient, base: str, parent: str, name: str, requirement: str) -> dict:
    """Sets the requirement of the step just added to ``parent`` (the last of its own steps), once it
    is the expected provider or subflow."""
    _, executions = admin.request("GET", f"{base}/authentication/flows/{urllib.parse.quote(parent)}/executions")
    execution = max((e for e in executions if e["level"] == 0), key=lambda e: e["index"])
    found = execution.get("providerId") or execution.get("displayName")
    if name not in (execution.get("providerId"), execution.get("displayName")):
        raise RealmError(f"flow {parent!r}: expected {name}, Keycloak has {found}; is the provider jar installed?")
    admin.request("PUT", f"{base}/authentication/flows/{urllib.parse.quote(parent)}/executions",
                  {**execution, "requirement": requirement})
    return execution


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keycloak_bridge.dev.realm", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("apply", "show"):
        p = sub.add_parser(name, help="create/replace the realm" if name == "apply" else "print the realm JSON")
        p.add_argument("--backend-url", default=os.environ.get("IDENTITY_BACKEND_URL", "http://127.0.0.1:8000"))
        p.add_argument("--api-token", default=os.environ.get("IDENTITY_KEYCLOAK_API_TOKEN"),
                       help="the provider's API client token (default $IDENTITY_KEYCLOAK_API_TOKEN)")
        p.add_argument("--realm", default="demo")
        p.add_argument("--cache-policy", default="NO_CACHE", choices=CACHE_POLICIES)
        p.add_argument("--backend-client-secret", default=os.environ.get("IDENTITY_BACKEND_CLIENT_SECRET"))
        p.add_argument("--redirect-uri", action="append", dest="redirect_uris")
        p.add_argument("--admin-base-url", default=None,
                       help="the backend's URL as operators' browsers reach it (default --backend-url)")
        p.add_argument("--admin-client-secret", default=os.environ.get("ADMIN_OIDC_CLIENT_SECRET"))
        p.add_argument("--customer", action="store_false", dest="admin_client",
                       help="a customer's realm: without the identity-admin client (only the operators' realm has it)")
        p.add_argument("--session-limit", type=int, default=0, help="sessions per user in the realm (0: none)")
        p.add_argument("--session-limit-per-client", type=int, default=0, help="sessions per user and client (0: none)")
        p.add_argument("--session-limit-behavior", default="deny", choices=("deny", "end_oldest"))
        if name == "apply":
            p.add_argument("--keycloak-url", default=os.environ.get("KEYCLOAK_URL", "http://127.0.0.1:8080"))
            p.add_argument("--admin-user", default=os.environ.get("KC_BOOTSTRAP_ADMIN_USERNAME", "admin"))
            p.add_argument("--admin-password", default=os.environ.get("KC_BOOTSTRAP_ADMIN_PASSWORD", "admin"))
    args = parser.parse_args(argv)
    if not args.api_token:
        parser.error("--api-token (or IDENTITY_KEYCLOAK_API_TOKEN) is required")
    try:
        if args.command == "show":
            rep = build_realm(args.backend_url, args.api_token, realm=args.realm, cache_policy=args.cache_policy,
                              backend_client_secret=args.backend_client_secret, redirect_uris=args.redirect_uris,
                              admin_base_url=args.admin_base_url, admin_client_secret=args.admin_client_secret,
                              admin_client=args.admin_client)
            json.dump(rep, sys.stdout, indent=2)
            print()
        else:
            limits = SessionLimits.of(args.session_limit, args.session_limit_per_client, args.session_limit_behavior)
            result = apply_realm(args.keycloak_url, args.admin_user, args.admin_password, args.backend_url,
                                 args.api_token, realm=args.realm, cache_policy=args.cache_policy,
                                 backend_client_secret=args.backend_client_secret, redirect_uris=args.redirect_uris,
                                 admin_base_url=args.admin_base_url, admin_client_secret=args.admin_client_secret,
                                 admin_client=args.admin_client, session_limits=limits)
            json.dump(result, sys.stdout, indent=2)
            print()
    except (RealmError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
