"""Keyset paging over two columns, for lists ordered by a non-unique column (display weight,
position) with the primary key breaking ties. Like `users.api.pagination`, it never counts.

With both columns descending, the page after (w, k) is `w <= :w AND (w < :w OR k < :k)`: the first
conjunct is an index condition (a seek), the second filters only the rows of equal weight.
"""

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from rest_framework.exceptions import ValidationError
from rest_framework.utils.urls import remove_query_param, replace_query_param

from users.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, KeysetOrOffsetPagination, _int_param


class TwoColumnKeysetPagination(KeysetOrOffsetPagination):
    """The view names `cursor_fields`, e.g. `("-display_weight", "-user_id")`: same direction for both."""

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.limit = _int_param(request, ("limit", "max"), DEFAULT_LIMIT, 0, MAX_LIMIT)
        first, second = view.cursor_fields
        descending = first.startswith("-")
        names = first.lstrip("-"), second.lstrip("-")
        queryset = queryset.order_by(first, second)
        self.next_url = None
        url = request.build_absolute_uri()
        if "offset" in request.query_params or "first" in request.query_params:
            offset = _int_param(request, ("offset", "first"), 0, 0, 10**9)
            rows = list(queryset[offset:offset + self.limit + 1])
            if len(rows) > self.limit:
                self.next_url = replace_query_param(remove_query_param(url, "first"), "offset", offset + self.limit)
        else:
            cursor = request.query_params.get("cursor")
            if cursor:
                try:
                    a, b = json.loads(self._decode(cursor))
                except (ValueError, TypeError):
                    raise ValidationError({"cursor": "This cursor is damaged; start again from the first page."})
                op = "lt" if descending else "gt"
                edge = "lte" if descending else "gte"
                try:
                    queryset = queryset.filter(Q(**{f"{names[0]}__{edge}": a}) & (
                        Q(**{f"{names[0]}__{op}": a}) | Q(**{f"{names[1]}__{op}": b})))
                except (ValueError, TypeError, DjangoValidationError):
                    raise ValidationError({"cursor": "This cursor is damaged; start again from the first page."})
            rows = list(queryset[: self.limit + 1])
            if len(rows) > self.limit and self.limit:
                last = rows[self.limit - 1]
                position = json.dumps([getattr(last, names[0]), str(getattr(last, names[1]))])
                self.next_url = replace_query_param(url, "cursor", self._encode(position))
        return rows[: self.limit]
