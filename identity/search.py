"""Case-insensitive text matching that PostgreSQL's indexes serve, shared by every app's search.

Names are compared as `lower(name) COLLATE "C"`, the exact expression of the indexes: Django's
`i*` lookups compile to `UPPER()`, which no index serves. Substrings shorter than three
characters have no trigrams, so no index can serve them: searches match them as prefixes.
"""

from django.db.models.functions import Collate, Lower

MIN_SUBSTRING_LENGTH = 3


def lowered(name: str):
    return Collate(Lower(name), "C")


def after_prefix(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix`, in code point order (which
    is "C" byte order for UTF-8), or None if there is none."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if code == 0xD800:  # surrogates are never text
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None
