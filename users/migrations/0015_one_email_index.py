"""One index for e-mail: the unique one, no longer partial, also orders a tenant's users by e-mail.

The unique e-mail index was partial (addresses only), so 0014 added a second, full `(tenant_id,
email)` index to order every user. PostgreSQL's unique indexes treat NULLs as distinct, so a full
unique index enforces the same rule (one user per address, any number without one) and orders
every user as well: the second index was the same keys again, kept up on every write and built at
every bulk load.
"""

from django.db import migrations, models

from users.migration_ops import postgres_indexes

_ordering = postgres_indexes({"user_tenant_email": "ON users_user (tenant_id, email)"})


class Migration(migrations.Migration):
    dependencies = [("users", "0014_engine_orders")]
    operations = [
        migrations.RemoveConstraint(model_name="user", name="user_email_per_tenant"),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(fields=["tenant", "email"], name="user_email_per_tenant"),
        ),
        migrations.RunPython(_ordering.reverse_code, _ordering.code),
    ]
