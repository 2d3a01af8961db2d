"""What `OPTIONS` answers: the view and its media types, with the methods in the `Allow` header.

DRF's SimpleMetadata also describes the fields of the serializer a POST or PUT would take, and fails
on views that pick their serializer per action. The OpenAPI schema (`/v1/schema`) describes the
fields of every operation already, so OPTIONS only says what the resource is and which methods it
allows.
"""

from rest_framework.metadata import BaseMetadata


class MethodsOnlyMetadata(BaseMetadata):
    def determine_metadata(self, request, view):
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
        }
