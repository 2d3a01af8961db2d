from rest_framework import viewsets

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

    @property
    def tenant(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no caller
            return None
        return self.request.auth.tenant

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self.request, "auth", None) is not None:
            context["tenant"] = self.tenant
        return context
