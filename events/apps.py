import logging

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events (outbox)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.conf import settings

        from audit import recording

        from . import outbox

        from django.db.models.signals import post_save

        if outbox.on_recorded not in recording.LISTENERS:
            recording.LISTENERS.append(outbox.on_recorded)
        post_save.connect(outbox.forget_tenant_slugs, sender="users.Tenant", dispatch_uid="events.forget_tenant_slugs")
        if not settings.EVENTS_BROKER_URL:
            logging.getLogger("events").warning(
                "EVENTS_BROKER_URL is not set: events are off. Changes still write their events to the outbox, "
                "and nothing publishes them until a relay runs with a broker.")
