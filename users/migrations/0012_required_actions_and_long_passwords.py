"""Room for what a Keycloak import brings: required actions, and hashes longer than Django's 128.

Widening a varchar rewrites nothing in PostgreSQL; the new column's default stays in the database,
so that SQL writers that do not name it (the benchmark's seeding) still insert rows.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('users', '0011_operators_tenant'),
    ]

    operations = [
        migrations.AlterField(
            model_name='user',
            name='password',
            field=models.CharField(max_length=255, verbose_name='password'),
        ),
        migrations.AddField(
            model_name='user',
            name='required_actions',
            field=models.JSONField(blank=True, db_default=[], default=list),
        ),
    ]
