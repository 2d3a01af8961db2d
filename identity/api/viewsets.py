from rest_framework import viewsets


class TenantViewSet(viewsets.GenericViewSet):
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
