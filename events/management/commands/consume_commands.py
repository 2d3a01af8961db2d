"""Apply the AddRoleToUser and UpdateUserPii commands of the `users` exchange (see `events.commands`)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events.commands import Consumer


class Command(BaseCommand):
    help = "Consume AddRoleToUser and UpdateUserPii from the users exchange and apply each once."

    def add_arguments(self, parser):
        parser.add_argument("--broker-url", default=None, help="Instead of EVENTS_BROKER_URL.")
        parser.add_argument("--queue", default=None, help="Instead of EVENTS_COMMANDS_QUEUE.")

    def handle(self, *args, broker_url=None, queue=None, **options):
        url = broker_url or settings.EVENTS_BROKER_URL
        if not url:
            raise CommandError("Events are off: set EVENTS_BROKER_URL (amqp://…) or give --broker-url.")
        try:
            Consumer(url, queue or settings.EVENTS_COMMANDS_QUEUE).run()
        except KeyboardInterrupt:
            pass
