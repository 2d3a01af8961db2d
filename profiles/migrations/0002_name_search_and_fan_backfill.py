"""PostgreSQL trigram indexes behind the celebrity name search, and fan profiles for existing users.

Names are matched as `lower(name) COLLATE "C"` (the expressions of `profiles/search.py`'s
search, as in `users/search.py`); pg_trgm serves substrings and prefixes alike.
Users created before this app existed get their fan profile here; new users get one on creation.
"""

from django.db import migrations

from users.migration_ops import postgres_indexes

INDEXES = {
    f"celeb_{column}_trgm": f'ON profiles_celebrityprofile USING gin ((lower({column}) COLLATE "C") gin_trgm_ops)'
    for column in ("display_name", "first_name", "last_name")
}


BACKFILL = """
INSERT INTO profiles_fanprofile (fan_user_id, tenant_id, created_on, metadata, fan_profile_exclusively)
SELECT u.id, u.tenant_id, CURRENT_TIMESTAMP, '', FALSE FROM users_user u
WHERE NOT EXISTS (SELECT 1 FROM profiles_fanprofile f WHERE f.fan_user_id = u.id)
"""


class Migration(migrations.Migration):
    dependencies = [("profiles", "0001_initial"), ("users", "0002_search_indexes")]
    operations = [
        postgres_indexes(INDEXES),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
