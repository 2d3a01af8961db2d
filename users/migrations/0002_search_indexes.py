"""PostgreSQL indexes behind every search shape (see users/search.py).

Names are compared as `lower(name) COLLATE "C"`: byte order lets one btree serve equality,
`LIKE 'prefix%'` and ORDER BY. Substrings use pg_trgm. The rare side of the flags gets a
partial index; the common side is served by walking the username index in order.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

from users.migration_ops import postgres_indexes

INDEXES = {
    "user_first_name_lower": 'ON users_user (tenant_id, (lower(first_name) COLLATE "C"))',
    "user_last_name_lower": 'ON users_user (tenant_id, (lower(last_name) COLLATE "C"))',
    "user_username_trgm": "ON users_user USING gin (username gin_trgm_ops)",
    "user_email_trgm": "ON users_user USING gin (email gin_trgm_ops)",
    "user_first_name_trgm": 'ON users_user USING gin ((lower(first_name) COLLATE "C") gin_trgm_ops)',
    "user_last_name_trgm": 'ON users_user USING gin ((lower(last_name) COLLATE "C") gin_trgm_ops)',
    "user_attributes_gin": "ON users_user USING gin (attributes jsonb_path_ops)",
    "user_disabled": "ON users_user (tenant_id, username) WHERE NOT is_active",
    "user_email_unverified": "ON users_user (tenant_id, username) WHERE NOT email_verified",
}


class Migration(migrations.Migration):
    dependencies = [("users", "0001_initial")]
    operations = [
        TrigramExtension(),
        postgres_indexes(INDEXES),
    ]
