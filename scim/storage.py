"""scim2-server's storage over the backend: reads through `scim.queries`, every write through
`users.services`, so that normalisation, uniqueness and the other rules of the `/v1` API hold.

scim2-server applies a PUT or a PATCH to the current resource and hands the whole new state to
`update`; the new state is turned back into fields and handed to the services, the row locked
meanwhile so that the version checked is the version replaced.
"""

from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from scim2_models import (
    NotFoundException, NotImplementedException, Path, PreconditionFailedException, Resource, ResourceType,
    ResponseParameters, SearchRequest, UniquenessException,
)
from scim2_server.storage import ScimStorage, SearchPage

from identity.errors import Conflict, NotFound
from users import services
from users.models import Tenant

from . import mapping, queries


class BackendStorage(ScimStorage):
    """The users and groups of one tenant: the tenant of the request's API client."""

    def __init__(self, tenant: Tenant, models: dict[str, type]):
        self.tenant = tenant
        self.models = models  # resource type name -> its model (User[EnterpriseUser], Group)

    def operation(self):
        """Reads need no transaction (a lookup stays one statement); each write is atomic on
        its own, and checks the version it replaces under a row lock."""
        return _domain_errors()

    # --- reads --------------------------------------------------------------------------------

    def get(self, resource_type: ResourceType, resource_id: str, *,
            response_parameters: ResponseParameters[Any] | None = None) -> Resource[Any]:
        if resource_type.name == "User":
            user = queries.tenant_user(self.tenant, resource_id)
            if user is None:
                raise NotFoundException(detail=f"No user {resource_id!r} in this tenant.")
            return mapping.user_resource(user, self.models["User"])
        group = queries.tenant_group(self.tenant, resource_id,
                                     with_members=_returns_members(self.models["Group"], response_parameters))
        if group is None:
            raise NotFoundException(detail=f"No group {resource_id!r} in this tenant.")
        return mapping.group_resource(group, self.models["Group"])

    def search(self, resource_types: list[ResourceType], search_request: SearchRequest[Any], *,
               position: Any = None) -> SearchPage:
        if len(resource_types) != 1:
            raise NotImplementedException(detail="Search /Users or /Groups; the root is not searched.")
        name = resource_types[0].name
        sort_urn = _urn(self.models[name], search_request.sort_by)
        descending = search_request.sort_order == SearchRequest.SortOrder.descending
        start, count = search_request.start_index_0 or 0, search_request.count
        if name == "User":
            page = queries.user_page(self.tenant, search_request.filter, sort_urn, descending, start, count)
            return SearchPage(page.total, [mapping.user_resource(user, self.models[name]) for user in page.rows])
        page = queries.group_page(self.tenant, search_request.filter, sort_urn, descending, start, count,
                                  with_members=_returns_members(self.models[name], search_request))
        return SearchPage(page.total, [mapping.group_resource(group, self.models[name]) for group in page.rows])

    # --- writes -------------------------------------------------------------------------------

    @transaction.atomic
    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        if resource_type.name == "User":
            user = services.create_user(self.tenant, **mapping.user_fields(resource, {}, self._user_exists))
            return self.get(resource_type, str(user.pk))
        members = self._members(resource)
        group = services.create_group(self.tenant, **mapping.group_fields(resource))
        for user in members:
            services.add_user_group(user, group)
        return self.get(resource_type, str(group.pk))

    @transaction.atomic
    def update(self, resource_type: ResourceType, resource: Resource[Any], *,
               expected_version: str | None = None) -> Resource[Any]:
        if resource_type.name == "User":
            user = self._locked_user(resource.id, expected_version)
            services.update_user(user, mapping.user_fields(resource, user.attributes, self._user_exists))
            return self.get(resource_type, resource.id)
        group = self._locked_group(resource.id, expected_version)
        changes = {name: value for name, value in mapping.group_fields(resource).items()
                   if value != getattr(group, name)}
        if changes:
            services.update_group(group, changes)
        wanted = {str(user.pk): user for user in self._members(resource)}
        for user in group.members.exclude(pk__in=list(wanted)):
            services.remove_user_group(user, group)
        for pk in set(wanted) - set(group.member_ids):
            services.add_user_group(wanted[pk], group)
        return self.get(resource_type, resource.id)

    @transaction.atomic
    def delete(self, resource_type: ResourceType, resource_id: str, *,
               expected_version: str | None = None) -> None:
        if resource_type.name == "User":
            services.delete_user(self._locked_user(resource_id, expected_version))
        else:
            services.delete_group(self._locked_group(resource_id, expected_version))

    # --- helpers ------------------------------------------------------------------------------

    def _user_exists(self, pk: str) -> bool:
        return bool(queries.tenant_users(self.tenant, {pk}))

    def _locked_user(self, pk: str, expected_version: str | None):
        return self._locked("user", queries.tenant_user, mapping.user_version, pk, expected_version)

    def _locked_group(self, pk: str, expected_version: str | None):
        return self._locked("group", queries.tenant_group, mapping.group_version, pk, expected_version)

    def _locked(self, kind: str, find, version_of, pk: str, expected_version: str | None):
        """The row, locked for the write, if it is still at the version the client last read."""
        row = find(self.tenant, pk, lock=True)
        if row is None:
            raise NotFoundException(detail=f"No {kind} {pk!r} in this tenant.")
        if expected_version is not None and version_of(row) != expected_version:
            raise PreconditionFailedException(detail=f"The {kind} changed meanwhile; read it again.")
        return row

    def _members(self, resource) -> list:
        ids = mapping.member_ids(resource)
        users = queries.tenant_users(self.tenant, ids)
        missing = ids - {str(user.pk) for user in users}
        if missing:
            raise mapping.invalid(f"No user {sorted(missing)[0]!r} in this tenant to be a member.")
        return users


@contextmanager
def _domain_errors():
    """The services' answers as SCIM errors: a taken value is `uniqueness` (409), a refused one
    `invalidValue` (400)."""
    try:
        yield
    except Conflict as conflict:
        raise UniquenessException(detail=conflict.message) from None
    except ValidationError as error:
        raise mapping.invalid(error) from None
    except NotFound as error:
        raise NotFoundException(detail=str(error)) from None


def _urn(model: type, path: Path | None) -> str | None:
    if path is None:
        return None
    binding = Path[model](str(path)).resolve()
    return binding.urn if binding is not None else str(path)


def _returns_members(model: type, parameters) -> bool:
    """Whether a response keeps `members`, so that a group's members are read only then
    (Entra lists groups with `excludedAttributes=members`)."""
    if parameters is None:
        return True
    attributes, excluded = parameters.attributes, parameters.excluded_attributes
    if not attributes and not excluded:
        return True
    return any(str(path).lower().endswith("members") for path in Path[model].iter_paths(
        include_subattributes=False, attributes=attributes, excluded_attributes=excluded))
