"""Serializers every app's API shares."""

from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

TEXT_FIELDS = (serializers.CharField, serializers.UUIDField, serializers.DateField, serializers.DateTimeField,
               serializers.TimeField, serializers.DurationField)


class StrictSerializer(serializers.Serializer):
    """Unknown fields are an error, not silently dropped: a typo must not look like success."""

    # Values must have the JSON type the schema gives them: DRF would read "12" as the integer 12,
    # 0 as the text "0" and "yes" as true, and a client's type error would pass unnoticed. (The
    # docstring above is every subclass's description in the schema.) A serializer of query
    # parameters, which are all text, sets this to False.
    json_types = True

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {}
            for name in sorted(data):
                field = self.fields.get(name)
                if field is None:
                    errors[name] = ["Unknown field."]
                elif field.read_only:
                    errors[name] = ["Read-only field: it cannot be set here."]
                elif self.json_types and (problem := type_problem(field, data[name])):
                    errors[name] = [problem]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


def type_problem(field, value) -> str | None:
    """What is wrong with the JSON type of `value` for `field`, or None. Null is the field's own
    rule (`allow_null`); nested serializers check their own fields."""
    if value is None:
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Must be a whole number."
    if isinstance(field, TEXT_FIELDS) or (
            isinstance(field, serializers.ChoiceField) and all(isinstance(key, str) for key in field.choices)):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, (serializers.ListField, serializers.ListSerializer)):
        if not isinstance(value, list):
            return "Must be a list."
        child = field.child
        for index, item in enumerate(value if isinstance(field, serializers.ListField) else ()):
            if problem := type_problem(child, item):
                return f"Item {index}: {problem}"
        return None
    if isinstance(field, (serializers.DictField, serializers.Serializer)):
        return None if isinstance(value, dict) else "Must be an object."
    return None


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class StrictSerializerSchema(OpenApiSerializerExtension):
    """The schema says what StrictSerializer enforces: a request body has no other properties."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema
