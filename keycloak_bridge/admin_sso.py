"""Operators' single sign-on to the Django admin through Keycloak.

mozilla-django-oidc runs the authorization-code flow with PKCE (S256) against the confidential
client ``identity-admin`` of the realm whose issuer is ``ADMIN_OIDC_ISSUER``. What this module decides:

- **Whose realm.** ``ADMIN_OIDC_ISSUER`` must be the issuer of the operators' tenant
  (``Tenant.is_operators``), whose users, roles and passwords no ``/v1`` credential can write. A
  customer tenant's admins write their own users' roles through the API: were its realm the
  operators', any of them could grant itself ``operator`` and ``superuser``. So the process refuses
  to start otherwise (``refuse_unsafe_operators_realm``, called by ``identity/wsgi.py`` and
  ``asgi.py``; the system check ``keycloak_bridge.E001`` shows it in ``manage.py check --database
  default``), and every sign-in and every request of an admin session checks it again.
- **Who.** The operator is the backend user whose id is the token's ``sub``, in that tenant.
  Nobody is ever created from a token: an unknown ``sub``, another tenant's user or a deactivated
  user cannot sign in.
- **Staff rights come from backend roles**, read at each sign-in and at each request of the session:
  ``is_staff`` is having the role ``ADMIN_OIDC_STAFF_ROLE`` (``operator``), ``is_superuser`` having
  ``ADMIN_OIDC_SUPERUSER_ROLE`` (``superuser``). Both flags are rewritten when they differ, so a role
  taken away counts at the next request. A user without the staff role is refused. What a staff
  member may do inside the admin is still Django's groups and permissions (or everything, for a
  superuser). Users of this realm's tenant cannot use the password form at all
  (``users.backends.OperatorBackend``): it would skip Keycloak's MFA and outlive their roles; as
  only the operators' tenant has operators, the form then admits nobody.
- **Tokens.** The ID token is checked by mozilla-django-oidc (RS256 signature against the realm's
  keys, expiry, nonce) and here (``iss`` is the configured issuer, ``aud`` holds our client id);
  the userinfo answer must name the same ``sub``. The ID token is kept in the session, for logout.
- **Logout.** Logging out of the admin after a Keycloak sign-in also ends the Keycloak session (a
  redirect to the end-session endpoint with ``id_token_hint``, back to the admin afterwards). A
  password session logs out locally, as before. A refused sign-in ends the Keycloak session too,
  so that the browser is not stuck signed in to Keycloak as someone the admin turns away.
- **The password form** is shown unless ``ADMIN_PASSWORD_LOGIN`` is false; then the form is gone,
  ``users.backends.OperatorBackend`` is not installed and password posts are refused (403). With
  single sign-on it serves nobody (above), so ``make run`` turns it off.
"""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, auth, messages
from django.contrib.auth.backends import ModelBackend
from django.core import checks
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, SuspiciousOperation
from django.db import DatabaseError, connections, transaction
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from users.models import Tenant, User

LOGGER = logging.getLogger(__name__)
BACKEND_PATH = "keycloak_bridge.admin_sso.AdminOIDCBackend"


def sso_enabled() -> bool:
    return bool(settings.ADMIN_OIDC_ISSUER)


CUSTOMER_REALM = "customer_realm"
NO_REALM = "no_realm"


def operators_realm_problem() -> tuple[str, str] | None:
    """Why ``ADMIN_OIDC_ISSUER`` may not sign operators in, as ``(kind, message)``; None when it
    is unset or the issuer of the operators' tenant."""
    issuer = settings.ADMIN_OIDC_ISSUER
    if not issuer:
        return None
    tenant = Tenant.objects.filter(oidc_issuer=issuer).first()
    if tenant is None:
        return NO_REALM, (
            f"ADMIN_OIDC_ISSUER={issuer} is the issuer of no tenant. Connect the operators' realm first "
            "(`manage.py connect_keycloak --tenant <slug> --operators`) and set the issuer it prints.")
    if not tenant.is_operators:
        return CUSTOMER_REALM, (
            f"ADMIN_OIDC_ISSUER={issuer} is the issuer of {tenant.slug!r}, a customer tenant: its own admins "
            "write its users' roles through the API and could make themselves operators and superusers. "
            "Point it at the operators' realm (`manage.py connect_keycloak --tenant <slug> --operators`).")
    return None


