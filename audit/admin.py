"""The audit trail in the admin: operators read and filter it; nobody adds, changes or deletes."""

from django.contrib import admin

from users.admin import ReadOnlyAdmin
from users.models import Tenant

from . import recording
from .models import AuditEvent


class ActionFilter(admin.SimpleListFilter):
    """The actions the code records, rather than a DISTINCT over the whole table."""

    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return [(action, action) for action in sorted(recording.ACTIONS)]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["time", "tenant", "actor_kind", "actor_display", "action", "object_type", "object_id", "ip",
                    "request_id"]
    list_filter = ["tenant", "actor_kind", ActionFilter, "time"]
    list_select_related = ["tenant"]
    search_fields = ["object_id"]  # the real search is get_search_results
    search_help_text = "An object's id, exactly (a user's UUID, a role's number…)."
    ordering = ["-time", "-id"]
    fields = ["time", "tenant", "actor_kind", "actor_id", "actor_display", "action", "object_type", "object_id",
              "changes", "ip", "request_id"]
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        """An exact object id in each tenant: seeks in `audit_by_object`, which leads with the tenant."""
        term = search_term.strip()
        if not term:
            return queryset, False
        tenants = list(Tenant.objects.values_list("pk", flat=True))
        return queryset.filter(tenant_id__in=tenants, object_id=term), False
