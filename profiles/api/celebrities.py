"""`/v1/celebrities`: the former Celebrity service (createCelebrity … queryCelebrityProfiles).

The deprecated `celebrity`, `celebrities` and `celebritiesPaged` queries are the same list and
detail endpoints. The list is ordered by display weight, heaviest first, then by id.
"""

import datetime

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from profiles import search, services
from profiles.api.base import CONFLICT, ERRORS, ProfilesViewSet, is_admin, refuse_unknown_params
from identity.api.keyset import TwoColumnKeysetPagination
from profiles.models import (
    CelebProfileType,
    CelebrityProfile,
    CelebrityProfileBanner,
    CelebrityProfileImage,
    CelebrityProfileShortlink,
    CelebrityStatus,
)
from identity.api.serializers import CountSerializer, StrictSerializer

MAX_METADATA = 64 * 1024
MAX_PICTURES = 20

# --- serializers ------------------------------------------------------------------------------


class WholePicture:
    # A picture in a PATCH is a whole picture: the list replaces the profile's, so `url` is needed
    # even where the PATCH makes the profile's own fields optional. (No docstring: the schema would
    # show it as the pictures' description.)

    def validate(self, attrs):
        if "url" not in attrs:
            raise serializers.ValidationError({"url": ["This field is required."]})
        return attrs


class ImageSerializer(WholePicture, StrictSerializer, serializers.ModelSerializer):
    class Meta:
        model = CelebrityProfileImage
        fields = ["id", "url", "created_on", "meta_data"]
        read_only_fields = ["id", "created_on"]
        extra_kwargs = {"meta_data": {"max_length": MAX_METADATA}}


class BannerSerializer(WholePicture, StrictSerializer, serializers.ModelSerializer):
    class Meta:
        model = CelebrityProfileBanner
        fields = ["id", "url", "created_on"]
        read_only_fields = ["id", "created_on"]


class ShortlinkSerializer(StrictSerializer, serializers.ModelSerializer):
    class Meta:
        model = CelebrityProfileShortlink
        fields = ["id", "name", "body"]
        read_only_fields = ["id"]
        extra_kwargs = {"body": {"max_length": 4096}}
        validators = []  # one name per celebrity is the database's job (409)


WRITABLE = ["display_name", "first_name", "last_name", "bio", "metadata", "status", "display_weight",
            "celeb_profile_type", "company_name", "title", "profile_video"]


class CelebrityProfileSerializer(StrictSerializer, serializers.ModelSerializer):
    """A profile as its tenant's services see it; `PATCH` changes the given fields only."""

    celebrity_user_id = serializers.UUIDField(source="user_id", read_only=True)
    images = ImageSerializer(many=True, required=False, max_length=MAX_PICTURES,
                             help_text="Given, replaces the profile's images.")
    banners = BannerSerializer(many=True, required=False, max_length=MAX_PICTURES,
                               help_text="Given, replaces the profile's banners.")

    class Meta:
        model = CelebrityProfile
        fields = ["celebrity_user_id", *WRITABLE, "store_code", "follower_count", "images", "banners",
                  "is_deleted", "deleted_on", "deleted_by_id", "created_on"]
        read_only_fields = ["store_code", "follower_count", "is_deleted", "deleted_on", "deleted_by_id", "created_on"]
        extra_kwargs = {"metadata": {"max_length": MAX_METADATA}, "bio": {"max_length": 10_000}}

    def update(self, instance, validated_data):
        images = validated_data.pop("images", None)
        banners = validated_data.pop("banners", None)
        return services.update_celebrity(instance, validated_data, images=images, banners=banners)


class CelebrityDetailSerializer(CelebrityProfileSerializer):
    shortlinks = ShortlinkSerializer(many=True, read_only=True)

    class Meta(CelebrityProfileSerializer.Meta):
        fields = CelebrityProfileSerializer.Meta.fields + ["shortlinks"]


class CelebrityCreateSerializer(CelebrityProfileSerializer):
    celebrity_user_id = serializers.UUIDField(help_text="An existing user of the tenant.")

    def create(self, validated_data):
        user = services.tenant_user(self.context["tenant"], validated_data.pop("celebrity_user_id"))
        return services.create_celebrity(user, **validated_data)


