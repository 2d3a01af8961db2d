"""Keyset paging over two columns, for lists ordered by a non-unique column (display weight,
position, time) with the primary key breaking ties. Like `identity.api.pagination`, it never counts.

With both columns descending, the page after (w, k) is `w <= :w AND (w < :w OR k < :k)`: the first
conjunct is an index condition (a seek), the second filters only the rows of equal weight.
"""

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from rest_framework.exceptions import ValidationError
from rest_framework.utils.urls import replace_query_param

from identity.api.pagination import KeysetOrOffsetPagination


class TwoColumnKeysetPagination(KeysetOrOffsetPagination):
    """The view names `cursor_fields`, e.g. `("-display_weight", "-user_id")`: same direction for both."""

    def ordered(self, queryset, view):
        return queryset.order_by(*view.cursor_fields)

    def page_key(self, view) -> str:
        return "pk"

    def keyset_page(self, queryset, view):
        first, second = view.cursor_fields
        descending = first.startswith("-")
        names = first.lstrip("-"), second.lstrip("-")
        cursor = self.request.query_params.get("cursor")
        if cursor:
            damaged = ValidationError({"cursor": "This cursor is damaged; start again from the first page."})
            try:
                a, b = json.loads(self._decode(cursor))
            except (ValueError, TypeError):
                raise damaged from None
            op = "lt" if descending else "gt"
            edge = "lte" if descending else "gte"
            try:
                queryset = queryset.filter(Q(**{f"{names[0]}__{edge}": a}) & (
                    Q(**{f"{names[0]}__{op}": a}) | Q(**{f"{names[1]}__{op}": b})))
            except (ValueError, TypeError, DjangoValidationError):
                raise damaged from None
        rows = list(queryset[: self.limit + 1])
        if len(rows) > self.limit and self.limit:
            last = rows[self.limit - 1]
            position = json.dumps([getattr(last, names[0]), str(getattr(last, names[1]))], default=str)
            self.next_url = replace_query_param(self.url, "cursor", self._encode(position))
        return rows
