"""The audit trail: one row per change, never updated or deleted (the database refuses, migration 0001).

`tenant` is a protecting foreign key: a tenant with history cannot be deleted while its events
exist, and events cannot be deleted, so a tenant's trail outlives every user and object in it.
Actors and objects are kept as plain ids, not foreign keys: their rows may go, their history stays.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class ActorKind(models.TextChoices):
    API_CLIENT = "api_client", "API client"
    PERSON = "person", "Person (Keycloak token)"
    OPERATOR = "operator", "Operator (admin)"
    KEYCLOAK = "keycloak", "Keycloak provider"
    SYSTEM = "system", "System (commands, jobs)"


class AuditEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    time = models.DateTimeField(default=timezone.now)
    # No index of its own: both indexes lead with it.
    tenant = models.ForeignKey("users.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_id = models.CharField(max_length=64, blank=True, default="",
                                help_text="The API client's id, or the person's or operator's user id.")
    actor_display = models.CharField(max_length=255, blank=True, default="",
                                     help_text="The API client's name, or the person's or operator's username.")
    action = models.CharField(max_length=64, help_text="Such as user.updated or user.roles_changed.")
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    changes = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder,
                               help_text='Per field {"old", "new"}; secret fields only {"redacted": true}.')
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-time", "-id"], name="audit_by_tenant_time"),
            models.Index(fields=["tenant", "object_id", "-time", "-id"], name="audit_by_object"),
        ]

    def __str__(self):
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type}:{self.object_id}"
