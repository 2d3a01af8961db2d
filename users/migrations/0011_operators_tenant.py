"""At most one tenant is the operators' tenant: only its users can be staff of the admin.

Until now `createsuperuser` put operators in the `default` tenant, so that tenant, where it exists,
becomes the operators' tenant and their password sign-in keeps working. A deployment whose admin
single sign-on used another tenant's realm is refused at start until that is put right (README,
"Operators' rights").
"""

from django.db import migrations, models
from django.db.models import Q


def default_is_the_operators_tenant(apps, schema_editor):
    apps.get_model("users", "Tenant").objects.filter(slug="default").update(is_operators=True)


class Migration(migrations.Migration):

    dependencies = [
        ('users', '0010_external_ids'),
    ]

    operations = [
        migrations.AddField(
            model_name='tenant',
            name='is_operators',
            field=models.BooleanField(
                default=False, verbose_name="operators' tenant",
                help_text="The one tenant whose users may be operators of the admin; read-only through /v1."),
        ),
        migrations.AddConstraint(
            model_name='tenant',
            constraint=models.UniqueConstraint(condition=Q(is_operators=True), fields=('is_operators',),
                                               name='tenant_one_operators_tenant'),
        ),
        migrations.RunPython(default_is_the_operators_tenant, migrations.RunPython.noop),
    ]
