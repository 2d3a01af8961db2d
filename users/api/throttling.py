from rest_framework.throttling import SimpleRateThrottle


class PerUserCredentialThrottle(SimpleRateThrottle):
    """Limits password checks per target user, whoever asks, so guessing one account is slow.

    Counts live in the shared cache (the database), so the limit holds across processes.
    """

    scope = "credentials"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": f"{request.auth.tenant_id}:{view.kwargs['pk']}"}
