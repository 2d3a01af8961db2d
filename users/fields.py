from django.db import models


class ByteOrderCharField(models.CharField):
    """A CharField collated "C".

    With byte-order collation one plain btree index serves equality, `LIKE 'prefix%'` and
    `ORDER BY`; under a linguistic collation LIKE needs a second `text_pattern_ops` index that
    cannot sort.
    """

    def db_parameters(self, connection):
        return {**super().db_parameters(connection), "collation": "C"}
