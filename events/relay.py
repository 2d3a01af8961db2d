"""The relay: outbox rows to RabbitMQ, at least once, in order per aggregate.

Each round is one database transaction. It claims, with `FOR UPDATE SKIP LOCKED`, the oldest
unsent row of each aggregate whose turn it is (no older unsent row of the same aggregate), then
the rows after those heads in their aggregates; publishes them in id order on a channel in
publisher-confirm mode (written together, their confirms awaited together); marks sent what the
broker acked, and records the error and the time of the next try on the rest, in the same
transaction. A row is therefore marked sent only after its ack; a relay that dies between the ack
and the commit leaves it unsent, and it goes again (same id: consumers de-duplicate).

Order: only the relay holding an aggregate's head may publish that aggregate's rows, and an
aggregate whose row failed stops there: its later rows, even those the broker took meanwhile,
stay unsent and go again after it, so the last change of an aggregate is also the last delivered. A second relay finds every head locked
or not yet its turn and publishes other aggregates, or nothing: it is harmless.

Waking: a transaction that wrote outbox rows notifies `events_outbox` once it has committed
(`events.outbox.wake_relays`); the relay LISTENs on its own connection, and polls every EVENTS_RELAY_POLL_SECONDS when
no notification comes. After a round that took less than it could, it waits for the next
notification rather than running an empty round, and one round answers every notification queued
before it. Errors (broker or database) back off exponentially up to
EVENTS_RELAY_MAX_BACKOFF_SECONDS.
"""

import asyncio
import contextlib
import json
import logging
import os
import signal
import time

import aio_pika
import aio_pika.exceptions
import psycopg
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction

from . import amqp
from .catalogue import EXCHANGES
from .outbox import CHANNEL

log = logging.getLogger("events.relay")

# For tests only: the relay kills itself after the broker's acks and before it marks rows sent.
CRASH_AFTER_ACK = "EVENTS_RELAY_CRASH_AFTER_ACK"

_CLAIM = """
    SELECT o.id FROM events_outboxevent o
    WHERE o.sent_at IS NULL AND o.next_attempt_at <= now()
      AND NOT EXISTS (SELECT 1 FROM events_outboxevent p
                      WHERE p.sent_at IS NULL AND p.aggregate_type = o.aggregate_type
                        AND p.aggregate_id = o.aggregate_id AND p.id < o.id)
    ORDER BY o.id LIMIT %s
    FOR UPDATE SKIP LOCKED
"""
# The rows after the claimed heads: nobody else can claim them while the heads are locked.
_FOLLOWERS = """
    SELECT o.id, o.created_at, o.tenant, o.aggregate_type, o.aggregate_id, o.type, o.exchange, o.routing_key,
           o.payload::text, o.attempts
    FROM events_outboxevent o
    JOIN (SELECT aggregate_type, aggregate_id FROM events_outboxevent WHERE id = ANY(%s)) h
      ON h.aggregate_type = o.aggregate_type AND h.aggregate_id = o.aggregate_id
    WHERE o.sent_at IS NULL
    ORDER BY o.id LIMIT %s
    FOR UPDATE OF o
"""


def backoff(failures: int, cap: float) -> float:
    return min(cap, 0.25 * 2 ** max(failures - 1, 0))


class Row:
    __slots__ = ("id", "created_at", "tenant", "aggregate_type", "aggregate_id", "type", "exchange", "routing_key",
                 "payload", "attempts")

    def __init__(self, values):
        for name, value in zip(self.__slots__, values):
            setattr(self, name, value)
        self.payload = json.loads(self.payload)


