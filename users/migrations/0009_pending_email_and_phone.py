"""A person's new e-mail address or phone number waits as pending until a proof promotes it.

Nullable columns without a default: PostgreSQL adds them without rewriting the table.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('users', '0008_tenant_user_count'),
    ]

    operations = [
        migrations.AddField(
            model_name='user',
            name='pending_email',
            field=models.CharField(blank=True, max_length=254, null=True),
        ),
        migrations.AddField(
            model_name='user',
            name='pending_phone_number',
            field=models.CharField(blank=True, max_length=20, null=True),
        ),
    ]
