"""AMQP plumbing shared by the relay, the command consumer and `watch_events`: connections, the
exchanges of the catalogue, and CloudEvents 1.0 in binary content mode (the `cloudevents`
package's RabbitMQ binding's layout): attributes in `ce-*` headers, the JSON payload as the body.
"""

import json

import pika
from cloudevents.core.bindings import rabbitmq
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from django.conf import settings

from .catalogue import EXCHANGES

CONTENT_TYPE = "application/json"
_FORMAT = JSONFormat()


def connect(url: str | None = None) -> pika.BlockingConnection:
    parameters = pika.URLParameters(url or settings.EVENTS_BROKER_URL)
    parameters.heartbeat = 30
    parameters.blocked_connection_timeout = 60
    parameters.connection_attempts = 1
    parameters.socket_timeout = 5
    return pika.BlockingConnection(parameters)


def declare_exchanges(channel):
    """Durable topic exchanges, as the former services declared them."""
    for name in EXCHANGES:
        channel.exchange_declare(exchange=name, exchange_type="topic", durable=True)


def encode(row, source: str | None = None) -> rabbitmq.RabbitMQMessage:
    """An outbox row as a binary-mode CloudEvent: ce-id is the row's id, ce-subject its aggregate.

    The headers are what the `cloudevents` binding writes for such an event (a test holds them
    equal), built here without its per-event validation, and the body is the row's JSON text as
    PostgreSQL returns it: the relay pays for neither a CloudEvent object nor a JSON round trip."""
    time = row.created_at.isoformat()
    if time.endswith("+00:00"):
        time = time[:-6] + "Z"
    headers = {"ce-id": str(row.id), "ce-source": source or settings.EVENTS_SOURCE, "ce-type": row.type,
               "ce-specversion": "1.0", "ce-subject": row.aggregate_id, "ce-time": time, "ce-tenant": row.tenant}
    body = row.payload if isinstance(row.payload, bytes) else row.payload.encode()
    return rabbitmq.RabbitMQMessage(headers, CONTENT_TYPE, body)


def decode(properties: pika.BasicProperties, body: bytes) -> CloudEvent:
    """A binary-mode CloudEvent; raises ValueError when the message is not one (or its JSON is bad)."""
    headers = {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in (properties.headers or {}).items()}
    missing = [name for name in ("ce-id", "ce-type", "ce-source", "ce-specversion") if name not in headers]
    if missing:
        raise ValueError(f"not a CloudEvent: no {', '.join(missing)} header")
    if (properties.content_type or CONTENT_TYPE) != CONTENT_TYPE:
        raise ValueError(f"content type {properties.content_type!r}, not {CONTENT_TYPE}")
    try:
        json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"malformed JSON: {error}") from None
    try:
        return rabbitmq.from_binary(rabbitmq.RabbitMQMessage(headers, properties.content_type, body), _FORMAT)
    except Exception as error:  # the package's own validation errors
        raise ValueError(f"not a CloudEvent: {error}") from None
