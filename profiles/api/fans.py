"""`/v1/fans/{fan_user_id}/…`: the former Fan service (follows, media, mailing list).

A service acting for a fan names the fan's user id in the path. Follow and unfollow are idempotent:
repeating one changes nothing, so it appends no change row and leaves the follower count alone.
"""

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from profiles import mailing, services
from profiles.api.base import ERRORS, ProfilesViewSet, UpstreamFailed, refuse_unknown_params
from profiles.api.celebrities import MAX_METADATA
from profiles.models import CelebrityProfile, FanFollow, FanMedia, FanProfile
from identity.api.errors import ErrorSerializer
from identity.api.pagination import PAGING_PARAMS
from identity.api.serializers import CountSerializer, StrictSerializer
from identity.db_routing import read_replica

UPSTREAM = {502: OpenApiResponse(ErrorSerializer, description="The mailing-list service failed; try again later.")}


class FanProfileSerializer(StrictSerializer, serializers.ModelSerializer):
    fan_user_id = serializers.UUIDField(source="user_id", read_only=True)

    class Meta:
        model = FanProfile
        fields = ["fan_user_id", "created_on", "metadata", "fan_profile_exclusively"]
        read_only_fields = ["created_on"]
        extra_kwargs = {"metadata": {"max_length": MAX_METADATA}}

    def update(self, instance, validated_data):
        return services.update_fan_profile(instance, validated_data)


class FollowedCelebritySerializer(serializers.Serializer):
    celebrity_user_id = serializers.UUIDField(source="user_id")
    display_name = serializers.CharField()
    store_code = serializers.CharField(allow_null=True)
    celeb_profile_type = serializers.CharField()
    follower_count = serializers.IntegerField()


class FollowSerializer(serializers.ModelSerializer):
    id = serializers.CharField(help_text="MD5 of the fan's id followed by the celebrity's id, as the former fan service made it.")
    fan_user_id = serializers.UUIDField(source="fan_id")
    celebrity = FollowedCelebritySerializer()

    class Meta:
        model = FanFollow
        fields = ["id", "fan_user_id", "celebrity", "followed_on", "followed_metadata"]


class FollowRequestSerializer(StrictSerializer):
    followed_metadata = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_METADATA)


class CheckRequestSerializer(StrictSerializer):
    celebrity_user_ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=False,
                                               max_length=services.MAX_CHECKED_CELEBRITIES)


class CheckResultSerializer(serializers.Serializer):
    follows = serializers.DictField(child=serializers.BooleanField(),
                                    help_text="Each asked id → whether the fan follows that celebrity now.")


class MediaSerializer(StrictSerializer, serializers.ModelSerializer):
    fan_user_id = serializers.UUIDField(source="fan_id", read_only=True)

    class Meta:
        model = FanMedia
        fields = ["id", "fan_user_id", "media_id", "created_on"]
        read_only_fields = ["id", "created_on"]
        validators = []


class FanScopedViewSet(ProfilesViewSet):
    self_kwarg = "fan_user_id"  # a fan manages their own profile, follows and media
    def fan(self, fan_user_id) -> FanProfile:
        return get_object_or_404(FanProfile.objects.filter(tenant=self.tenant).select_related("user"), pk=fan_user_id)


