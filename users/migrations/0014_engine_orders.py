"""Indexes for the BPM engine's sorted queries (users by e-mail or id, groups by name).

The unique e-mail index is partial (addresses only), so it cannot order every user; ids are
unique across tenants, so the primary key orders a tenant's users only by walking all of them.
"""

from django.db import migrations

from users.migration_ops import postgres_indexes

INDEXES = {
    "user_tenant_email": "ON users_user (tenant_id, email)",
    "user_tenant_id": "ON users_user (tenant_id, id)",
    "group_name_lower": 'ON users_group (tenant_id, (lower(name) COLLATE "C"))',
}


class Migration(migrations.Migration):
    dependencies = [("users", "0013_tenant_session_limits")]
    operations = [postgres_indexes(INDEXES)]