def refuse_unsafe_operators_realm():
    """At start (``identity/wsgi.py``, ``asgi.py``): refuse to serve with a customer's realm, or no
    tenant's, as the operators' realm. Closes the connection it used, before any worker forks."""
    if not sso_enabled():
        return
    try:
        problem = operators_realm_problem()
    finally:
        connections.close_all()
    if problem:
        raise ImproperlyConfigured(problem[1])


def check_operators_realm(app_configs=None, databases=None, **kwargs):
    """``manage.py check --database default`` (registered by the app): a customer's realm is an
    error. No tenant's issuer is a warning only, so that ``migrate`` (which runs this check) still
    prepares a fresh database before ``connect_keycloak`` records the issuer; the server refuses
    to start either way."""
    if not databases or "default" not in databases or not sso_enabled():
        return []
    try:
        with transaction.atomic():
            problem = operators_realm_problem()
    except DatabaseError:  # tables not migrated yet: migrate runs this check before it migrates
        return []
    if problem is None:
        return []
    kind, message = problem
    if kind == CUSTOMER_REALM:
        return [checks.Error(message, id="keycloak_bridge.E001")]
    return [checks.Warning(message, id="keycloak_bridge.W001")]


class AdminOIDCBackend(OIDCAuthenticationBackend):
    """Finds operators signed in by Keycloak; never creates, and admits only the staff role."""

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if payload.get("iss") != settings.ADMIN_OIDC_ISSUER:
            raise SuspiciousOperation(f"ID token of issuer {payload.get('iss')!r}, not {settings.ADMIN_OIDC_ISSUER!r}")
        if settings.ADMIN_OIDC_CLIENT_ID not in audiences:
            raise SuspiciousOperation(f"ID token for {audience!r}, not {settings.ADMIN_OIDC_CLIENT_ID!r}")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        if claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("userinfo names another subject than the ID token")
        return self.user_for_claims(claims)

    def user_for_claims(self, claims):
        """The operator these (verified) claims name, with staff flags from their roles; or None."""
        if not self.verify_claims(claims):
            raise SuspiciousOperation("claims without a subject")
        problem = operators_realm_problem()
        if problem:  # the start refuses this too; a tenant changed since is refused here
            LOGGER.error("admin sign-in refused: %s", problem[1])
            return None
        user = self.filter_users_by_claims(claims).first()
        if user is None:
            LOGGER.warning("admin sign-in refused: %s", self.describe_user_by_claims(claims))
            return None
        user = self.update_user(user, claims)
        if not user.is_staff:
            LOGGER.warning("admin sign-in refused: %s has no %r role", user.username, settings.ADMIN_OIDC_STAFF_ROLE)
            return None
        return user

    def verify_claims(self, claims):
        return bool(claims.get("sub"))

    def describe_user_by_claims(self, claims):
        return f"no active user {claims.get('sub')!r} in the operators' tenant ({settings.ADMIN_OIDC_ISSUER})"

    def filter_users_by_claims(self, claims):
        """The active user whose id is ``sub``, in the tenant of ``ADMIN_OIDC_ISSUER`` only."""
        try:
            user_id = uuid.UUID(str(claims.get("sub")))
        except ValueError:
            return User.objects.none()
        if not settings.ADMIN_OIDC_ISSUER:
            return User.objects.none()
        return User.objects.filter(pk=user_id, tenant__oidc_issuer=settings.ADMIN_OIDC_ISSUER,
                                   tenant__is_operators=True, is_active=True)

    def create_user(self, claims):
        raise SuspiciousOperation("operators are never created from a token")

    def update_user(self, user, claims):
        """``is_staff`` and ``is_superuser`` from the user's backend roles, saved when they change."""
        roles = set(user.roles.values_list("name", flat=True))
        is_staff = settings.ADMIN_OIDC_STAFF_ROLE in roles
        is_superuser = is_staff and settings.ADMIN_OIDC_SUPERUSER_ROLE in roles  # superuser needs staff too
        if (user.is_staff, user.is_superuser) != (is_staff, is_superuser):
            user.is_staff, user.is_superuser = is_staff, is_superuser
            user.save(update_fields=["is_staff", "is_superuser", "updated_at"])
        return user

    def get_user(self, user_id):
        """The session's operator with staff flags re-read from their roles at every request, so a
        role taken away ends (or narrows) an open admin session at once; a deactivated user's
        session ends (Django's check, not mozilla-django-oidc's plain lookup), and so does the
        session of anyone outside the operators' tenant of ``ADMIN_OIDC_ISSUER``."""
        user = User._default_manager.select_related("tenant").filter(pk=user_id).first()
        if user is None or not ModelBackend.user_can_authenticate(self, user):
            return None
        if not (user.tenant.is_operators and user.tenant.oidc_issuer == settings.ADMIN_OIDC_ISSUER):
            return None
        return self.update_user(user, {})


