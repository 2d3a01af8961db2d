"""The relays are woken after the commit (`events.outbox.wake_relays`), no longer by a trigger
whose NOTIFY held PostgreSQL's notification lock through each writing transaction's WAL flush."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("events", "0001_outbox")]

    operations = [
        migrations.RunSQL(
            """
            DROP TRIGGER events_outbox_notify ON events_outboxevent;
            DROP FUNCTION events_outbox_notify();
            """,
            """
            CREATE FUNCTION events_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('events_outbox', '');
                RETURN NULL;
            END $$;
            CREATE TRIGGER events_outbox_notify AFTER INSERT ON events_outboxevent
                FOR EACH STATEMENT EXECUTE FUNCTION events_outbox_notify();
            """,
        ),
    ]
