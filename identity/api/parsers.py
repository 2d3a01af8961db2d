"""The JSON that request bodies may hold: an object, nested boundedly, without NUL characters.

Python's parser recurses once per level, so a body of a few thousand `[` would end in a
RecursionError (a 500); and PostgreSQL stores no NUL character in text or jsonb, so a string holding
one would fail at the database. Both are the caller's mistake: 400.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from identity.api.inputs import refuse_nul

MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
        if depth(data) > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        if not isinstance(data, dict):  # every endpoint takes an object; code may read fields before validating
            raise ParseError("JSON parse error - a request body is a JSON object.")
        refuse_nul(data)
        return data


def depth(value) -> int:
    """How deeply arrays and objects nest in `value` (a scalar is 0), without recursing."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in item)
    return deepest
