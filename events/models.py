"""The outbox: events written in the transaction of the change they describe, published later by
the relay (`events.relay`); and the inbound messages already applied (`ProcessedMessage`).

An event's `id` is its message id (`ce-id`): a consumer that has seen an id has seen the event,
however many times the relay delivered it. Ids grow in insertion order, which is the order of
commits for changes that lock their aggregate's row (every user and profile write does); the relay
publishes each aggregate's events in id order.
"""

from django.db import models
from django.utils import timezone


class OutboxEvent(models.Model):
    id = models.BigAutoField(primary_key=True, help_text="The message id (ce-id).")
    created_at = models.DateTimeField(default=timezone.now)
    tenant = models.CharField(max_length=63, help_text="The tenant's slug (the `tenant` extension).")
    aggregate_type = models.CharField(max_length=32, help_text="user, celebrity, fan, role, group…")
    aggregate_id = models.CharField(max_length=64, help_text="Events of one aggregate leave in id order (ce-subject).")
    type = models.CharField(max_length=64, help_text="The message name (ce-type), such as UserPiiUpdated.")
    exchange = models.CharField(max_length=64)
    routing_key = models.CharField(max_length=255)
    payload = models.JSONField()
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the broker confirmed it.")
    attempts = models.PositiveIntegerField(default=0, help_text="Failed publishing attempts.")
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(default=timezone.now,
                                           help_text="After a failure, the relay waits until then.")

    class Meta:
        indexes = [
            # What the relay claims: unsent rows in id order, and each aggregate's unsent rows. The
            # first carries a term true of every row (`attempts >= 0`) that only the claim's scan for
            # heads states, so the lookups by aggregate cannot take it, whatever the statistics say.
            models.Index(fields=["id"], name="outbox_unsent", condition=models.Q(sent_at__isnull=True, attempts__gte=0)),
            models.Index(fields=["aggregate_type", "aggregate_id", "id"], name="outbox_unsent_by_aggregate",
                         condition=models.Q(sent_at__isnull=True)),
            models.Index(fields=["-id"], name="outbox_failed", condition=models.Q(sent_at__isnull=True, attempts__gt=0)),
        ]

    def __str__(self):
        return f"{self.id} {self.type} {self.aggregate_type}:{self.aggregate_id}"

    @property
    def status(self) -> str:
        if self.sent_at is not None:
            return "sent"
        return "failed" if self.attempts else "pending"


class ProcessedMessage(models.Model):
    """An inbound command applied, keyed by its message id, written in the transaction of its change."""

    id = models.CharField(max_length=255, primary_key=True)
    type = models.CharField(max_length=64)
    processed_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.type} {self.id}"
