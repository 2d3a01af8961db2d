from django.db import models


class ByteOrderCharField(models.CharField):
    """A CharField collated "C" on PostgreSQL.

    With byte-order collation one plain btree index serves equality, `LIKE 'prefix%'` and
    `ORDER BY`; under a linguistic collation LIKE needs a second `text_pattern_ops` index that
    cannot sort. Other databases keep their default collation (SQLite has no "C").
    """

    def db_parameters(self, connection):
        params = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params
