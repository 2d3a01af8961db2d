"""A covering index for search pages.

A search over a common term walks the username index in order until a page is full, testing each
entry against the term. With the searched columns (and the key) included, that walk reads the
index alone instead of visiting the table for every entry (the benchmark's search rows measure
it). Search pages find their keys this way, then fetch their rows by key.
"""

from django.db import migrations

from users.migration_ops import postgres_indexes

INDEXES = {
    "user_search_cover": "ON users_user (tenant_id, username) INCLUDE (id, email, first_name, last_name)",
}


class Migration(migrations.Migration):
    dependencies = [("users", "0005_verification_and_magic_tokens")]
    operations = [postgres_indexes(INDEXES)]
