"""Payloads of `/v1/audit-events`."""

from rest_framework import serializers

from audit.models import ActorKind, AuditEvent
from identity.api.serializers import StrictSerializer


class AuditEventSerializer(serializers.ModelSerializer):
    changes = serializers.DictField(
        child=serializers.DictField(),
        help_text='For each changed field `{"old": …, "new": …}` (only `new` for a creation, only `old` for a '
                  'deletion); secret fields appear as `{"redacted": true}`, without values.')

    class Meta:
        model = AuditEvent
        fields = ["id", "time", "actor_kind", "actor_id", "actor_display", "action", "object_type", "object_id",
                  "changes", "ip", "request_id"]
        read_only_fields = fields


class AuditEventQuerySerializer(StrictSerializer):
    object_id = serializers.CharField(required=False, max_length=64, help_text="Events of this object only.")
    actor_kind = serializers.ChoiceField(required=False, choices=ActorKind.choices)
    action = serializers.CharField(required=False, max_length=64, help_text="Such as `user.updated`.")
    since = serializers.DateTimeField(required=False, help_text="Events at or after this time.")
    until = serializers.DateTimeField(required=False, help_text="Events before this time.")

    def validate(self, attrs):
        if "since" in attrs and "until" in attrs and attrs["until"] <= attrs["since"]:
            raise serializers.ValidationError({"until": ["Must be after `since`."]})
        return attrs
