from django.apps import AppConfig


class ProfilesConfig(AppConfig):
    name = "profiles"

    def ready(self):
        from django.conf import settings
        from django.db.models.signals import post_save, pre_delete

        from . import signals
        from .models import FanProfile

        # Every user created (API, admin, Keycloak's provider) gets a fan profile in the same
        # transaction, as Keycloak's register event did in the former Fan service.
        post_save.connect(signals.create_fan_profile, sender=settings.AUTH_USER_MODEL,
                          dispatch_uid="profiles.create_fan_profile")
        pre_delete.connect(signals.release_follows, sender=FanProfile, dispatch_uid="profiles.release_follows")
