"""Share pages (the celebrity service's REST pages): HTML with Open Graph and Twitter card metadata for link previews.

`/share/{slug}/celebrities/{id or store code}` and `/share/{slug}/events/{event id}`. They are
public: the tenant is the slug of the path, as for `/v1/tenants/{slug}/…`, and soft-deleted
profiles are not found. Every value reaches the page through Django's template autoescaping.
Events come from the configured inventory source (`profiles.events_source`).
"""

import re

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.template.defaultfilters import truncatechars
from django.views.decorators.http import require_safe

from users.models import Tenant

from .api.public import find_public_celebrity
from .events_source import EventSourceError, get_source
from .models import CelebrityProfile

EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
DESCRIPTION_LENGTH = 200
CACHE_SECONDS = 300


def _canonical(request, path: str) -> str:
    base = settings.SHARE_BASE_URL.rstrip("/")
    return f"{base}{path}" if base else request.build_absolute_uri(path)


def _page(request, template, context, status=200):
    response = render(request, template, {"site_name": settings.SHARE_SITE_NAME,
                                          "facebook_app_id": settings.SHARE_FACEBOOK_APP_ID, **context}, status=status)
    if status == 200:
        response["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response


def _not_found(request):
    return _page(request, "profiles/share_not_found.html", {}, status=404)


def _picture(profile: CelebrityProfile) -> str:
    image = profile.images.order_by("created_on", "id").first() or profile.banners.order_by("created_on", "id").first()
    return image.url if image else ""


@require_safe
def celebrity_page(request, slug, key):
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        return _not_found(request)
    try:
        profile = find_public_celebrity(tenant, key)
    except Http404:
        return _not_found(request)
    name = profile.display_name or f"{profile.first_name} {profile.last_name}".strip()
    description = profile.bio or " · ".join(filter(None, [profile.title, profile.company_name]))
    path = f"/share/{tenant.slug}/celebrities/{profile.store_code or profile.user_id}"
    return _page(request, "profiles/share_celebrity.html", {
        "profile": profile,
        "title": name,
        "description": truncatechars(description, DESCRIPTION_LENGTH),
        "image": _picture(profile),
        "url": _canonical(request, path),
        "og_type": "profile",
    })


@require_safe
def event_page(request, slug, event_id):
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None or not EVENT_ID.match(event_id):
        return _not_found(request)
    try:
        event = get_source().get_event(tenant, event_id)
    except EventSourceError:
        return _page(request, "profiles/share_not_found.html", {"unavailable": True}, status=503)
    if event is None:
        return _not_found(request)
    image = event.image_url
    celebrity = None
    if event.celebrity_user_id:
        try:
            celebrity = find_public_celebrity(tenant, event.celebrity_user_id)
        except Http404:  # an unknown or deleted celebrity is left out
            celebrity = None
    if not image and celebrity is not None:
        image = _picture(celebrity)
    return _page(request, "profiles/share_event.html", {
        "event": event,
        "celebrity": celebrity,
        "title": event.title,
        "description": truncatechars(event.description, DESCRIPTION_LENGTH),
        "image": image,
        "url": _canonical(request, f"/share/{tenant.slug}/events/{event.id}"),
        "og_type": "website",
    })