def keycloak_logout_url(request) -> str:
    """Keycloak's end-session URL for this session (``OIDC_OP_LOGOUT_URL_METHOD``): with the ID
    token as ``id_token_hint`` Keycloak ends its session without asking, then returns to the admin."""
    params = {
        "client_id": settings.ADMIN_OIDC_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(reverse("admin:index")),
    }
    id_token = request.session.get("oidc_id_token")
    if id_token:
        params["id_token_hint"] = id_token
    return f"{settings.OIDC_OP_LOGOUT_ENDPOINT}?{urlencode(params)}"


class AdminOIDCLoginView(OIDCAuthenticationRequestView):
    """``/oidc/authenticate/``: off (404) unless ``ADMIN_OIDC_ISSUER`` is set."""

    def get(self, request):
        if not sso_enabled():
            raise Http404("single sign-on is not configured")
        return super().get(request)


class AdminOIDCCallbackView(OIDCAuthenticationCallbackView):
    """``/oidc/callback/``: a refused operator is told so on the login page, and signed out of Keycloak."""

    def get(self, request):
        if not sso_enabled():
            raise Http404("single sign-on is not configured")
        return super().get(request)

    def login_failure(self):
        if self.request.session.get("oidc_id_token"):
            messages.error(self.request, "Keycloak signed you in, but this account may not use the admin: it is "
                                         "unknown here, deactivated, or lacks the "
                                         f"{settings.ADMIN_OIDC_STAFF_ROLE!r} role.")
            url = keycloak_logout_url(self.request)
            del self.request.session["oidc_id_token"]
            return HttpResponseRedirect(url)
        messages.error(self.request, "The sign-in with Keycloak did not complete.")
        return super().login_failure()


def admin_login(request, extra_context=None):
    """The admin's login page with a "Sign in with Keycloak" button above the password form; without
    ``ADMIN_PASSWORD_LOGIN`` the form is gone and password posts are refused."""
    if request.method == "POST" and not settings.ADMIN_PASSWORD_LOGIN:
        raise PermissionDenied("password sign-in to the admin is turned off; sign in with Keycloak")
    next_url = request.GET.get("next") or reverse("admin:index")
    context = {
        "sso_enabled": sso_enabled(),
        "password_login": settings.ADMIN_PASSWORD_LOGIN,
        "sso_login_url": f"{reverse('oidc_authentication_init')}?{urlencode({'next': next_url})}",
        **(extra_context or {}),
    }
    return admin.site.login(request, extra_context=context)


def admin_logout(request, extra_context=None):
    """The admin's logout (POST): a Keycloak sign-in also ends the Keycloak session."""
    if (request.method == "POST" and request.user.is_authenticated and sso_enabled()
            and request.session.get(auth.BACKEND_SESSION_KEY) == BACKEND_PATH):
        url = keycloak_logout_url(request)
        auth.logout(request)
        return HttpResponseRedirect(url)
    return admin.site.logout(request, extra_context=extra_context)