class StoreCodeSerializer(StrictSerializer):
    store_code = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", allow_null=True, allow_blank=True,
                                        help_text="Letters, digits, _ and -; empty or null clears it.")


class ToggleDeleteSerializer(StrictSerializer):
    deleted_by_id = serializers.UUIDField(required=False, allow_null=True,
                                          help_text="The person who deletes it, recorded with the time.")


class CelebrityCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_type = serializers.DictField(child=serializers.IntegerField())


class DayCountSerializer(serializers.Serializer):
    date = serializers.DateField()
    count = serializers.IntegerField()


class DailyCountsSerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField()
    days = DayCountSerializer(many=True)


class DailyRangeSerializer(StrictSerializer):
    since = serializers.DateField(required=False, help_text="First day (UTC); 29 days before `until` by default.")
    until = serializers.DateField(required=False, help_text="Last day (UTC), included; today by default.")


# --- filters ----------------------------------------------------------------------------------


class CelebrityFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CelebrityStatus.choices)
    type = django_filters.ChoiceFilter(field_name="celeb_profile_type", choices=CelebProfileType.choices)
    q = django_filters.CharFilter(method="filter_q", max_length=200,
                                  help_text="Name search: every word in display, first or last name.")
    deleted = django_filters.ChoiceFilter(
        choices=[("false", "false"), ("true", "true")], method="filter_deleted",
        help_text="`true` lists soft-deleted profiles instead (admins only).",
    )

    class Meta:
        model = CelebrityProfile
        fields = []

    def filter_q(self, queryset, name, value):
        return search.search_names(queryset, value)

    def filter_deleted(self, queryset, name, value):
        return queryset  # applied by filter_queryset, which must also act when it is absent

    def filter_queryset(self, queryset):
        deleted = self.form.cleaned_data.get("deleted") == "true"
        if deleted and not is_admin(self.request):
            raise PermissionDenied("Only admins (the 'profiles:write' scope) see deleted profiles.")
        return super().filter_queryset(queryset.filter(is_deleted=deleted))


class PublicCelebrityFilter(CelebrityFilter):
    deleted = None

    def filter_queryset(self, queryset):
        return django_filters.FilterSet.filter_queryset(self, queryset.filter(is_deleted=False))


def celebrity_queryset(detail=False):
    """Profiles with their pictures: three queries for a page of any size (four with short links)."""
    queryset = CelebrityProfile.objects.prefetch_related("images", "banners")
    return queryset.prefetch_related("shortlinks") if detail else queryset


