"""Where event share pages get their event: the Inventory service, outside this system.

`INVENTORY_SOURCE` names the class (a dotted path):

- `profiles.events_source.NullEventSource` (the default) knows no events: event share pages
  answer 404. For development and for deployments without an Inventory service.
- `profiles.events_source.HttpEventSource` asks Inventory over HTTP with its GraphQL query,
  `POST {INVENTORY_BASE_URL}/graphql` (bearer `INVENTORY_API_TOKEN` if set), and expects
  `{"data": {"event": {"id", "title", "description", "imageUrl", "startsAt", "celebrityUserId"}}}`
  (`event` null when there is no such event).

A source returns an `Event`, or None when there is no such event; it raises `EventSourceError`
when the service fails, which the share page turns into a 503.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .http import HttpError, request_json

log = logging.getLogger(__name__)


class EventSourceError(Exception):
    pass


@dataclass
class Event:
    id: str
    title: str
    description: str = ""
    image_url: str = ""
    starts_at: str = ""
    celebrity_user_id: str = ""


class NullEventSource:
    def get_event(self, tenant, event_id: str) -> Event | None:
        log.info("inventory: no source configured; event %s of %s not looked up", event_id, tenant.slug)
        return None


class HttpEventSource:
    QUERY = ("query Event($id: ID!, $tenant: String!) { event(id: $id, tenant: $tenant) "
             "{ id title description imageUrl startsAt celebrityUserId } }")

    def __init__(self, base_url=None, token=None, timeout=None):
        self.base_url = (base_url or settings.INVENTORY_BASE_URL).rstrip("/")
        if not self.base_url:
            raise ImproperlyConfigured("Set INVENTORY_BASE_URL to use the HTTP inventory source.")
        self.token = token if token is not None else settings.INVENTORY_API_TOKEN
        self.timeout = timeout or settings.INVENTORY_TIMEOUT_SECONDS

    def get_event(self, tenant, event_id: str) -> Event | None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = {"query": self.QUERY, "variables": {"id": event_id, "tenant": tenant.slug}}
        try:
            status, answer = request_json("POST", f"{self.base_url}/graphql", body, headers=headers,
                                          timeout=self.timeout)
        except HttpError as error:
            raise EventSourceError(str(error)) from None
        if status != 200 or not isinstance(answer, dict) or answer.get("errors"):
            raise EventSourceError(f"inventory answered {status}: {str(answer)[:200]}")
        event = (answer.get("data") or {}).get("event")
        if not event:
            return None
        return Event(id=str(event.get("id") or event_id), title=str(event.get("title") or ""),
                     description=str(event.get("description") or ""), image_url=str(event.get("imageUrl") or ""),
                     starts_at=str(event.get("startsAt") or ""),
                     celebrity_user_id=str(event.get("celebrityUserId") or ""))


def get_source():
    return import_string(settings.INVENTORY_SOURCE)()
