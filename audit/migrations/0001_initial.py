"""The audit trail, append-only in the database: any UPDATE or DELETE of its rows raises.

A trigger, not only the code, so that no path (a raw query, a shell, a future bug) rewrites
history: each such statement is refused, whatever rows it names. TRUNCATE is not: it needs the
table owner's rights (the tests empty their databases that way), so production should run as a
role that does not own the table.
"""

import django.core.serializers.json
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

APPEND_ONLY = """
CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
"""
DROP_TRIGGER = """
DROP TRIGGER audit_event_append_only ON audit_auditevent;
DROP FUNCTION audit_event_append_only();
"""


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('users', '0008_tenant_user_count'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('time', models.DateTimeField(default=django.utils.timezone.now)),
                ('actor_kind', models.CharField(choices=[('api_client', 'API client'), ('person', 'Person (Keycloak token)'), ('operator', 'Operator (admin)'), ('keycloak', 'Keycloak provider'), ('system', 'System (commands, jobs)')], max_length=16)),
                ('actor_id', models.CharField(blank=True, default='', help_text="The API client's id, or the person's or operator's user id.", max_length=64)),
                ('actor_display', models.CharField(blank=True, default='', help_text="The API client's name, or the person's or operator's username.", max_length=255)),
                ('action', models.CharField(help_text='Such as user.updated or user.roles_changed.', max_length=64)),
                ('object_type', models.CharField(max_length=64)),
                ('object_id', models.CharField(max_length=64)),
                ('changes', models.JSONField(blank=True, default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder, help_text='Per field {"old", "new"}; secret fields only {"redacted": true}.')),
                ('ip', models.GenericIPAddressField(blank=True, null=True)),
                ('request_id', models.CharField(blank=True, default='', max_length=128)),
                ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='users.tenant')),
            ],
            options={
                'indexes': [models.Index(fields=['tenant', '-time', '-id'], name='audit_by_tenant_time'), models.Index(fields=['tenant', 'object_id', '-time', '-id'], name='audit_by_object')],
            },
        ),
        migrations.RunSQL(APPEND_ONLY, DROP_TRIGGER),
    ]
