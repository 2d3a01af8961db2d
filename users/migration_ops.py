"""Migration operations shared by the apps. Kept stable: applied migrations import them."""

from django.db import migrations


def postgres_indexes(indexes: dict[str, str]) -> migrations.RunPython:
    """Create (and on reverse drop) `CREATE INDEX <name> <definition>`: expression, trigram and
    partial indexes written in PostgreSQL's own terms, which Django's index classes cannot say."""

    def create(apps, schema_editor):
        for name, definition in indexes.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} {definition}")

    def drop(apps, schema_editor):
        for name in indexes:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")

    return migrations.RunPython(create, drop)
