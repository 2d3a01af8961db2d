"""Inbound commands: `AddRoleToUser` and `UpdateUserPii` from the `users` exchange, applied through
`users.services`, exactly once in effect.

Commands are CloudEvents in binary mode, as the backend publishes: `ce-id` is the message id,
`ce-type` the command, the `tenant` extension (`ce-tenant`) the tenant the sender acts for, and the
JSON body the catalogue's payload (`events.catalogue`). A command is applied in one transaction
with the insertion of its id into `ProcessedMessage`: a delivery whose id is there already (a
redelivery, a sender's retry) changes nothing and is acknowledged.

A command that can never apply (not a CloudEvent, malformed JSON, a wrong payload, an unknown
command, user or role, a user of another tenant, a change the services refuse) goes to the
dead-letter queue `<EVENTS_COMMANDS_QUEUE>.dead-letter` with the reason in the `x-reason` header
and is acknowledged: it is never requeued. Only a database that cannot be reached makes the
consumer put a message back, after a pause, since then no message can apply.
"""

import logging
import time
import uuid

from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, close_old_connections, connection, transaction

from audit.context import Actor, acting
from audit.models import ActorKind
from identity.errors import Conflict
from users import services
from users.models import Role, User

from . import amqp
from .catalogue import BY_NAME, MESSAGES

log = logging.getLogger("events.commands")
COMMANDS = [m for m in MESSAGES if m.command]
REASON_HEADER = "x-reason"


class Rejected(Exception):
    """The message can never apply: it goes to the dead-letter queue with this reason."""


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dead-letter"


def declare(channel, queue: str):
    """The commands' queue, bound to the `users` exchange for each command, and its dead letters."""
    amqp.declare_exchanges(channel)
    channel.queue_declare(queue=queue, durable=True)
    channel.queue_declare(queue=dead_letter_queue(queue), durable=True)
    for message in COMMANDS:
        channel.queue_bind(queue=queue, exchange=message.exchange, routing_key=message.key)


def _payload(message, data) -> dict:
    if not isinstance(data, dict):
        raise Rejected("malformed payload: a JSON object is expected")
    unknown = sorted(set(data) - set(message.fields))
    if unknown:
        raise Rejected(f"malformed payload: unknown fields {', '.join(unknown)}")
    missing = sorted(set(message.fields) - message.optional - set(data))
    if missing:
        raise Rejected(f"malformed payload: missing fields {', '.join(missing)}")
    try:
        data["userId"] = uuid.UUID(str(data["userId"]))
    except ValueError:
        raise Rejected("malformed payload: userId is not a UUID") from None
    for name, value in data.items():
        nullable = "null" in message.fields[name]["type"]
        if name != "userId" and not (isinstance(value, str) or (value is None and nullable)):
            raise Rejected(f"malformed payload: {name} must be a string{' or null' if nullable else ''}")
    return data


def _user(tenant: str, user_id) -> User:
    user = User.objects.select_related("tenant").filter(pk=user_id).first()
    if user is None:
        raise Rejected(f"unknown user {user_id}")
    if user.tenant.slug != tenant:
        raise Rejected(f"wrong tenant: user {user_id} is not a user of tenant {tenant!r}")
    return user


def _add_role(user: User, data: dict):
    role = Role.objects.filter(tenant_id=user.tenant_id, name=data["role"]).first()
    if role is None:
        raise Rejected(f"unknown role {data['role']!r} in tenant {user.tenant.slug!r}")
    services.add_user_role(user, role)


_PII = {"firstName": "first_name", "lastName": "last_name", "email": "email", "phoneNumber": "phone_number"}


def _update_pii(user: User, data: dict):
    changes = {_PII[name]: value for name, value in data.items() if name in _PII}
    if not changes:
        raise Rejected("malformed payload: no field to change")
    if "email" in changes:
        changes["email"] = services.normalise_email(changes["email"])
    if "phone_number" in changes:
        changes["phone_number"] = services.normalise_phone(changes["phone_number"])
    services.update_user(user, changes)


APPLY = {"AddRoleToUser": _add_role, "UpdateUserPii": _update_pii}