@extend_schema_view(
    retrieve=extend_schema(summary="Get a fan profile", operation_id="fans_get",
                           responses={200: FanProfileSerializer, **ERRORS}),
    partial_update=extend_schema(summary="Update a fan profile", operation_id="fans_update",
                                 responses={200: FanProfileSerializer, **ERRORS}),
)
class FanViewSet(FanScopedViewSet, mixins.RetrieveModelMixin, mixins.UpdateModelMixin):
    serializer_class = FanProfileSerializer
    lookup_url_kwarg = "fan_user_id"

    def get_queryset(self):
        return FanProfile.objects.filter(tenant=self.tenant)

    @extend_schema(summary="Add a fan to the mailing list", operation_id="fans_subscribe_mailing_list",
                   description="addUserToFanMailingList, with the user's e-mail and names, through the "
                               "configured backend (Mailchimp, or the console in development).",
                   request=None, responses={204: None, **ERRORS, **UPSTREAM})
    def subscribe_mailing_list(self, request, fan_user_id):
        try:
            services.add_fan_to_mailing_list(self.fan(fan_user_id))
        except mailing.MailingListError as error:
            raise UpstreamFailed(str(error)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class FollowViewSet(FanScopedViewSet):
    queryset = FanFollow.objects.none()  # for the schema: every action builds its own query
    cursor_field = "celebrity_id"
    action_scopes = {"check": "profiles:read"}

    def _celebrity(self, pk, *, include_deleted=False):
        queryset = CelebrityProfile.objects.filter(tenant=self.tenant)
        return get_object_or_404(queryset if include_deleted else queryset.filter(is_deleted=False), pk=pk)

    @extend_schema(summary="Celebrities a fan follows", operation_id="fans_followed",
                   description="followed: current follows in celebrity-id order, paged; one query a page.",
                   responses={200: FollowSerializer(many=True), **ERRORS})
    def followed(self, request, fan_user_id):
        refuse_unknown_params(request, PAGING_PARAMS)
        page = self.paginate_queryset(self._current(self.fan(fan_user_id)).select_related("celebrity"))
        return self.get_paginated_response(FollowSerializer(page, many=True).data)

    def _current(self, fan):
        """The fan's follows now; soft-deleted celebrities show to admins only."""
        follows = FanFollow.objects.filter(fan=fan, unfollowed_on__isnull=True)
        return follows if self.is_admin else follows.filter(celebrity__is_deleted=False)

    @extend_schema(summary="How many celebrities a fan follows", operation_id="fans_followed_count",
                   description="followedCount.", responses={200: CountSerializer, **ERRORS})
    def followed_count(self, request, fan_user_id):
        refuse_unknown_params(request, ())
        return Response({"count": self._current(self.fan(fan_user_id)).using(read_replica()).count()})

    @extend_schema(summary="Which of these celebrities a fan follows", operation_id="fans_check_follows",
                   description="doIFollowCelebs: one query for up to 500 ids. A read: needs `profiles:read`.",
                   request=CheckRequestSerializer, responses={200: CheckResultSerializer, **ERRORS})
    def check(self, request, fan_user_id):
        fan = self.fan(fan_user_id)
        serializer = CheckRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        asked = serializer.validated_data["celebrity_user_ids"]
        followed = services.followed_among(fan, asked)
        return Response({"follows": {str(i): i in followed for i in asked}})

    @extend_schema(summary="Follow a celebrity", operation_id="fans_follow",
                   description="followCelebrity; idempotent: 201 when it starts a follow, 200 when it already was.",
                   request=FollowRequestSerializer, responses={200: FollowSerializer, 201: FollowSerializer, **ERRORS})
    def follow(self, request, fan_user_id, celebrity_user_id):
        fan, celebrity = self.fan(fan_user_id), self._celebrity(celebrity_user_id)
        serializer = FollowRequestSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        follow, changed = services.follow_celebrity(fan, celebrity, serializer.validated_data["followed_metadata"])
        follow.celebrity.refresh_from_db(fields=["follower_count"])
        return Response(FollowSerializer(follow).data, status=status.HTTP_201_CREATED if changed else status.HTTP_200_OK)

    @extend_schema(summary="Unfollow a celebrity", operation_id="fans_unfollow",
                   description="unFollowCelebrity; idempotent. The follow row stays with `unfollowed_on`.",
                   request=None, responses={204: None, **ERRORS})
    def unfollow(self, request, fan_user_id, celebrity_user_id):
        services.unfollow_celebrity(self.fan(fan_user_id), self._celebrity(celebrity_user_id, include_deleted=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MediaFilter(django_filters.FilterSet):
    fan_user_id = django_filters.UUIDFilter(field_name="fan_id")
    media_id = django_filters.UUIDFilter()

    class Meta:
        model = FanMedia
        fields = []


class FanMediaViewSet(FanScopedViewSet):
    """A fan's saved media (getFanMedia, save, remove); `adminGetMedia` is `AdminMediaViewSet`."""

    queryset = FanMedia.objects.none()  # for the schema: every action builds its own query
    cursor_field = "media_id"

    @extend_schema(summary="A fan's saved media", operation_id="fans_media_list", description="getFanMedia.",
                   responses={200: MediaSerializer(many=True), **ERRORS})
    def list(self, request, fan_user_id):
        refuse_unknown_params(request, PAGING_PARAMS)
        page = self.paginate_queryset(FanMedia.objects.filter(fan=self.fan(fan_user_id)))
        return self.get_paginated_response(MediaSerializer(page, many=True).data)

    @extend_schema(summary="Save a medium", operation_id="fans_media_save",
                   description="Idempotent: 201 when saved now, 200 when it was already.",
                   request=MediaSerializer, responses={200: MediaSerializer, 201: MediaSerializer, **ERRORS})
    def create(self, request, fan_user_id):
        fan = self.fan(fan_user_id)
        serializer = MediaSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        media, created = services.save_fan_media(fan, serializer.validated_data["media_id"])
        return Response(MediaSerializer(media).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(summary="Remove a saved medium", operation_id="fans_media_remove",
                   description="Idempotent.", request=None, responses={204: None, **ERRORS})
    def destroy(self, request, fan_user_id, media_id):
        services.remove_fan_media(self.fan(fan_user_id), media_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Media saved by the tenant's fans", operation_id="fan_media_admin_list",
                       description="adminGetMedia: admins only (`profiles:write`); filter by fan or medium.",
                       responses={200: MediaSerializer(many=True), **ERRORS}),
)
class AdminMediaViewSet(ProfilesViewSet, mixins.ListModelMixin):
    serializer_class = MediaSerializer
    filterset_class = MediaFilter
    cursor_field = "id"
    action_scopes = {"list": "profiles:write"}

    def get_queryset(self):
        return FanMedia.objects.filter(tenant=self.tenant)
