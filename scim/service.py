"""scim2-server's service for this backend: the models and capabilities it publishes, and the few
steps it takes differently."""

from functools import cache
from http import HTTPStatus
from typing import Union

from scim2_models import (
    Context, InvalidSyntaxException, ListResponse, PatchOp, ResourceType, ResponseParameters, Schema, ScimProvider,
    SearchRequest,
)
from scim2_server.responses import ScimResponse
from scim2_server.service import ScimService

from . import compat
from .schemas import EnterpriseUser, Group, User, service_provider_config

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class BackendService(ScimService):
    def __init__(self, provider: ScimProvider):
        super().__init__(provider)
        self._generic_models = self._parametrized_models()

    def _parametrized_models(self) -> list:
        """The generic messages scim2-server parametrizes on each request, built once and held.

        pydantic keeps parametrized models in a weak cache: without a reference held, a class
        built for one request is collected and built again (tens of milliseconds) for the next.
        """
        models = self.get_models()
        every = Union[tuple(models)]  # noqa: UP007
        kept = [ListResponse[every], SearchRequest[every], ListResponse[ResourceType], ListResponse[Schema]]
        for model in models:
            kept += [SearchRequest[model], ResponseParameters[model], PatchOp[model]]
        return kept

    def read_creation(self, resource_type, body, content_type):
        return super().read_creation(resource_type, compat.resource_body(_with_schemas(body)), content_type)

    def read_replacement(self, resource_type, body, content_type):
        return super().read_replacement(resource_type, compat.resource_body(_with_schemas(body)), content_type)

    def read_patch(self, resource_type, body, content_type):
        return super().read_patch(resource_type, compat.patch_body(_with_schemas(body)), content_type)

    def search_response(self, base_url, resource_types, page, search_request):
        """The list envelope written directly: scim2-server validates each dumped resource back
        into a model to wrap it in a `ListResponse`, then dumps it again, which costs an IdP's
        lookup more than its query does. Pages are by index here (no cursors)."""
        resources = [self.publish(base_url, resource).model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=search_request)
            for resource in page.resources]
        return ScimResponse(HTTPStatus.OK, {
            "schemas": [LIST_RESPONSE], "totalResults": page.total, "startIndex": search_request.start_index,
            "itemsPerPage": len(resources), "Resources": resources})

    def patch_response(self, base_url, resource, response_parameters):
        """A PATCH answers 200 with the resource (RFC 7644 §3.5.2 allows 204 as well, which some
        clients read as a failure)."""
        return self.resource_response(
            self.publish(base_url, resource), Context.RESOURCE_REPLACEMENT_RESPONSE, response_parameters)


def _with_schemas(body: bytes) -> bytes:
    """RFC 7643 §3 requires `schemas` in every resource and message; scim2-models checks what it
    lists, not that it is there."""
    document = compat.parse(body)
    if isinstance(document, dict) and not document.get("schemas"):
        raise InvalidSyntaxException(detail="The body needs its 'schemas'.")
    return body


def provider() -> ScimProvider:
    return ScimProvider(
        models=[User, Group, EnterpriseUser],
        resource_types=[ResourceType.from_resource(User[EnterpriseUser]), ResourceType.from_resource(Group)],
        config=service_provider_config(),
        policy=compat.POLICY,
    )


@cache
def service() -> BackendService:
    """Built once per process, on the first request (the settings are read then)."""
    return BackendService(provider())
