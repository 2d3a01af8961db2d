"""Anonymous reads: `/v1/tenants/{slug}/…`.

Decision: an anonymous caller has no credential to fix its tenant, so the tenant is named by its
slug in the path (`/v1/tenants/acme/celebrities`, and `/share/acme/celebrities/{id}` for share
pages). These endpoints show published data only: never a soft-deleted profile, never an
unpublished index element, never a private field (metadata, deletion details), and only the named
tenant's rows. Credentials sent to them are ignored.
"""

import uuid

from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.response import Response

from profiles.api.base import PUBLIC_ERRORS, PublicViewSet, refuse_unknown_params
from profiles.api.celebrities import BannerSerializer, PublicCelebrityFilter, celebrity_queryset
from identity.api.keyset import TwoColumnKeysetPagination
from profiles.models import CelebrityProfile, CelebrityProfileImage, IndexPageElement

MAX_INDEX_ELEMENTS = 200
SLUG = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="The tenant (brand), e.g. `acme`.")


class PublicImageSerializer(serializers.ModelSerializer):
    """An image without its `meta_data`: that is whatever the tenant's services stored (uploads'
    details, internal notes), never meant for anonymous readers."""

    class Meta:
        model = CelebrityProfileImage
        fields = ["id", "url", "created_on"]


class PublicCelebritySerializer(serializers.ModelSerializer):
    celebrity_user_id = serializers.UUIDField(source="user_id")
    images = PublicImageSerializer(many=True)
    banners = BannerSerializer(many=True)

    class Meta:
        model = CelebrityProfile
        fields = ["celebrity_user_id", "display_name", "first_name", "last_name", "bio", "status",
                  "celeb_profile_type", "company_name", "title", "profile_video", "store_code", "display_weight",
                  "follower_count", "images", "banners", "created_on"]


class FeaturedCelebritySerializer(serializers.Serializer):
    celebrity_user_id = serializers.UUIDField(source="user_id")
    display_name = serializers.CharField()
    store_code = serializers.CharField(allow_null=True)


class PublicIndexElementSerializer(serializers.ModelSerializer):
    celebrity = serializers.SerializerMethodField()

    class Meta:
        model = IndexPageElement
        fields = ["id", "element_type", "position", "title", "body", "image_url", "link_url", "celebrity"]

    def get_celebrity(self, element) -> FeaturedCelebritySerializer(allow_null=True):
        celebrity = element.celebrity
        if celebrity is None or celebrity.is_deleted:
            return None
        return FeaturedCelebritySerializer(celebrity).data


def find_public_celebrity(tenant, id_or_store_code: str, queryset=None) -> CelebrityProfile:
    """A non-deleted profile of the tenant by user id or by store code."""
    queryset = (queryset if queryset is not None else CelebrityProfile.objects).filter(tenant=tenant, is_deleted=False)
    try:
        key = Q(pk=uuid.UUID(id_or_store_code))
    except ValueError:
        if "\x00" in id_or_store_code:  # no store code holds one, and PostgreSQL compares none
            raise Http404 from None
        key = Q(store_code=id_or_store_code)
    return get_object_or_404(queryset, key)


@extend_schema_view(
    list=extend_schema(summary="Celebrity profiles of a tenant (public)", operation_id="public_celebrities_list",
                       auth=[], parameters=[SLUG],
                       description="Non-deleted profiles, heaviest display weight first. No credential needed.",
                       responses={200: PublicCelebritySerializer(many=True), **PUBLIC_ERRORS}),
    retrieve=extend_schema(summary="A celebrity profile (public)", operation_id="public_celebrities_get",
                           auth=[], parameters=[SLUG, OpenApiParameter("id_or_store_code", str, OpenApiParameter.PATH)],
                           description="By user id or store code; deleted profiles are not found.",
                           responses={200: PublicCelebritySerializer, **PUBLIC_ERRORS}),
)
class PublicCelebrityViewSet(PublicViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = PublicCelebritySerializer
    filterset_class = PublicCelebrityFilter
    pagination_class = TwoColumnKeysetPagination
    cursor_fields = ("-display_weight", "-user_id")

    def get_queryset(self):
        return celebrity_queryset().filter(tenant=self.tenant, is_deleted=False)

    def get_object(self):
        return find_public_celebrity(self.tenant, self.kwargs["id_or_store_code"], celebrity_queryset())


class PublicIndexPageViewSet(PublicViewSet):
    queryset = IndexPageElement.objects.none()  # for the schema: the action builds its own query
    pagination_class = None  # the page is bounded by MAX_INDEX_ELEMENTS
    @extend_schema(summary="The home page of a tenant (public)", operation_id="public_index_page",
                   auth=[], parameters=[SLUG],
                   description=f"Published elements in position order (at most {MAX_INDEX_ELEMENTS}).",
                   responses={200: PublicIndexElementSerializer(many=True), **PUBLIC_ERRORS})
    def page(self, request, slug):
        refuse_unknown_params(request, ())
        elements = (IndexPageElement.objects.filter(tenant=self.tenant, is_published=True)
                    .select_related("celebrity").order_by("position", "id")[:MAX_INDEX_ELEMENTS])
        return Response(PublicIndexElementSerializer(elements, many=True).data)