class Publisher:
    """A channel in publisher-confirm mode (aio-pika on a private event loop): a batch is written
    at once and its confirms awaited together, rather than one round trip per message."""

    def __init__(self, url: str):
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.connection = self.channel = None
        self.exchanges = {}

    def _run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    @property
    def is_open(self) -> bool:
        return self.channel is not None and not self.channel.is_closed and not self.connection.is_closed

    def open(self):
        if not self.is_open:
            self.close()
            self._run(self._open())
            log.info("connected to the broker")

    async def _open(self):
        self.connection = await aio_pika.connect(self.url, timeout=10)
        self.channel = await self.connection.channel(publisher_confirms=True)
        for name in EXCHANGES:
            self.exchanges[name] = await self.channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)

    def close(self):
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self._run(self.connection.close())
        self.connection = self.channel = None

    def publish(self, rows) -> list:
        """Publish `rows` in order; for each, None once the broker acked it, or the error."""
        return self._run(self._publish(rows))

    async def _publish(self, rows):
        async def one(row):
            message = amqp.encode(row)
            exchange = self.exchanges.get(row.exchange) or await self.channel.declare_exchange(
                row.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
            await exchange.publish(aio_pika.Message(
                message.body, headers=message.headers, content_type=message.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=str(row.id), type=row.type,
            ), row.routing_key, mandatory=False, timeout=30)

        # Tasks start in order and take the channel's lock in order: the broker gets the rows in order.
        results = await asyncio.gather(*(one(row) for row in rows), return_exceptions=True)
        return [result if isinstance(result, BaseException) else None for result in results]


class Relay:
    def __init__(self, broker_url: str, *, batch: int | None = None, poll: float | None = None,
                 max_backoff: float | None = None):
        self.batch = batch or settings.EVENTS_RELAY_BATCH
        self.poll = poll if poll is not None else settings.EVENTS_RELAY_POLL_SECONDS
        self.max_backoff = max_backoff if max_backoff is not None else settings.EVENTS_RELAY_MAX_BACKOFF_SECONDS
        self.crash_after_ack = os.environ.get(CRASH_AFTER_ACK) == "1"
        self.publisher = Publisher(broker_url)
        self.listener = None
        self.stopping = False
        self.full = False  # whether the last round took as many rows as it may: more may be waiting

    def _close_broker(self):
        self.publisher.close()

    def _listen(self):
        if self.listener is None or self.listener.closed:
            params = connection.get_connection_params()
            keep = {k: params[k] for k in ("dbname", "user", "password", "host", "port") if params.get(k)}
            self.listener = psycopg.connect(**keep, autocommit=True)
            self.listener.execute(f"LISTEN {CHANNEL}")
        return self.listener

    def _wait(self, seconds: float):
        """Until a notification comes or `seconds` pass. The notifications already queued go with
        it: one round serves every commit before it, and each would otherwise cost an empty round."""
        try:
            if self.listener is None or self.listener.closed:
                self._listen()
                return  # a round after the LISTEN sees whatever committed before it
            listener = self.listener
            for _ in listener.notifies(timeout=seconds, stop_after=1):
                pass
            for _ in listener.notifies(timeout=0):
                pass
        except psycopg.Error:
            self.listener = None
            time.sleep(seconds)

    # --- one round ---

    def relay_once(self) -> int:
        """Publish what can go now; the number of rows marked sent. Raises on broker failures, after
        recording them on the rows they stopped."""
        self.publisher.open()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(_CLAIM, [self.batch])
                heads = [row[0] for row in cursor.fetchall()]
                if not heads:
                    self.full = False
                    return 0
                cursor.execute(_FOLLOWERS, [heads, self.batch * 4])
                rows = [Row(values) for values in cursor.fetchall()]
            self.full = len(heads) == self.batch or len(rows) == self.batch * 4
            sent, failed = [], {}
            for row, error in zip(rows, self.publisher.publish(rows)):
                aggregate = (row.aggregate_type, row.aggregate_id)
                if aggregate in failed:
                    continue  # it goes again after the row that failed, in order
                if error is None:
                    sent.append(row.id)
                else:
                    failed[aggregate] = (row, f"{type(error).__name__}: {error}")
            if sent and self.crash_after_ack:
                os.kill(os.getpid(), signal.SIGKILL)
            with connection.cursor() as cursor:
                if sent:
                    cursor.execute("UPDATE events_outboxevent SET sent_at = now() WHERE id = ANY(%s)", [sent])
                for row, error in failed.values():
                    cursor.execute(
                        "UPDATE events_outboxevent SET attempts = attempts + 1, last_error = %s, "
                        "next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                        [error[:2000], backoff(row.attempts + 1, self.max_backoff), row.id])
        if failed:
            raise BrokerError(next(iter(failed.values()))[1])
        return len(sent)

    # --- the loop ---

    def run(self):
        failures = 0
        while not self.stopping:
            try:
                published = self.relay_once()
                failures = 0
                if published:
                    log.info("published %d", published)
                if not self.full:
                    # What committed during the round has notified: no need for an empty round to know.
                    self._wait(self.poll)
            except DatabaseError as error:
                failures += 1
                close_old_connections()
                delay = backoff(failures, self.max_backoff)
                log.warning("database: %s; next try in %.1f s", error, delay)
                time.sleep(delay)
            except Exception as error:  # the broker: refused, lost, nacked, timed out
                failures += 1
                self._close_broker()
                delay = backoff(failures, self.max_backoff)
                log.warning("broker: %s: %s; next try in %.1f s", type(error).__name__, error, delay)
                time.sleep(delay)
        self._close_broker()


class BrokerError(Exception):
    pass
