"""Paging without COUNT(*): keyset cursors by default, offsets for Keycloak's `first`/`max`.

A page fetches one row more than asked to learn whether there is a next page. Offsets stay for
the provider (Keycloak pages by `first`/`max`), but deep offsets cost a walk over every skipped
row; the cursor (`next` link without `offset`) costs one index seek at any depth.

A page is a search, which tolerates a replica's lag: it is read from one when there is one.
"""

import base64

from django.db.models import CharField, F, Func
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from identity.db_routing import read_replica

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10**9
PAGING_PARAMS = {"offset", "first", "limit", "max", "cursor"}
DEEP_OFFSET = 500


def _int_param(request, names, default, minimum, maximum):
    """The first of `names` given (a name and its Keycloak alias); every one given must be valid."""
    values = []
    for name in names:
        raw = request.query_params.get(name)
        if raw is not None:
            try:
                value = int(raw)
            except ValueError:
                value = None
            if value is None or not minimum <= value <= maximum:
                raise ValidationError({name: f"A whole number from {minimum} to {maximum}."})
            values.append(value)
    return values[0] if values else default


def page_limit(request) -> int:
    return _int_param(request, ("limit", "max"), DEFAULT_LIMIT, 0, MAX_LIMIT)


class KeysetOrOffsetPagination(BasePagination):
    """The view names `cursor_field`, a column unique within the tenant, and orders by it.

    A caller may ask for `keys_first`: the page's keys are then found by a query of their own, which
    a covering index answers without visiting the table, and the rows fetched by key with the
    `rows_for_keys(keys, alias)` it hands over (rows in the keys' order, from the keys' database), or else by the page's query
    filtered to the keys. Searches over common terms walk thousands of index entries to fill a
    page; visiting the table for each costs several times more than the walk. With `matches_first`
    (a term the trigram indexes narrow to few rows), the keys query's order is written so that no
    index yields it, and the planner finds the matches before sorting them.

    Subclasses with another order override `ordered`, `keyset_page` and `page_key`.
    """

    def paginate_queryset(self, queryset, request, view=None, *, keys_first=False, rows_for_keys=None,
                          matches_first=False):
        self.request = request
        self.keys_first = keys_first
        self.matches_first = matches_first
        self.rows_for_keys = rows_for_keys
        self.limit = page_limit(request)
        self.next_url = None
        self.url = request.build_absolute_uri()
        queryset = self.ordered(queryset.using(read_replica()), view)
        if "offset" in request.query_params or "first" in request.query_params:
            rows = self.offset_page(queryset, view)
        else:
            rows = self.keyset_page(queryset, view)
        return rows[: self.limit]

    def complete_page(self, request, rows):
        """A first page known to hold every result (a lookup by a unique key): no next page."""
        self.request = request
        self.limit = page_limit(request)
        self.next_url = None
        return rows[: self.limit]

    def ordered(self, queryset, view):
        return queryset.order_by(view.cursor_field)

    def page_key(self, view) -> str:
        """A unique column that finds a page's rows again after an index-only skip."""
        return view.cursor_field

    def offset_page(self, queryset, view):
        offset = _int_param(self.request, ("offset", "first"), 0, 0, MAX_OFFSET)
        # Deep offsets skip over the index alone: skipped rows would otherwise have their whole
        # select list (role and group subqueries) computed only to be thrown away.
        rows = self.rows(queryset, view, offset, offset >= DEEP_OFFSET)
        if len(rows) > self.limit:
            self.next_url = replace_query_param(remove_query_param(self.url, "first"), "offset", offset + self.limit)
        return rows

    def keyset_page(self, queryset, view):
        field = view.cursor_field
        cursor = self.request.query_params.get("cursor")
        if cursor:
            queryset = queryset.filter(**{f"{field}__gt": self._decode(cursor)})
        rows = self.rows(queryset, view, 0)
        if len(rows) > self.limit and self.limit:
            self.next_url = replace_query_param(self.url, "cursor", self._encode(getattr(rows[self.limit - 1], field)))
        return rows

    def rows(self, queryset, view, offset, keys_first=False):
        """The page's rows and one more, found by key first when asked."""
        window = slice(offset, offset + self.limit + 1)
        if not (keys_first or self.keys_first):
            return list(queryset[window])
        key = self.page_key(view)
        keys = queryset.values_list(key, flat=True)
        if self.matches_first and keys.query.order_by == (key,):
            # The same order, written so that no index yields it: the planner has to find the
            # matches first (by the trigram indexes) and sort them, rather than walk the whole order.
            keys = keys.order_by(Func(F(key), template="(%(expressions)s || '') COLLATE \"C\"",
                                      output_field=CharField()))
        keys = list(keys[window])
        if not keys:
            return []
        if self.rows_for_keys is not None:
            return self.rows_for_keys(keys, queryset.db)
        return list(queryset.filter(**{f"{key}__in": keys}))

    @staticmethod
    def _encode(value) -> str:
        return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")

    @staticmethod
    def _decode(cursor: str) -> str:
        damaged = ValidationError({"cursor": "This cursor is damaged; start again from the first page."})
        try:  # ValueError covers text that is not ASCII, bad base64 and bytes that are not UTF-8
            value = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
        except ValueError:
            raise damaged from None
        if "\x00" in value:  # no key holds one, and PostgreSQL compares none
            raise damaged
        return value

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.next_url})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "format": "uri", "nullable": True},
            },
        }

    def get_schema_operation_parameters(self, view):
        def param(name, description, schema):
            return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

        limit = {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT}
        offset = {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}
        return [
            param("limit", f"Page size, at most {MAX_LIMIT} (default {DEFAULT_LIMIT}).", limit),
            param("max", "Keycloak's name for `limit`.", limit),
            param("offset", "Rows to skip; prefer `cursor` for deep pages.", offset),
            param("first", "Keycloak's name for `offset`.", offset),
            param("cursor", "Opaque position from a `next` link.", {"type": "string"}),
        ]
