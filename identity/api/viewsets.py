from rest_framework import viewsets
from rest_framework.permissions import SAFE_METHODS

from users.services import writes_refused

from identity.api.inputs import refuse_nul_in_url


class CheckedUrlMixin:
    """The URL's strings reach queries as they are (a role's name, a group's path, a store code):
    refuse those PostgreSQL cannot hold, once the caller is known to be allowed."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        refuse_nul_in_url(request, kwargs)


class TenantViewSet(CheckedUrlMixin, viewsets.GenericViewSet):
    """Every query starts from the caller's tenant: another tenant's rows are simply not found (404)."""

    read_scope = "users:read"
    write_scope = "users:write"
    sign_in_actions: frozenset[str] = frozenset()

    @property
    def tenant(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no caller
            return None
        return self.request.auth.tenant

    def check_permissions(self, request):
        """The tenant decides before the scopes: the operators' tenant is read-only through `/v1`
        whatever the credential's scopes (operators are managed in the admin), but for the actions
        a view names in `sign_in_actions`, which its realm needs to sign operators in."""
        credential = getattr(request, "auth", None)
        if (credential is not None and request.method not in SAFE_METHODS
                and getattr(self, "action", None) not in self.sign_in_actions):
            reason = writes_refused(credential.tenant)
            if reason:
                self.permission_denied(request, message=reason, code="managed_in_admin")
        super().check_permissions(request)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self.request, "auth", None) is not None:
            context["tenant"] = self.tenant
        return context
