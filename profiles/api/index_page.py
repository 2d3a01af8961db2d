"""`/v1/index-elements`: the admin-managed elements of a tenant's home page (the Fan service's
Index Page CRUD). The public rendering is `GET /v1/tenants/{slug}/index-page` (`public.py`)."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.response import Response

from profiles import services
from profiles.api.base import ERRORS, ProfilesViewSet
from identity.api.keyset import TwoColumnKeysetPagination
from profiles.models import IndexPageElement
from identity.api.serializers import StrictSerializer


class IndexElementSerializer(StrictSerializer, serializers.ModelSerializer):
    celebrity_user_id = serializers.UUIDField(source="celebrity_id", required=False, allow_null=True,
                                              help_text="A featured celebrity of the tenant.")

    class Meta:
        model = IndexPageElement
        fields = ["id", "element_type", "position", "title", "body", "image_url", "link_url", "celebrity_user_id",
                  "is_published", "created_on", "updated_on"]
        read_only_fields = ["id", "created_on", "updated_on"]
        extra_kwargs = {"body": {"max_length": 10_000}}

    @staticmethod
    def _fields(data):
        if "celebrity_id" in data:
            data["celebrity"] = data.pop("celebrity_id")
        return data

    def create(self, validated_data):
        return services.create_index_element(self.context["tenant"], **self._fields(validated_data))

    def update(self, instance, validated_data):
        return services.update_index_element(instance, self._fields(validated_data))


class ReorderSerializer(StrictSerializer):
    ids = serializers.ListField(child=serializers.UUIDField(), max_length=1000,
                                help_text="Elements in their new order; positions become 10, 20, 30…")


class ReorderedSerializer(serializers.Serializer):
    results = IndexElementSerializer(many=True, help_text="Every element of the tenant, in the new order.")


@extend_schema_view(
    list=extend_schema(summary="List index page elements", operation_id="index_elements_list",
                       description="Published or not, in position order.",
                       responses={200: IndexElementSerializer(many=True), **ERRORS}),
    create=extend_schema(summary="Create an index page element", operation_id="index_elements_create",
                         responses={201: IndexElementSerializer, **ERRORS}),
    retrieve=extend_schema(summary="Get an index page element", operation_id="index_elements_get",
                           responses={200: IndexElementSerializer, **ERRORS}),
    partial_update=extend_schema(summary="Update an index page element", operation_id="index_elements_update",
                                 responses={200: IndexElementSerializer, **ERRORS}),
    destroy=extend_schema(summary="Delete an index page element", operation_id="index_elements_delete",
                          responses={204: None, **ERRORS}),
)
class IndexElementViewSet(ProfilesViewSet, mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                          mixins.UpdateModelMixin, mixins.DestroyModelMixin):
    serializer_class = IndexElementSerializer
    pagination_class = TwoColumnKeysetPagination
    cursor_fields = ("position", "id")

    def get_queryset(self):
        return IndexPageElement.objects.filter(tenant=self.tenant)

    def perform_destroy(self, instance):
        services.delete_index_element(instance)

    @extend_schema(summary="Reorder index page elements", operation_id="index_elements_reorder",
                   request=ReorderSerializer, responses={200: ReorderedSerializer, **ERRORS})
    def reorder(self, request):
        serializer = ReorderSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        elements = services.reorder_index_elements(self.tenant, serializer.validated_data["ids"])
        return Response(ReorderedSerializer({"results": elements}).data)
