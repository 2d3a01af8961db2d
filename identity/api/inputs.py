"""Checks on raw input that hold for every endpoint, whatever its serializer does.

PostgreSQL stores no NUL character in text or jsonb, nor compares one: a string that holds one fails
at the database (a 500) unless it is refused before, with a 400 naming the field.
"""

from rest_framework.exceptions import ValidationError

NON_FIELD = "non_field_errors"
NUL_MESSAGE = "Null characters are not allowed."


def refuse_nul(data, field: str | None = None):
    """400 if any string in `data`, keys included, holds a NUL. The error is keyed by `field`, or,
    for an object, by the top-level key under which the NUL was found."""
    if field is None and isinstance(data, dict):
        for key, value in data.items():
            _refuse(key, NON_FIELD)
            _refuse(value, key)
    else:
        _refuse(data, field or NON_FIELD)


def _refuse(value, field):
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValidationError({field: [NUL_MESSAGE]})
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def refuse_nul_in_url(request, path_kwargs: dict):
    """The query string's names and values and the path's parameters."""
    refuse_nul({name: values for name, values in request.query_params.lists()})
    refuse_nul({name: value for name, value in path_kwargs.items() if isinstance(value, str)})
