"""`/v1/audit-events`: the tenant's audit trail, newest first, for holders of `audit:read`."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins

from audit import queries
from audit.api.serializers import AuditEventQuerySerializer, AuditEventSerializer
from audit.models import AuditEvent
from identity.api.errors import ERRORS
from identity.api.pagination import PAGING_PARAMS
from identity.api.viewsets import TenantViewSet
from identity.api.keyset import TwoColumnKeysetPagination

READ = "audit:read"


@extend_schema_view(list=extend_schema(
    summary="List audit events", operation_id="audit_events_list",
    description="Who changed what, when and from where, newest first; no total count is computed. "
                "Secret values (passwords, hashes, tokens, codes, proofs) are never recorded.",
    parameters=[AuditEventQuerySerializer], responses={200: AuditEventSerializer(many=True), **ERRORS}))
class AuditEventViewSet(TenantViewSet, mixins.ListModelMixin):
    read_scope = READ
    write_scope = None
    serializer_class = AuditEventSerializer
    pagination_class = TwoColumnKeysetPagination
    cursor_fields = ("-time", "-id")
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        params = {name: value for name, value in self.request.query_params.items() if name not in PAGING_PARAMS}
        query = AuditEventQuerySerializer(data=params)
        query.is_valid(raise_exception=True)
        return queries.tenant_events(self.tenant, **query.validated_data)
