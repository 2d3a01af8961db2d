"""Pages in an order the caller chose (`order=`), for the BPM engine's sorted queries."""

from identity.api.pagination import KeysetOrOffsetPagination


class OrderedPagination(KeysetOrOffsetPagination):
    """The view's `ordering` (from `order=`) when it has one, paged by offset: a cursor holds the
    default order's column only, so an ordered page's `next` link is an offset."""

    def ordered(self, queryset, view):
        ordering = getattr(view, "ordering", None)
        return queryset.order_by(*ordering) if ordering else super().ordered(queryset, view)

    def keyset_page(self, queryset, view):
        if getattr(view, "ordering", None):
            return self.offset_page(queryset, view)
        return super().keyset_page(queryset, view)
