"""Celebrity name search (`q`), written so that PostgreSQL answers it from an index.

Every word must match display, first or last name: words of three characters or more anywhere in
a name, shorter words at its start. Names are compared as `lower(name) COLLATE "C"`, the exact
expressions of the profiles' trigram indexes (Django's `i*` lookups compile to `UPPER()`,
which no index serves); pg_trgm serves `LIKE '%word%'` and `LIKE 'wo%'` alike.
"""

from django.db.models import Q, QuerySet

from identity.search import MIN_SUBSTRING_LENGTH, lowered

NAME_FIELDS = ("display_name", "first_name", "last_name")
MAX_WORDS = 5


def search_names(queryset: QuerySet, q: str) -> QuerySet:
    words = q.lower().split()[:MAX_WORDS]
    if not words:
        return queryset
    queryset = queryset.alias(**{f"{name}_lc": lowered(name) for name in NAME_FIELDS})
    condition = Q()
    for word in words:
        lookup = "contains" if len(word) >= MIN_SUBSTRING_LENGTH else "startswith"
        any_name = Q()
        for name in NAME_FIELDS:
            any_name |= Q(**{f"{name}_lc__{lookup}": word})
        condition &= any_name
    return queryset.filter(condition)
