"""Serializers every app's API shares."""

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Unknown fields are an error, not silently dropped: a typo must not look like success."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {}
            for name in sorted(data):
                if name not in self.fields:
                    errors[name] = ["Unknown field."]
                elif self.fields[name].read_only:
                    errors[name] = ["Read-only field: it cannot be set here."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()
