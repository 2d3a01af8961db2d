"""Receivers connected in `ProfilesConfig.ready()`; each hands over to `profiles.services`."""

from . import services


def create_fan_profile(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        services.create_fan_profile(instance)


def release_follows(sender, instance, **kwargs):
    """A fan profile deleted with its user leaves the follower counts of whom it followed."""
    services.release_follows_of(instance)
