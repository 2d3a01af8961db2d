"""`/v1/preferences`: the Fan service's global preferences (getGlobalPreferences, setGlobalPreference).

The former `global_preferences` table has no owner column: they are tenant-wide settings of a typed
kind, read with `profiles:read` and set by admins. Kinds not listed in `PreferenceType` are a 400.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from profiles import services
from profiles.api.base import ERRORS, ProfilesViewSet, refuse_unknown_params
from profiles.models import GlobalPreference, PreferenceType
from identity.api.serializers import StrictSerializer


class PreferenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = GlobalPreference
        fields = ["type", "preference_value"]


class PreferenceValueSerializer(StrictSerializer):
    preference_value = serializers.CharField(allow_blank=True, max_length=10_000, trim_whitespace=False)


class PreferenceViewSet(ProfilesViewSet):
    queryset = GlobalPreference.objects.none()  # for the schema: every action builds its own query
    pagination_class = None  # one row per kind at most
    @extend_schema(summary="Global preferences of the tenant", operation_id="preferences_list",
                   description="getGlobalPreferences: every kind that has been set, in kind order.",
                   responses={200: PreferenceSerializer(many=True), **ERRORS})
    def list(self, request):
        refuse_unknown_params(request, ())
        preferences = GlobalPreference.objects.filter(tenant=self.tenant).order_by("type")
        return Response(PreferenceSerializer(preferences, many=True).data)

    @extend_schema(summary="Set a global preference", operation_id="preferences_set",
                   description="setGlobalPreference: creates or replaces the value of one kind.",
                   parameters=[OpenApiParameter("type", str, OpenApiParameter.PATH, enum=PreferenceType.values)],
                   request=PreferenceValueSerializer, responses={200: PreferenceSerializer, **ERRORS})
    def set(self, request, type):
        if type not in PreferenceType.values:
            raise ValidationError({"type": [f"Unknown kind; one of: {', '.join(PreferenceType.values)}."]})
        serializer = PreferenceValueSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        preference = services.set_global_preference(self.tenant, type, serializer.validated_data["preference_value"])
        return Response(PreferenceSerializer(preference).data)