# --- views ------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Query celebrity profiles", operation_id="celebrities_list",
                       description="queryCelebrityProfiles (and the deprecated celebrities/celebritiesPaged). "
                                   "Heaviest display weight first; no total is computed.",
                       responses={200: CelebrityProfileSerializer(many=True), **ERRORS}),
    create=extend_schema(summary="Create a celebrity profile", operation_id="celebrities_create",
                         description="createCelebrity: for an existing user of the tenant, who also gets the "
                                     "tenant's `celebrity` role (created if missing).",
                         request=CelebrityCreateSerializer,
                         responses={201: CelebrityDetailSerializer, **ERRORS, **CONFLICT}),
    retrieve=extend_schema(summary="Get a celebrity profile", operation_id="celebrities_get",
                           description="The deprecated `celebrity` query. Deleted profiles: admins only.",
                           responses={200: CelebrityDetailSerializer, **ERRORS}),
    partial_update=extend_schema(summary="Update a celebrity profile", operation_id="celebrities_update",
                                 description="updateCelebProfile. A status change is added to the status history.",
                                 request=CelebrityProfileSerializer,
                                 responses={200: CelebrityDetailSerializer, **ERRORS}),
)
class CelebrityViewSet(ProfilesViewSet, mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                       mixins.UpdateModelMixin):
    filterset_class = CelebrityFilter
    pagination_class = TwoColumnKeysetPagination
    cursor_fields = ("-display_weight", "-user_id")
    self_kwarg = "pk"  # a celebrity reads and edits their own profile
    self_actions = {"retrieve", "partial_update", "create_shortlink"}
    curated_fields = {"status", "display_weight"}  # an admin's decisions, even on one's own profile

    def get_queryset(self):
        return self._visible(celebrity_queryset(detail=self.action != "list"))

    def _visible(self, queryset):
        queryset = queryset.filter(tenant=self.tenant)
        if self.action != "list" and not self.is_admin:  # the list's `deleted` filter has the same rule
            queryset = queryset.filter(is_deleted=False)
        return queryset

    def get_serializer_class(self):
        if self.action == "create":
            return CelebrityCreateSerializer
        return CelebrityProfileSerializer if self.action in ("list", "partial_update") else CelebrityDetailSerializer

    def create(self, request, *args, **kwargs):
        serializer = CelebrityCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        profile = serializer.save()
        return Response(self._detail(profile.pk), status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        curated = sorted(self.curated_fields & set(request.data)) if isinstance(request.data, dict) else []
        if curated and not self.is_admin:
            raise ValidationError({name: ["Only an admin of the tenant changes this."] for name in curated})
        serializer = CelebrityProfileSerializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        profile = serializer.save()
        return Response(self._detail(profile.pk))

    def _detail(self, pk):
        return CelebrityDetailSerializer(celebrity_queryset(detail=True).get(pk=pk)).data

    @extend_schema(summary="Add a short link", operation_id="celebrities_create_shortlink",
                   description="createShortLink.", request=ShortlinkSerializer,
                   responses={201: ShortlinkSerializer, **ERRORS, **CONFLICT})
    def create_shortlink(self, request, pk):
        profile = self.get_object()
        serializer = ShortlinkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        link = services.create_shortlink(profile, **serializer.validated_data)
        return Response(ShortlinkSerializer(link).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Set the store code", operation_id="celebrities_set_store_code",
                   description="setStoreCode: unique in the tenant; share pages accept it in place of the id.",
                   request=StoreCodeSerializer, responses={200: CelebrityDetailSerializer, **ERRORS, **CONFLICT})
    def set_store_code(self, request, pk):
        profile = self.get_object()
        serializer = StoreCodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        profile = services.set_store_code(profile, serializer.validated_data["store_code"])
        return Response(self._detail(profile.pk))

    @extend_schema(summary="Soft-delete or restore a profile", operation_id="celebrities_toggle_delete",
                   description="toggleCelebrityProfileDelete: flips `is_deleted`, recording who and when.",
                   request=ToggleDeleteSerializer, responses={200: CelebrityDetailSerializer, **ERRORS})
    def toggle_delete(self, request, pk):
        profile = self.get_object()
        serializer = ToggleDeleteSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        profile = services.toggle_celebrity_deleted(profile, serializer.validated_data.get("deleted_by_id"))
        return Response(self._detail(profile.pk))

    @extend_schema(summary="Count profiles by status and type", operation_id="celebrities_count",
                   description="Non-deleted profiles of the tenant, grouped.",
                   responses={200: CelebrityCountsSerializer, **ERRORS})
    def count(self, request):
        refuse_unknown_params(request, ())
        return Response(services.celebrity_counts(self.tenant))

    @extend_schema(summary="New profiles per day", operation_id="celebrities_created_per_day",
                   description="Profiles created on each UTC day of the range (at most 366 days), zeros included.",
                   parameters=[DailyRangeSerializer], responses={200: DailyCountsSerializer, **ERRORS})
    def created_per_day(self, request):
        params = DailyRangeSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        until = params.validated_data.get("until") or datetime.datetime.now(datetime.UTC).date()
        since = params.validated_data.get("since") or until - datetime.timedelta(days=29)
        days = services.new_celebrities_per_day(self.tenant, since, until)
        return Response(DailyCountsSerializer({"since": since, "until": until, "days": days}).data)

    @extend_schema(summary="Follower count of a celebrity", operation_id="celebrities_follower_count",
                   description="A counter kept with every follow and unfollow: reading it counts nothing.",
                   responses={200: CountSerializer, **ERRORS})
    def follower_count(self, request, pk):
        profile = get_object_or_404(self._visible(CelebrityProfile.objects.only("follower_count")), pk=pk)
        return Response({"count": profile.follower_count})

