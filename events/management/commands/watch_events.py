"""Print the events of the catalogue's exchanges as they arrive (a queue of its own, gone on exit)."""

import json

import pika.exceptions

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events import amqp
from events.catalogue import EXCHANGES


class Command(BaseCommand):
    help = "Print every message published on the events exchanges as it arrives (Ctrl-C stops)."

    def add_arguments(self, parser):
        parser.add_argument("--broker-url", default=None, help="Instead of EVENTS_BROKER_URL.")
        parser.add_argument("--exchange", action="append", choices=sorted(EXCHANGES),
                            help="Only these exchanges (repeatable); all by default.")
        parser.add_argument("--count", type=int, default=None, help="Stop after this many messages.")

    def handle(self, *args, broker_url=None, exchange=None, count=None, **options):
        url = broker_url or settings.EVENTS_BROKER_URL
        if not url:
            raise CommandError("Events are off: set EVENTS_BROKER_URL (amqp://…) or give --broker-url.")
        connection = amqp.connect(url)
        channel = connection.channel()
        amqp.declare_exchanges(channel)
        queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        for name in exchange or EXCHANGES:
            channel.queue_bind(queue=queue, exchange=name, routing_key="#")
        self.stderr.write(f"watching {', '.join(exchange or EXCHANGES)} (Ctrl-C stops)")
        seen = 0
        try:
            for method, properties, body in channel.consume(queue, auto_ack=True):
                headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in (properties.headers or {}).items()}
                try:
                    data = json.loads(body)
                except ValueError:
                    data = body.decode(errors="replace")
                self.stdout.write(json.dumps({
                    "exchange": method.exchange, "routing_key": method.routing_key, "id": headers.get("ce-id"),
                    "type": headers.get("ce-type"), "subject": headers.get("ce-subject"),
                    "tenant": headers.get("ce-tenant"), "time": headers.get("ce-time"), "data": data}))
                self.stdout.flush()
                seen += 1
                if count is not None and seen >= count:
                    break
        except KeyboardInterrupt:
            pass
        except pika.exceptions.AMQPConnectionError as error:
            raise CommandError(f"The broker closed the connection: {error}") from None
        finally:
            if connection.is_open:
                connection.close()