def apply(properties, body: bytes) -> str:
    """Apply one delivery; "applied" or "duplicate", or raises `Rejected`."""
    try:
        event = amqp.decode(properties, body)
    except ValueError as error:
        raise Rejected(str(error)) from None
    message = BY_NAME.get(event.get_type())
    if message is None or not message.command:
        raise Rejected(f"unknown command {event.get_type()!r}")
    tenant = event.get_extension("tenant")
    if not tenant:
        raise Rejected("no tenant: the ce-tenant header names the tenant the sender acts for")
    data = _payload(message, event.get_data())
    message_id = event.get_id()
    if len(message_id) > 255:
        raise Rejected("malformed message id: longer than 255 characters")
    actor = Actor(ActorKind.SYSTEM, "consume_commands", f"{message.name} from {event.get_source()}"[:255])
    try:
        with acting(actor), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO events_processedmessage (id, type, processed_at) VALUES (%s, %s, now()) "
                               "ON CONFLICT (id) DO NOTHING RETURNING id", [message_id, message.name])
                if cursor.fetchone() is None:
                    return "duplicate"
            APPLY[message.name](_user(tenant, data["userId"]), data)
    except ValidationError as error:
        raise Rejected(f"refused: {'; '.join(error.messages)}") from None
    except Conflict as error:
        raise Rejected(f"refused: {error}") from None
    return "applied"


class Consumer:
    def __init__(self, broker_url: str, queue: str, *, pause: float = 5):
        self.broker_url = broker_url
        self.queue = queue
        self.pause = pause

    def run(self, limit: int | None = None, idle_timeout: float | None = None):
        """Consume until stopped, after `limit` deliveries or after `idle_timeout` seconds without
        one; reconnects after broker failures."""
        import pika.exceptions

        handled, idle_since = 0, time.monotonic()
        while limit is None or handled < limit:
            if idle_timeout is not None and time.monotonic() - idle_since > idle_timeout:
                return
            try:
                conn = amqp.connect(self.broker_url)
                channel = conn.channel()
                declare(channel, self.queue)
                dead = conn.channel()
                dead.confirm_delivery()
                channel.basic_qos(prefetch_count=20)
                for method, properties, body in channel.consume(self.queue, inactivity_timeout=1):
                    if method is None:
                        if idle_timeout is not None and time.monotonic() - idle_since > idle_timeout:
                            break
                        continue
                    self.handle(channel, dead, method, properties, body)
                    handled, idle_since = handled + 1, time.monotonic()
                    if limit is not None and handled >= limit:
                        break
                conn.close()
            except (pika.exceptions.AMQPError, OSError) as error:
                log.warning("broker: %s: %s; reconnecting in %.0f s", type(error).__name__, error, self.pause)
                time.sleep(self.pause)

    def handle(self, channel, dead, method, properties, body):
        try:
            outcome = apply(properties, body)
            log.info("%s %s: %s", (properties.headers or {}).get("ce-type"), (properties.headers or {}).get("ce-id"),
                     outcome)
        except Rejected as rejected:
            self.dead_letter(dead, method, properties, body, str(rejected))
        except (OperationalError, InterfaceError) as error:
            log.warning("database: %s; the message goes back in %.0f s", error, self.pause)
            close_old_connections()
            time.sleep(self.pause)
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        except Exception as error:  # a bug must not stop the other messages
            log.exception("command failed")
            self.dead_letter(dead, method, properties, body, f"error: {type(error).__name__}: {error}")
        channel.basic_ack(method.delivery_tag)

    def dead_letter(self, dead, method, properties, body, reason: str):
        import pika

        log.warning("dead letter: %s", reason)
        headers = {**(properties.headers or {}), REASON_HEADER: reason[:1000],
                   "x-original-exchange": method.exchange, "x-original-routing-key": method.routing_key}
        dead.basic_publish("", dead_letter_queue(self.queue), body, pika.BasicProperties(
            headers=headers, content_type=properties.content_type, delivery_mode=pika.DeliveryMode.Persistent,
            message_id=properties.message_id, type=properties.type))
