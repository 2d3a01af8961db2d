"""What every profiles endpoint shares: scopes, the caller's tenant, strict query parameters.

Who may do what:

- `profiles:read` reads everything of the credential's tenant except soft-deleted profiles;
- `profiles:write` is the admin's scope (an API client's, or a person's with the `admin` role):
  every write, and reads of soft-deleted profiles. A service acting for a fan or a celebrity names
  that person in the path (`/v1/fans/{fan_user_id}/…`, `/v1/celebrities/{celebrity_user_id}`);
- a person signed in with Keycloak manages their own fan routes (profile, follows, media, mailing
  list) and reads and edits their own celebrity profile (not its status or display weight), with
  no scope at all: `ScopeOrSelf` compares the person with the id in the path;
- anonymous callers read published data only, through `/v1/tenants/{slug}/…` and `/share/{slug}/…`:
  the tenant is named by its slug in the path, and they never see deleted profiles.

Anything of another tenant is not found (404).
"""

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, status, viewsets
from rest_framework.exceptions import APIException, ValidationError

from identity.api.errors import ERRORS, ErrorSerializer, conflict
from identity.api.pagination import PAGING_PARAMS
from identity.api.permissions import HasScope
from identity.api.viewsets import CheckedUrlMixin, TenantViewSet
from users.models import Tenant, User

READ = "profiles:read"
WRITE = "profiles:write"

CONFLICT = conflict("Taken in this tenant, or used up.")
PUBLIC_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; `fields` says what to correct."),
    404: OpenApiResponse(ErrorSerializer, description="No such tenant or published object."),
}


class UpstreamFailed(APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "upstream_error"
    default_detail = "A service this call depends on failed; try again later."


def is_admin(request) -> bool:
    """Admins of the tenant: today, credentials with the write scope."""
    credential = getattr(request, "auth", None)
    return credential is not None and WRITE in getattr(credential, "scopes", ())


def refuse_unknown_params(request, allowed):
    unknown = sorted(set(request.query_params) - set(allowed))
    if unknown:
        raise ValidationError({name: ["Unknown parameter."] for name in unknown})


class StrictFilterMixin:
    """Lists refuse query parameters that are neither paging nor a filter of their filterset.

    Filters apply to the list action only: an object is found by its id whatever a list shows.
    """

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        allowed = set(PAGING_PARAMS)
        filters = getattr(self, "filterset_class", None) and self.filterset_class.base_filters or {}
        refuse_unknown_params(self.request, allowed | set(filters))
        # django-filter ignores blank values (spaces too); a blank id or choice is none (a blank text is no filter).
        blank = sorted(name for name, f in filters.items()
                       if self.request.query_params.get(name, "x").strip() == ""
                       and not isinstance(f, django_filters.CharFilter))
        if blank:
            raise ValidationError({name: ["This field may not be blank."] for name in blank})
        return super().filter_queryset(queryset)


class ScopeOrSelf(HasScope):
    """The scope of the action, or a person acting on their own routes: views name the path's
    `self_kwarg` (the person's id) and, optionally, the `self_actions` a person may take."""

    def has_permission(self, request, view):
        if super().has_permission(request, view):
            return True
        kwarg, actions = getattr(view, "self_kwarg", None), getattr(view, "self_actions", None)
        user = request.user
        return bool(kwarg and isinstance(user, User) and (actions is None or view.action in actions)
                    and str(view.kwargs.get(kwarg)) == str(user.pk))


class ProfilesViewSet(StrictFilterMixin, TenantViewSet):
    read_scope = READ
    write_scope = WRITE
    permission_classes = [ScopeOrSelf]

    @property
    def is_admin(self) -> bool:
        return is_admin(self.request)


class PublicViewSet(CheckedUrlMixin, StrictFilterMixin, viewsets.GenericViewSet):
    """Anonymous reads; the tenant is the `slug` of the path (credentials, if sent, are ignored)."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]

    @property
    def tenant(self):
        if getattr(self, "swagger_fake_view", False):
            return None
        if not hasattr(self, "_tenant"):
            self._tenant = get_object_or_404(Tenant, slug=self.kwargs["slug"])
        return self._tenant


__all__ = ["CONFLICT", "ERRORS", "PUBLIC_ERRORS", "READ", "WRITE", "ProfilesViewSet", "PublicViewSet", "UpstreamFailed",
           "is_admin"]
