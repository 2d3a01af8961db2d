"""Users per tenant kept by triggers, so that counting everyone is exact and cheap (PostgreSQL).

`COUNT(*)` of a tenant's million users reads a million index entries, which is slow and gets
slower under load (the benchmark's count rows show it). Statement-level triggers add each
statement's delta to one of `TenantUserCount.SLOTS` rows at random; the count is their sum.
Created and filled in one transaction, whose lock on users_user holds writers off meanwhile.
"""

import django.db.models.deletion
from django.db import migrations, models

TRIGGERS = """
CREATE FUNCTION users_user_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM users_tenantusercount;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO users_tenantusercount (tenant_id, slot, users)
        SELECT tenant_id, floor(random() * {slots})::int, count(*) FROM new_rows GROUP BY tenant_id
        ON CONFLICT (tenant_id, slot) DO UPDATE SET users = users_tenantusercount.users + EXCLUDED.users;
    ELSE
        INSERT INTO users_tenantusercount (tenant_id, slot, users)
        SELECT tenant_id, floor(random() * {slots})::int, -count(*) FROM old_rows GROUP BY tenant_id
        ON CONFLICT (tenant_id, slot) DO UPDATE SET users = users_tenantusercount.users + EXCLUDED.users;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION users_user_count_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO users_tenantusercount (tenant_id, slot, users)
    VALUES (NEW.tenant_id, floor(random() * {slots})::int, 1), (OLD.tenant_id, floor(random() * {slots})::int, -1)
    ON CONFLICT (tenant_id, slot) DO UPDATE SET users = users_tenantusercount.users + EXCLUDED.users;
    RETURN NULL;
END $$;

CREATE TRIGGER users_user_count_insert AFTER INSERT ON users_user
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION users_user_count();
CREATE TRIGGER users_user_count_delete AFTER DELETE ON users_user
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION users_user_count();
CREATE TRIGGER users_user_count_truncate AFTER TRUNCATE ON users_user
    FOR EACH STATEMENT EXECUTE FUNCTION users_user_count();
-- A user moved to another tenant (rare): row by row, the condition costs other updates nothing.
CREATE TRIGGER users_user_count_update AFTER UPDATE OF tenant_id ON users_user
    FOR EACH ROW WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id) EXECUTE FUNCTION users_user_count_move();

INSERT INTO users_tenantusercount (tenant_id, slot, users)
SELECT tenant_id, 0, count(*) FROM users_user GROUP BY tenant_id;
"""

DROP = """
DROP TRIGGER users_user_count_insert ON users_user;
DROP TRIGGER users_user_count_delete ON users_user;
DROP TRIGGER users_user_count_truncate ON users_user;
DROP TRIGGER users_user_count_update ON users_user;
DROP FUNCTION users_user_count();
DROP FUNCTION users_user_count_move();
"""

SLOTS = 16  # TenantUserCount.SLOTS when this migration was written


def create_triggers(apps, schema_editor):
    schema_editor.execute(TRIGGERS.replace("{slots}", str(SLOTS)))


def drop_triggers(apps, schema_editor):
    schema_editor.execute(DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('users', '0007_search_cover_lowered_names'),
    ]

    operations = [
        migrations.CreateModel(
            name='TenantUserCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('slot', models.SmallIntegerField()),
                ('users', models.BigIntegerField(default=0)),
                ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                             related_name='+', to='users.tenant')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('tenant', 'slot'), name='tenantusercount_slot')],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
