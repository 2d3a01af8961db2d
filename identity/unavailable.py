"""A database that is down (restarting, failing over, unreachable) answers 503 with `Retry-After`, not 500.

A 503 tells the caller that the failure will pass and when to try again; a 500 says something is
broken. The answer comes at once: a refused connection fails in milliseconds, one that does not
answer within DATABASE_CONNECT_TIMEOUT seconds fails then. Django drops a connection that failed
and checks a kept one before reusing it (CONN_HEALTH_CHECKS), so the process recovers by itself.

Three places turn the error into this answer: the API's exception handler (identity/api/errors.py),
this middleware for every other view (the admin, share pages), and the 500 handler for what
fails in a middleware (loading or saving a session).
"""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

logger = logging.getLogger(__name__)

# OperationalError: the server refused or dropped the connection, or is shutting down or starting;
# InterfaceError: the connection was already closed under the request.
DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5
# The API's error shape (identity/api/errors.py), which imports this module.
BODY = {
    "code": "database_unavailable",
    "message": "The database is unavailable for a moment; retry the request after the Retry-After delay. "
               "A write that got this answer may or may not have been saved: read it back before repeating it.",
}


def is_database_down(exc) -> bool:
    return isinstance(exc, DATABASE_ERRORS)


def log_database_down(request, exc):
    """One line per refused request, not a 500's traceback: the cause is outside the request."""
    logger.warning("503 for %s %s: database unavailable (%s)", request.method, request.path,
                   str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


def response_headers() -> dict:
    return {"Retry-After": str(RETRY_AFTER_SECONDS)}


def database_unavailable(request, exc) -> JsonResponse:
    log_database_down(request, exc)
    return JsonResponse(BODY, status=503, headers=response_headers())


def current_database_error():
    """The database error being handled, if that is what is being handled (the 500 handler's case)."""
    exc = sys.exc_info()[1]
    return exc if is_database_down(exc) else None


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_database_down(exception):
            return database_unavailable(request, exception)
        return None
