"""The shared cache (throttle counters) lives in the database, so every process sees one count."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("users", "0002_search_indexes")]
    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
