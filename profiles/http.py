"""A small JSON-over-HTTP helper on the standard library, for the mailing-list and inventory adapters."""

import base64
import json
import urllib.error
import urllib.request


class HttpError(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def request_json(method: str, url: str, body=None, *, headers=None, basic_auth=None, timeout=10.0):
    """Send `body` as JSON and return (status, decoded JSON or None). Network failures raise HttpError."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Accept": "application/json", **(headers or {})})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if basic_auth is not None:
        token = base64.b64encode(":".join(basic_auth).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise HttpError(f"{method} {url} failed: {error}") from None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None
