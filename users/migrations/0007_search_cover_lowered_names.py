"""The search cover index holds names lowered.

A search page over a common term walks this index in username order, testing each entry against
the term, and lowering the first and last name of each entry cost most of the walk. As key columns after
the username (which alone orders and is unique), the lowered names are read from the index, and
the order and the index-only walk stay as they were.
"""

from django.db import migrations

from users.migration_ops import postgres_indexes

BEFORE = {
    "user_search_cover": "ON users_user (tenant_id, username) INCLUDE (id, email, first_name, last_name)",
}
AFTER = {
    "user_search_cover": 'ON users_user (tenant_id, username, (lower(first_name) COLLATE "C"), '
                         '(lower(last_name) COLLATE "C")) INCLUDE (id, email, first_name, last_name)',
}
_before = postgres_indexes(BEFORE)


class Migration(migrations.Migration):
    dependencies = [("users", "0006_search_cover_index")]
    operations = [
        migrations.RunPython(_before.reverse_code, _before.code),  # drop the old definition
        postgres_indexes(AFTER),
    ]
