"""The provisioning client's own id of users and groups (SCIM `externalId`).

Unique per tenant when set (partial unique indexes), and collated "C" like usernames, so the same
btree serves exact lookups, prefixes and order. Adding a nullable column rewrites no rows.
"""

import users.fields
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('users', '0009_pending_email_and_phone'),
    ]

    operations = [
        migrations.AddField(
            model_name='group',
            name='external_id',
            field=users.fields.ByteOrderCharField(blank=True, max_length=255, null=True),
        ),
        migrations.AddField(
            model_name='user',
            name='external_id',
            field=users.fields.ByteOrderCharField(blank=True, max_length=255, null=True),
        ),
        migrations.AddConstraint(
            model_name='group',
            constraint=models.UniqueConstraint(condition=models.Q(('external_id__isnull', False)), fields=('tenant', 'external_id'), name='group_external_id_per_tenant'),
        ),
        migrations.AddConstraint(
            model_name='user',
            constraint=models.UniqueConstraint(condition=models.Q(('external_id__isnull', False)), fields=('tenant', 'external_id'), name='user_external_id_per_tenant'),
        ),
    ]
