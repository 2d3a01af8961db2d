"""Mailing-list backends for addUserToFanMailingList; `MAILING_LIST_BACKEND` names the class.

- `profiles.mailing.ConsoleMailingList` (the default) logs the subscription: for development.
- `profiles.mailing.MailchimpMailingList` speaks Mailchimp's Marketing API v3: an idempotent
  upsert, `PUT {MAILCHIMP_BASE_URL}/3.0/lists/{MAILCHIMP_LIST_ID}/members/{md5(lower-case email)}`
  with HTTP basic auth (any user name, the API key as password). The base URL defaults to the
  data centre named by the key's suffix (`…-us21` → `https://us21.api.mailchimp.com`).

A backend's `subscribe` raises `MailingListError` when the service refuses or cannot be reached.
"""

import hashlib
import logging
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .http import HttpError, request_json

log = logging.getLogger(__name__)


class MailingListError(Exception):
    pass


class ConsoleMailingList:
    def subscribe(self, *, email: str, first_name: str = "", last_name: str = ""):
        log.info("mailing list: would subscribe %s (%s %s)", email, first_name, last_name)


class MailchimpMailingList:
    def __init__(self, api_key=None, list_id=None, base_url=None, timeout=None):
        self.api_key = api_key or settings.MAILCHIMP_API_KEY
        self.list_id = list_id or settings.MAILCHIMP_LIST_ID
        if not self.api_key or not self.list_id:
            raise ImproperlyConfigured("Set MAILCHIMP_API_KEY and MAILCHIMP_LIST_ID to use the Mailchimp backend.")
        base_url = base_url or settings.MAILCHIMP_BASE_URL
        if not base_url:
            data_centre = self.api_key.rpartition("-")[2]
            base_url = f"https://{data_centre}.api.mailchimp.com"
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout or settings.MAILCHIMP_TIMEOUT_SECONDS

    @staticmethod
    def member_hash(email: str) -> str:
        return hashlib.md5(email.lower().encode()).hexdigest()

    def subscribe(self, *, email: str, first_name: str = "", last_name: str = ""):
        url = f"{self.base_url}/3.0/lists/{quote(self.list_id, safe='')}/members/{self.member_hash(email)}"
        body = {"email_address": email, "status_if_new": "subscribed",
                "merge_fields": {"FNAME": first_name, "LNAME": last_name}}
        try:
            status, answer = request_json("PUT", url, body, basic_auth=("identity", self.api_key), timeout=self.timeout)
        except HttpError as error:
            log.warning("mailchimp unreachable: %s", error)
            raise MailingListError("The mailing-list service cannot be reached; try again later.") from None
        if status >= 300:
            detail = (answer or {}).get("detail") or (answer or {}).get("title") or f"HTTP {status}"
            log.warning("mailchimp refused %s: %s", email, detail)
            raise MailingListError(f"The mailing-list service refused the subscription: {detail}")


def get_backend():
    return import_string(settings.MAILING_LIST_BACKEND)()
