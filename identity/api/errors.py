"""One error shape for every API answer: `{"code", "message", "fields"}`."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from identity import unavailable
from identity.errors import Conflict, NotFound


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable, machine-readable error code.")
    message = serializers.CharField(help_text="What went wrong and what to do next.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages (400 and 409 only).",
    )


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; `fields` says what to correct."),
    401: OpenApiResponse(ErrorSerializer, description="No or bad credential."),
    403: OpenApiResponse(ErrorSerializer, description="The credential lacks the scope."),
    404: OpenApiResponse(ErrorSerializer, description="No such object in the caller's tenant."),
}


def conflict(description: str) -> dict:
    """The 409 answer of an endpoint whose writes a uniqueness constraint can refuse."""
    return {409: OpenApiResponse(ErrorSerializer, description=description)}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return body


def _as_lists(detail) -> dict:
    if isinstance(detail, dict):
        return {
            name: [str(m) for m in (messages if isinstance(messages, list) else [messages])]
            if not isinstance(messages, dict) else [f"{k}: {v}" for k, v in _as_lists(messages).items()]
            for name, messages in detail.items()
        }
    return {"non_field_errors": [str(m) for m in (detail if isinstance(detail, list) else [detail])]}


def exception_handler(exc, context):
    if unavailable.is_database_down(exc):
        unavailable.log_database_down(context["request"], exc)
        return Response(dict(unavailable.BODY), status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers=unavailable.response_headers())
    if isinstance(exc, Conflict):
        return Response(
            error_body("conflict", exc.message, {exc.field: [exc.message]}), status=status.HTTP_409_CONFLICT
        )
    if isinstance(exc, NotFound):
        exc = exceptions.NotFound(str(exc) or None)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _as_lists(exc.detail)
        names = ", ".join(sorted(fields))
        response.data = error_body("invalid", f"Correct these fields and try again: {names}.", fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = error_body(code if isinstance(code, str) else "error", str(detail))
    return response


def json_bad_request(request, exception=None):
    """What Django itself refuses before any view runs: a body over DATA_UPLOAD_MAX_MEMORY_SIZE, a
    bad Host header."""
    return JsonResponse(error_body("bad_request", "The request is malformed or too large."), status=400)


def json_not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "No such resource. Check the path and the id."), status=404)


def json_server_error(request):
    """A database that fails in a middleware (a session loaded or saved) is a 503, as in a view."""
    database_error = unavailable.current_database_error()
    if database_error is not None:
        return unavailable.database_unavailable(request, database_error)
    return JsonResponse(error_body("server_error", "Something failed on our side; it has been logged."), status=500)
