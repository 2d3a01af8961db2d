import ipaddress

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


def client_ip(request) -> str | None:
    """The address that reached our first proxy, or the connection's address when there is none.

    With TRUSTED_PROXY_COUNT = N, our N proxies each append to X-Forwarded-For the address they
    saw, so the Nth entry from the right is the first one we can trust; anything to its left is
    whatever the caller wrote. With 0 (the default) the header is ignored altogether.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if not forwarded:
        return remote
    candidate = forwarded[-min(count, len(forwarded))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


class PerUserCredentialThrottle(SimpleRateThrottle):
    """Limits password checks per target user, whoever asks, so guessing one account is slow.

    Counts live in the shared cache (the database), so the limit holds across processes.
    """

    scope = "credentials"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": f"{request.auth.tenant_id}:{view.kwargs['pk']}"}
