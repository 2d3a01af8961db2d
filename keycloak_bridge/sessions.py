"""A user's Keycloak sessions, listed and ended through the realm's admin REST API.

The backend signs in to a tenant's realm as the service account of its confidential client
`identity-backend` (realm-management roles `view-users`, `manage-users` and `query-clients`), with
the client-credentials grant. That client's secret is derived from `KEYCLOAK_ADMIN_CLIENT_KEY` and
the realm's name, so one setting serves every realm and a secret read in one realm opens no other;
`connect_keycloak` gives each realm its secret.

Keycloak keeps sessions; this backend never stores them.
"""

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone

from django.conf import settings
from django.db import transaction

CLIENT_ID = "identity-backend"
OFFLINE_GRANT = "Offline Token"
log = logging.getLogger(__name__)

_tokens_lock = threading.Lock()
_tokens: dict[tuple[str, str], tuple[float, str]] = {}


class KeycloakUnavailable(Exception):
    """Keycloak could not be asked (not configured, unreachable, or it refused the backend)."""


@dataclass
class Session:
    id: str
    started_at: datetime
    last_access_at: datetime
    ip_address: str
    clients: list[str] = field(default_factory=list)
    offline: bool = False


def client_secret(realm: str, key: str | None = None) -> str:
    """The secret of `realm`'s `identity-backend` client: HMAC-SHA256 of the realm's name."""
    key = settings.KEYCLOAK_ADMIN_CLIENT_KEY if key is None else key
    if not key:
        raise KeycloakUnavailable("KEYCLOAK_ADMIN_CLIENT_KEY is not set, so the backend cannot reach Keycloak's "
                                  "admin API.")
    digest = hmac.new(key.encode(), realm.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def realm_of(tenant) -> tuple[str, str] | None:
    """(Keycloak's base URL, realm name) from the tenant's issuer; None for a tenant without a realm."""
    issuer = (tenant.oidc_issuer or "").rstrip("/")
    base, marker, realm = issuer.rpartition("/realms/")
    if not marker or not realm or "/" in realm:
        return None
    return settings.KEYCLOAK_ADMIN_URL or base, urllib.parse.unquote(realm)


class RealmAdmin:
    """The admin REST API of one realm, as its `identity-backend` service account."""

    def __init__(self, base_url: str, realm: str):
        self.base_url, self.realm = base_url, realm
        self.users = f"{base_url}/admin/realms/{urllib.parse.quote(realm, safe='')}/users"

    def _token(self) -> str:
        cache_key = (self.base_url, self.realm)
        with _tokens_lock:
            cached = _tokens.get(cache_key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                       "client_secret": client_secret(self.realm)}).encode()
        _, grant = self._send(urllib.request.Request(
            f"{self.base_url}/realms/{urllib.parse.quote(self.realm, safe='')}/protocol/openid-connect/token",
            data=form, method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"}))
        token = grant["access_token"]
        with _tokens_lock:
            _tokens[cache_key] = (time.monotonic() + max(int(grant.get("expires_in", 60)) - 10, 5), token)
        return token

    def call(self, method: str, url: str) -> tuple[int, object]:
        """(status, JSON body); a 404 is an answer, any other refusal `KeycloakUnavailable`. A
        refused token (the realm was re-applied since) is fetched again once."""
        for _ in range(2):
            request = urllib.request.Request(url, method=method, headers={
                "Authorization": f"Bearer {self._token()}", "Accept": "application/json"})
            status, body = self._send(request, allow=(401, 404))
            if status != 401:
                return status, body
            with _tokens_lock:
                _tokens.pop((self.base_url, self.realm), None)
        raise KeycloakUnavailable(f"Keycloak refused the backend's token for {method} {urllib.parse.urlsplit(url).path}.")

    def _send(self, request: urllib.request.Request, allow=()) -> tuple[int, object]:
        what = f"{request.get_method()} {urllib.parse.urlsplit(request.full_url).path}"
        try:
            with urllib.request.urlopen(request, timeout=settings.KEYCLOAK_ADMIN_TIMEOUT_SECONDS) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            if error.code in allow:
                return error.code, None
            raise KeycloakUnavailable(f"Keycloak answered {error.code} to {what}.") from None
        except (OSError, ValueError) as error:
            raise KeycloakUnavailable(f"Keycloak could not be reached for {what}: {error}") from None


def _admin(tenant) -> RealmAdmin | None:
    realm = realm_of(tenant)
    return RealmAdmin(*realm) if realm else None


def _offline_clients(admin: RealmAdmin, user_id) -> dict[str, str]:
    """{clientId: client UUID} of the clients with which the user holds offline tokens: Keycloak
    lists them among consents, as an "Offline Token" grant naming the client's UUID."""
    status, consents = admin.call("GET", f"{admin.users}/{user_id}/consents")
    if status == 404:
        return {}
    return {c["clientId"]: g.get("client") for c in consents or [] for g in c.get("additionalGrants") or []
            if g.get("key") == OFFLINE_GRANT}


def _moment(milliseconds) -> datetime:
    return datetime.fromtimestamp((milliseconds or 0) / 1000, tz=timezone.utc)


def _session(data: dict, offline: bool) -> Session:
    return Session(id=data["id"], started_at=_moment(data.get("start")), last_access_at=_moment(data.get("lastAccess")),
                   ip_address=data.get("ipAddress") or "", clients=sorted((data.get("clients") or {}).values()),
                   offline=offline)


def list_sessions(tenant, user_id) -> list[Session]:
    """The user's sessions, then their offline sessions (one per offline session, whatever the
    number of its clients). A tenant without a realm has none; so has a user Keycloak does not know."""
    admin = _admin(tenant)
    if admin is None:
        return []
    status, online = admin.call("GET", f"{admin.users}/{user_id}/sessions")
    if status == 404:
        return []
    sessions = [_session(s, offline=False) for s in online or []]
    offline: dict[str, Session] = {}
    realm_clients = f"{admin.base_url}/admin/realms/{urllib.parse.quote(admin.realm, safe='')}/clients"
    for client_id, uuid in _offline_clients(admin, user_id).items():
        if not uuid:  # not named in the grant: look the client up (the `query-clients` role)
            _, clients = admin.call("GET", f"{realm_clients}?{urllib.parse.urlencode({'clientId': client_id})}")
            uuid = next((c["id"] for c in clients or [] if c.get("clientId") == client_id), None)
        _, found = admin.call("GET", f"{admin.users}/{user_id}/offline-sessions/{uuid}") if uuid else (404, None)
        for data in found or []:
            session = offline.setdefault(data["id"], _session(data, offline=True))
            session.clients = sorted({*session.clients, *(data.get("clients") or {}).values()})
    return sessions + sorted(offline.values(), key=lambda s: s.started_at)


def end_sessions(tenant, user_id) -> None:
    """Ends every session of the user in the tenant's realm and revokes their offline tokens.

    Keycloak's user logout ends the sessions and refuses every token issued before it (offline ones
    too); revoking each client's offline grant also removes the offline sessions themselves."""
    admin = _admin(tenant)
    if admin is None:
        return
    status, _ = admin.call("POST", f"{admin.users}/{user_id}/logout")
    if status == 404:
        return
    for client_id in _offline_clients(admin, user_id):
        admin.call("DELETE", f"{admin.users}/{user_id}/consents/{urllib.parse.quote(client_id, safe='')}")


def end_sessions_after_commit(user) -> None:
    """Once the transaction that deactivates `user` commits, ends their sessions.

    Keycloak being down or unconfigured does not undo the deactivation: it is logged, and an
    operator can sign the user out everywhere later (`POST /v1/users/{id}:logout`). Keycloak
    refuses a deactivated user's refresh anyway when it reads users uncached (`NO_CACHE`)."""
    tenant, user_id = user.tenant, user.pk

    def end():
        try:
            end_sessions(tenant, user_id)
        except KeycloakUnavailable as error:
            log.error("User %s of tenant %s is deactivated, but their Keycloak sessions were not ended: %s",
                      user_id, tenant.slug, error)

    if realm_of(tenant) is None:
        return
    if not settings.KEYCLOAK_ADMIN_CLIENT_KEY:
        log.warning("User %s of tenant %s is deactivated; KEYCLOAK_ADMIN_CLIENT_KEY is not set, so their "
                    "Keycloak sessions are left to expire.", user_id, tenant.slug)
        return
    transaction.on_commit(end)
