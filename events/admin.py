"""The outbox in the admin: what waits, what failed and why, what went; failed rows can be retried now."""

from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone

from users.admin import ReadOnlyAdmin

from .models import OutboxEvent, ProcessedMessage

STATES = {
    "pending": Q(sent_at__isnull=True, attempts=0),
    "failed": Q(sent_at__isnull=True, attempts__gt=0),
    "sent": Q(sent_at__isnull=False),
}


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("failed", "Failed (with its last error)"), ("sent", "Sent")]

    def queryset(self, request, queryset):
        return queryset.filter(STATES[self.value()]) if self.value() in STATES else queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "status", "type", "tenant", "aggregate_type", "aggregate_id", "attempts",
                    "short_error", "next_attempt_at", "sent_at"]
    list_filter = [StatusFilter, "type", "exchange"]
    ordering = ["-id"]
    search_fields = ["=aggregate_id"]
    search_help_text = "A user's or profile's id, exactly."
    fields = ["id", "created_at", "tenant", "aggregate_type", "aggregate_id", "type", "exchange", "routing_key",
              "payload", "sent_at", "attempts", "last_error", "next_attempt_at"]
    readonly_fields = fields
    actions = ["retry_now"]

    @admin.display(description="last error")
    def short_error(self, obj):
        return obj.last_error[:120]

    def has_retry_permission(self, request):
        return request.user.has_perm("events.change_outboxevent")

    @admin.action(description="Retry the selected failed events now", permissions=["retry"])
    def retry_now(self, request, queryset):
        count = queryset.filter(STATES["failed"]).update(next_attempt_at=timezone.now())
        self.message_user(request, f"{count} failed event(s) will be published at the relay's next round.",
                          messages.SUCCESS)


@admin.register(ProcessedMessage)
class ProcessedMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "processed_at"]
    list_filter = ["type"]
    search_fields = ["=id"]
    ordering = ["-processed_at"]
