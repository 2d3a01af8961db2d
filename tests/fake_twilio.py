"""A local stand-in for Twilio's Messages API, on 127.0.0.1 (port 0); tests read the codes from it."""

import base64
import contextlib
import http.server
import re
import time
import uuid
from urllib.parse import parse_qs

import pytest

from tests.local_server import JsonHandler, serving

ACCOUNT_SID = "AC00000000000000000000000000000001"
AUTH_TOKEN = "fake-twilio-auth-token"
SENDER = "+15550000000"


class FakeTwilio:
    def __init__(self):
        self.messages = []  # {"To", "From", "Body", ...} of every accepted message
        self.requests = []  # every request: method, path, headers
        self.fail_with = None  # an HTTP status to answer instead of accepting

    def last_code(self, to: str) -> str:
        bodies = [m["Body"] for m in self.messages if m["To"] == to]
        assert bodies, f"no SMS to {to}"
        return re.search(r"\b(\d{6})\b", bodies[-1]).group(1)

    def wait_code(self, to: str, count: int = 1, timeout: float = 10) -> str:
        """The newest code to `to` once `count` messages have reached it (senders may send after answering)."""
        deadline = time.monotonic() + timeout
        while len(self.sent_to(to)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.last_code(to)

    def sent_to(self, to: str) -> list[dict]:
        return [m for m in self.messages if m["To"] == to]


def _serve(state: FakeTwilio):
    expected_auth = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()

    class Handler(JsonHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers)})
            if self.path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
                return self.answer(404, {"code": 20404, "message": "The requested resource was not found"})
            if self.headers.get("Authorization") != expected_auth:
                return self.answer(401, {"code": 20003, "message": "Authenticate"})
            if state.fail_with:
                return self.answer(state.fail_with, {"code": 21211, "message": "Refused"})
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            state.messages.append(form)
            self.answer(201, {"sid": f"SM{uuid.uuid4().hex}", "status": "queued", "to": form.get("To"),
                               "body": form.get("Body")})

    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@contextlib.contextmanager
def running():
    """A fresh fake on a free loopback port, stopped on exit; `state.url` is its origin."""
    state = FakeTwilio()
    with serving(_serve(state), state):
        yield state


def settings_for(state: FakeTwilio) -> dict[str, str]:
    """The backend's Twilio settings pointing at `state`."""
    return {"SMS_BACKEND": "users.delivery.TwilioSms", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM": SENDER, "TWILIO_BASE_URL": state.url}


@pytest.fixture
def twilio(settings):
    """Points the Twilio backend at a fresh fake; background sends run inline, so messages are
    there when the request returns."""
    with running() as state:
        for name, value in settings_for(state).items():
            setattr(settings, name, value)
        settings.DELIVERY_IN_BACKGROUND = False
        yield state
