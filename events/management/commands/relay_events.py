"""Publish the outbox to RabbitMQ until stopped (see `events.relay`); one per deployment suffices,
a second is harmless."""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events.relay import Relay


class Command(BaseCommand):
    help = "Publish outbox events to RabbitMQ (EVENTS_BROKER_URL), in order per aggregate, until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--broker-url", default=None, help="Instead of EVENTS_BROKER_URL.")

    def handle(self, *args, broker_url=None, **options):
        url = broker_url or settings.EVENTS_BROKER_URL
        if not url:
            raise CommandError("Events are off: set EVENTS_BROKER_URL (amqp://…) or give --broker-url.")
        relay = Relay(url)

        def stop(signum, frame):
            relay.stopping = True

        signal.signal(signal.SIGTERM, stop)
        try:
            relay.run()
        except KeyboardInterrupt:
            pass
