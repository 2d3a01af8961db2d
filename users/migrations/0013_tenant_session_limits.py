"""A tenant's session limits, which `connect_keycloak` applies to its realm."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('users', '0012_required_actions_and_long_passwords'),
    ]

    operations = [
        migrations.AddField(
            model_name='tenant',
            name='session_limit',
            field=models.PositiveIntegerField(
                default=0, verbose_name='sessions per user',
                help_text='The most Keycloak sessions a user may hold in the realm at once; 0 is no limit.'),
        ),
        migrations.AddField(
            model_name='tenant',
            name='session_limit_per_client',
            field=models.PositiveIntegerField(
                default=0, verbose_name='sessions per user and client',
                help_text='The most sessions a user may hold with any one client; 0 is no limit. Keep it below '
                          'the realm-wide number.'),
        ),
        migrations.AddField(
            model_name='tenant',
            name='session_limit_behavior',
            field=models.CharField(
                choices=[('deny', 'Refuse the new login'), ('end_oldest', 'End the oldest session')],
                default='deny', max_length=16, verbose_name='over the limit',
                help_text='What a login over a limit does. Run connect_keycloak to apply a change to the realm.'),
        ),
    ]
