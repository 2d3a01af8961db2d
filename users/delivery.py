"""Delivery of codes and links: SMS backends (`SMS_BACKEND` names the class) and Django's e-mail.

- `users.delivery.ConsoleSms` (the default) logs the message: for development.
- `users.delivery.TwilioSms` speaks Twilio's Messages API:
  `POST {TWILIO_BASE_URL}/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json`, form fields `To`,
  `From` (or `MessagingServiceSid` when `TWILIO_FROM` starts with `MG`) and `Body`, HTTP basic auth
  AccountSid:AuthToken. The base URL is a setting so that tests point it at a local fake.

E-mail goes through Django's `EMAIL_BACKEND` (console in development, SMTP in production, `locmem`
in tests). A failed send raises `DeliveryError`.

`send_in_background` runs a send on a small thread pool, so that the answer of a magic-link or
magic-SMS request is returned before the message goes out and its timing cannot tell whether the
address or number belongs to a user. The messages carry everything they need; the pool never
touches the database.
"""

import base64
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import send_mail
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    pass


class ConsoleSms:
    """Logs the message (and so the code) instead of sending it: for development only."""

    def send(self, *, to: str, body: str):
        log.warning("sms to %s: %s", to, body)


class TwilioSms:
    def __init__(self, account_sid=None, auth_token=None, sender=None, base_url=None, timeout=None):
        self.account_sid = account_sid or settings.TWILIO_ACCOUNT_SID
        self.auth_token = auth_token or settings.TWILIO_AUTH_TOKEN
        self.sender = sender or settings.TWILIO_FROM
        if not (self.account_sid and self.auth_token and self.sender):
            raise ImproperlyConfigured("Set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM to send SMS with Twilio.")
        self.base_url = (base_url or settings.TWILIO_BASE_URL).rstrip("/")
        self.timeout = timeout or settings.TWILIO_TIMEOUT_SECONDS

    def send(self, *, to: str, body: str):
        url = f"{self.base_url}/2010-04-01/Accounts/{urllib.parse.quote(self.account_sid, safe='')}/Messages.json"
        sender_field = "MessagingServiceSid" if self.sender.startswith("MG") else "From"
        data = urllib.parse.urlencode({"To": to, sender_field: self.sender, "Body": body}).encode()
        request = urllib.request.Request(url, data=data, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode(),
        })
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            detail = error.read()[:500].decode(errors="replace")
            log.warning("twilio refused a message to %s: HTTP %s %s", to, error.code, detail)
            raise DeliveryError(f"The SMS service refused the message (HTTP {error.code}).") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            log.warning("twilio unreachable: %s", error)
            raise DeliveryError("The SMS service cannot be reached; try again later.") from None
        if status >= 300:
            raise DeliveryError(f"The SMS service refused the message (HTTP {status}).")


def sms_backend():
    return import_string(settings.SMS_BACKEND)()


def send_sms(to: str, body: str):
    sms_backend().send(to=to, body=body)


def send_email(to: str, subject: str, body: str):
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    except Exception as error:  # SMTP and network errors have no common base class
        log.warning("e-mail to %s failed: %s", to, error)
        raise DeliveryError("The e-mail could not be sent; try again later.") from None


_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="delivery")
_pending: set[Future] = set()
_pending_lock = threading.Lock()


def _logged(function, *args):
    try:
        function(*args)
    except DeliveryError:
        pass  # already logged with its cause
    except Exception:
        log.exception("background delivery failed")


def send_in_background(function, *args):
    """Run `function(*args)` after the request; failures are logged, not raised.

    The pool lives in this process: a message queued when the process dies is lost, and the person
    asks again. With `DELIVERY_IN_BACKGROUND=false` the send runs inline.
    """
    if not settings.DELIVERY_IN_BACKGROUND:
        _logged(function, *args)
        return
    future = _pool.submit(_logged, function, *args)
    with _pending_lock:
        _pending.add(future)
    future.add_done_callback(lambda f: _forget(f))


def _forget(future):
    with _pending_lock:
        _pending.discard(future)


def wait_for_background_sends(timeout: float = 10.0):
    """Block until queued sends are done (tests, and a graceful shutdown)."""
    with _pending_lock:
        futures = list(_pending)
    for future in futures:
        future.result(timeout=timeout)
