from django.urls import path

from audit.api.viewsets import AuditEventViewSet

urlpatterns = [
    path("audit-events", AuditEventViewSet.as_view({"get": "list"}), name="audit-event-list"),
]
