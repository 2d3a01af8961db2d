import hashlib
import time

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied

from .api.throttling import client_ip
from .models import Tenant, User

_clock = time.time  # what ages failed sign-ins; tests move it


class OperatorBackend(ModelBackend):
    """Password sign-in to the admin. Usernames are unique per tenant, so the login name is
    `tenant/username`, or a bare username in the operators' tenant (see `get_by_natural_key`).

    Only users of the operators' tenant are admitted, and their sessions kept: a customer tenant's
    user never reaches the admin, whatever flags or roles it has (its own admins write its users
    through the API). With single sign-on the operators' tenant is the realm's, and its users are
    refused here too, sessions included: their staff rights come from backend roles, read at each
    Keycloak sign-in, and a password would both outlive a role taken away and skip Keycloak's MFA.
    The form therefore serves only without single sign-on (`createsuperuser`'s operators).

    After a few failed passwords a login name, and a client address, are locked out for a while
    (`lockout_remaining`): the right password is refused too until the window passes.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        username = username if username is not None else kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        if lockout_remaining(username, request):
            raise PermissionDenied("too many failed sign-ins")  # ends authenticate() for every backend
        user = super().authenticate(request, username, password, **kwargs)
        if user is None:
            _record_failure(username, request)
        else:
            cache.delete(_failures_keys(username, None)[0][0])
        return user

    def user_can_authenticate(self, user):
        return (super().user_can_authenticate(user) and user.tenant.is_operators
                and not signs_in_with_keycloak(user))

    def get_user(self, user_id):
        user = User._default_manager.select_related("tenant").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None


def signs_in_with_keycloak(user) -> bool:
    """Whether `user` belongs to the operators' realm, whose users sign in to the admin through it."""
    return bool(settings.ADMIN_OIDC_ISSUER) and user.tenant.oidc_issuer == settings.ADMIN_OIDC_ISSUER


# --- lockout after failed passwords -------------------------------------------------------------
# Each key holds the times of its latest failures, in the shared database cache, so the limit
# holds across processes. Locked while the window holds as many failures as the limit.


def _failures_keys(username: str, request) -> list[tuple[str, int]]:
    slug, _, name = str(username).rpartition("/")
    slug = slug or Tenant.objects.filter(is_operators=True).values_list("slug", flat=True).first() or ""
    login = f"{slug.lower()}/{name.lower()}"  # one key for a bare name and its operators' tenant spelled out
    keys = [(f"admin-login:name:{hashlib.sha256(login.encode()).hexdigest()}",
             settings.ADMIN_LOGIN_FAILURES_PER_USERNAME)]
    ip = client_ip(request) if request is not None else None
    if ip:
        keys.append((f"admin-login:ip:{ip}", settings.ADMIN_LOGIN_FAILURES_PER_IP))
    return keys


def _recent(key: str, now: float) -> list[float]:
    return [t for t in cache.get(key) or [] if t > now - settings.ADMIN_LOGIN_LOCKOUT_SECONDS]


def lockout_remaining(username: str, request) -> int:
    """Seconds until this login name and address may try a password again; 0 when they may now."""
    now = _clock()
    waits = [0.0]
    for key, limit in _failures_keys(username, request):
        recent = _recent(key, now)
        if len(recent) >= limit:
            waits.append(recent[-limit] + settings.ADMIN_LOGIN_LOCKOUT_SECONDS - now)
    return int(max(waits) + 0.999)


def _record_failure(username: str, request):
    now = _clock()
    for key, limit in _failures_keys(username, request):
        cache.set(key, (_recent(key, now) + [now])[-limit:], settings.ADMIN_LOGIN_LOCKOUT_SECONDS)
