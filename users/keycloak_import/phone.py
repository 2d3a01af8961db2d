"""Phone numbers of an export, normalised as `services.normalise_phone` does, cheaply for E.164 ones.

`phonenumbers.parse` costs tens of microseconds a number, most of a user's conversion. A number
already written as E.164 (`+` and 8 to 15 digits) comes out of it unchanged when its country code is
one, its national number has one of the lengths the country's numbering plan allows (so it is
possible) and no national prefix is there to strip (the country's `national_prefix_for_parsing` does
not match its start); those three are read from the library's own metadata, once per country code.
Any other value, or one that fails a condition, goes through `services.normalise_phone` itself.
"""

from __future__ import annotations

import re
from functools import lru_cache

from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, region_code_for_country_code

from users import services

E164 = re.compile(r"\+[1-9][0-9]{7,14}").fullmatch  # ASCII digits only: others are the library's to read


@lru_cache(maxsize=None)
def _plan(country_code: int):
    """The national number lengths and the national prefix pattern of a country code, or None."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region_code_for_country_code(country_code))
    if metadata is None or metadata.general_desc is None:
        return None
    prefix = metadata.national_prefix_for_parsing
    return frozenset(metadata.general_desc.possible_length), re.compile(prefix).match if prefix else None


def unchanged_e164(value: str) -> bool:
    """Whether `normalise_phone(value)` is `value` itself, known without parsing it (False: unknown)."""
    if not E164(value):
        return False
    digits = value[1:]
    for size in (1, 2, 3):  # country codes are prefix-free, and the library takes the shortest
        if int(digits[:size]) in COUNTRY_CODE_TO_REGION_CODE:
            plan = _plan(int(digits[:size]))
            national = digits[size:]
            return plan is not None and len(national) in plan[0] and not (plan[1] and plan[1](national))
    return False


def normalise(value: str | None) -> str | None:
    """`services.normalise_phone(value)`; raises its `ValidationError` for what is not a number."""
    if value is not None and unchanged_e164(value):
        return value
    return services.normalise_phone(value)
