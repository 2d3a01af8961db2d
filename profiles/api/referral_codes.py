"""`/v1/referral-codes`: the Celebrity service's eight referral-code operations.

Codes are unique within a tenant and stored in upper case, so `abc` and `ABC` are one code.
Redeeming adds one to `used` in a single conditional UPDATE: concurrent redeems never pass `limit`.
"""

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from profiles import services
from profiles.api.base import CONFLICT, ERRORS, ProfilesViewSet
from profiles.models import ReferralCode
from identity.api.serializers import StrictSerializer

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class CodeField(serializers.RegexField):
    def __init__(self, **kwargs):
        super().__init__(CODE_PATTERN, error_messages={"invalid": "1 to 64 letters, digits, _ or -."}, **kwargs)

    def to_internal_value(self, data):
        return super().to_internal_value(data).upper()


class ReferralCodeSerializer(StrictSerializer, serializers.ModelSerializer):
    code = CodeField()
    limit = serializers.IntegerField(min_value=0, max_value=2**31 - 1, help_text="How many redeems it allows.")
    assigned_to = serializers.UUIDField(source="assigned_to_id", required=False, allow_null=True,
                                        help_text="The celebrity (user id) the code belongs to.")

    class Meta:
        model = ReferralCode
        fields = ["id", "code", "type", "limit", "used", "assigned_to", "created_on"]
        read_only_fields = ["id", "used", "created_on"]
        validators = []

    def _fields(self, data):
        if "assigned_to_id" in data:
            data["assigned_to"] = data.pop("assigned_to_id")
        return data

    def create(self, validated_data):
        return services.create_referral_code(self.context["tenant"], **self._fields(validated_data))

    def update(self, instance, validated_data):
        return services.update_referral_code(instance, self._fields(validated_data))


class AssignSerializer(StrictSerializer):
    assigned_to = serializers.UUIDField(allow_null=True, help_text="A celebrity's user id; null unassigns.")


class RedeemSerializer(StrictSerializer):
    code = CodeField()


class LookupSerializer(StrictSerializer):
    code = CodeField()


class ReferralCodeFilter(django_filters.FilterSet):
    type = django_filters.CharFilter(max_length=64)
    assigned_to = django_filters.UUIDFilter(field_name="assigned_to_id")

    class Meta:
        model = ReferralCode
        fields = []


@extend_schema_view(
    list=extend_schema(summary="List referral codes", operation_id="referral_codes_list",
                       description="In code order; filter by `type` or `assigned_to`.",
                       responses={200: ReferralCodeSerializer(many=True), **ERRORS}),
    create=extend_schema(summary="Create a referral code", operation_id="referral_codes_create",
                         responses={201: ReferralCodeSerializer, **ERRORS, **CONFLICT}),
    retrieve=extend_schema(summary="Get a referral code", operation_id="referral_codes_get",
                           responses={200: ReferralCodeSerializer, **ERRORS}),
    partial_update=extend_schema(summary="Update a referral code", operation_id="referral_codes_update",
                                 description="A limit below what was used already is refused.",
                                 responses={200: ReferralCodeSerializer, **ERRORS, **CONFLICT}),
    destroy=extend_schema(summary="Delete a referral code", operation_id="referral_codes_delete",
                          responses={204: None, **ERRORS}),
)
class ReferralCodeViewSet(ProfilesViewSet, mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                          mixins.UpdateModelMixin, mixins.DestroyModelMixin):
    serializer_class = ReferralCodeSerializer
    filterset_class = ReferralCodeFilter
    cursor_field = "code"

    def get_queryset(self):
        return ReferralCode.objects.filter(tenant=self.tenant)

    def perform_destroy(self, instance):
        services.delete_referral_code(instance)

    @extend_schema(summary="Look up a referral code", operation_id="referral_codes_lookup",
                   parameters=[OpenApiParameter("code", str, required=True)],
                   responses={200: ReferralCodeSerializer, **ERRORS})
    def lookup(self, request):
        params = LookupSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        return Response(ReferralCodeSerializer(get_object_or_404(self.get_queryset(), **params.validated_data)).data)

    @extend_schema(summary="Assign a referral code to a celebrity", operation_id="referral_codes_assign",
                   request=AssignSerializer, responses={200: ReferralCodeSerializer, **ERRORS})
    def assign(self, request, pk):
        referral = self.get_object()
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        referral = services.assign_referral_code(referral, serializer.validated_data["assigned_to"])
        return Response(ReferralCodeSerializer(referral).data)

    @extend_schema(summary="Redeem a referral code", operation_id="referral_codes_redeem",
                   description="Uses the code once; 409 once `used` has reached `limit`, even under concurrency.",
                   request=RedeemSerializer, responses={200: ReferralCodeSerializer, **ERRORS, **CONFLICT})
    def redeem(self, request):
        serializer = RedeemSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        referral = services.redeem_referral_code(self.tenant, serializer.validated_data["code"])
        return Response(ReferralCodeSerializer(referral).data, status=status.HTTP_200_OK)
