"""The relay: outbox rows to RabbitMQ, at least once, in order per aggregate.

Each round is one database transaction on the relay's own connection. One statement claims, with
`FOR UPDATE SKIP LOCKED`, the oldest unsent row of each aggregate whose turn it is (no older
unsent row of the same aggregate), and locks the rows after those heads in their aggregates; the
round publishes them in id order on a channel in publisher-confirm mode (written together, their
confirms awaited together); marks sent what the broker acked, and records the error and the time
of the next try on the rest, in the same transaction. A row is therefore marked sent only after
its ack; a relay that dies between the ack and the commit leaves it unsent, and it goes again
(same id: consumers de-duplicate).

Order: only the relay holding an aggregate's head may publish that aggregate's rows, and an
aggregate whose row failed stops there: its later rows, even those the broker took meanwhile,
stay unsent and go again after it, so the last change of an aggregate is also the last delivered.
A second relay finds every head locked or not yet its turn and publishes other aggregates, or
nothing: it is harmless.

Waking: a transaction that wrote outbox rows notifies `events_outbox` once it has committed
(`events.outbox.wake_relays`). An idle relay LISTENs on a connection of its own, and polls every
EVENTS_RELAY_POLL_SECONDS when no notification comes; one round answers every notification queued
before it. A round starts at least EVENTS_RELAY_LINGER_MS after the previous one started: a lone
commit goes at once, and under load each round takes the commits of a linger rather than one,
which is what a round's fixed cost (statements, commit, confirms) is shared by. A relay whose
round published something is busy: it UNLISTENs, and its next round comes a linger after, until a
round finds nothing; it then LISTENs again and runs one more round (for what committed before the
LISTEN) before it waits. Errors (broker or database) back off exponentially up to
EVENTS_RELAY_MAX_BACKOFF_SECONDS.
"""

import contextlib
import logging
import os
import signal
import time

import psycopg
from django.conf import settings
from pamqp import commands

from identity.postgresql import own

from . import amqp
from .catalogue import EXCHANGES
from .outbox import CHANNEL
from .publisher import Publisher

log = logging.getLogger("events.relay")

# For tests only: the relay kills itself after the broker's acks and before it marks rows sent.
CRASH_AFTER_ACK = "EVENTS_RELAY_CRASH_AFTER_ACK"

# Prepared and planned once per connection, so that a round is two round trips (BEGIN and the
# claim; the mark and COMMIT) that PostgreSQL neither parses nor plans again. The plan is made
# when the relay starts, often on an empty outbox, and later met by a table whose statistics say
# anything (all rows unsent at the last ANALYZE, or none): so the rounds' connection forbids what
# only such statistics could make attractive, sequential and bitmap scans, hash and merge joins
# (`enable_* = off`), and each statement has one sensible plan: index scans whose work is the rows
# claimed or marked. Planned at each execution instead, a round cost PostgreSQL 2.3 ms (1 ms of it
# planning, the rest a hash join over every row still in the table); with these plans, 0.4 ms.
# The claim: the oldest unsent row of each aggregate whose turn it is (no older unsent row of the
# same aggregate), locked, then every unsent row of those aggregates in id order, from the
# aggregates' index: nobody else can claim the followers while their heads are locked. Only the
# scan for heads states `attempts >= 0`, the term of the heads' index (`outbox_unsent`): statistics
# that saw every row sent made that narrower index look free, and the lookups by aggregate took it
# and read every unsent row for each head.
_PREPARE = """
    PREPARE relay_claim (int, int) AS
    WITH heads AS MATERIALIZED (
        SELECT o.aggregate_type, o.aggregate_id FROM events_outboxevent o
        WHERE o.sent_at IS NULL AND o.attempts >= 0 AND o.next_attempt_at <= now()
          AND o.id = (SELECT p.id FROM events_outboxevent p
                      WHERE p.sent_at IS NULL AND p.aggregate_type = o.aggregate_type
                        AND p.aggregate_id = o.aggregate_id
                      ORDER BY p.id LIMIT 1)
        ORDER BY o.id LIMIT $1
        FOR UPDATE SKIP LOCKED
    )
    SELECT r.* FROM heads h CROSS JOIN LATERAL (
        SELECT o.id, o.created_at, o.tenant, o.aggregate_type, o.aggregate_id, o.type, o.exchange, o.routing_key,
               o.payload::text, o.attempts
        FROM events_outboxevent o
        WHERE o.sent_at IS NULL AND o.aggregate_type = h.aggregate_type AND o.aggregate_id = h.aggregate_id
        ORDER BY o.id LIMIT $2
        FOR UPDATE
    ) r
    ORDER BY r.id LIMIT $2;
    PREPARE relay_sent (bigint[]) AS UPDATE events_outboxevent SET sent_at = now() WHERE id = ANY($1)
"""
_PLANS = ("-c plan_cache_mode=force_generic_plan -c enable_seqscan=off -c enable_bitmapscan=off "
          "-c enable_hashjoin=off -c enable_mergejoin=off")
_FAILED = """
    UPDATE events_outboxevent SET attempts = attempts + 1, last_error = %s,
           next_attempt_at = now() + make_interval(secs => %s)
    WHERE id = %s
"""


def backoff(failures: int, cap: float) -> float:
    return min(cap, 0.25 * 2 ** max(failures - 1, 0))


class Row:
    """A claimed outbox row; `payload` stays the JSON text PostgreSQL gave, which is the message body."""

    __slots__ = ("id", "created_at", "tenant", "aggregate_type", "aggregate_id", "type", "exchange", "routing_key",
                 "payload", "attempts")

    def __init__(self, values):
        (self.id, self.created_at, self.tenant, self.aggregate_type, self.aggregate_id, self.type, self.exchange,
         self.routing_key, self.payload, self.attempts) = values


def message(row: Row):
    """(exchange, routing key, properties, body) of a claimed row: a binary-mode CloudEvent."""
    encoded = amqp.encode(row)
    return row.exchange, row.routing_key, commands.Basic.Properties(
        headers=encoded.headers, content_type=encoded.content_type, delivery_mode=2, message_id=str(row.id),
        message_type=row.type), encoded.body


class Relay:
    def __init__(self, broker_url: str, *, batch: int | None = None, poll: float | None = None,
                 max_backoff: float | None = None, linger: float | None = None):
        self.batch = batch or settings.EVENTS_RELAY_BATCH
        self.poll = poll if poll is not None else settings.EVENTS_RELAY_POLL_SECONDS
        self.max_backoff = max_backoff if max_backoff is not None else settings.EVENTS_RELAY_MAX_BACKOFF_SECONDS
        self.linger = linger if linger is not None else settings.EVENTS_RELAY_LINGER_MS / 1000
        self.crash_after_ack = os.environ.get(CRASH_AFTER_ACK) == "1"
        self.publisher = Publisher(broker_url)
        self.db = self.listener = None
        self.stopping = False
        self.full = False  # whether the last round took as many rows as it may: more may be waiting
        self.listening = False

    def close(self):
        self.publisher.close()
        for conn in (self.db, self.listener):
            if conn is not None:
                conn.close()
        self.db = self.listener = None
        self.listening = False

    def _database(self) -> psycopg.Connection:
        """The rounds' connection. Its commits do not wait for their WAL flush: a mark lost with a
        crash of PostgreSQL sends its rows again, which at-least-once allows (and every later
        round's mark is lost with it, so the order per aggregate holds)."""
        if self.db is None or self.db.closed:
            self.db = own.connect(autocommit=True, options=f"-c synchronous_commit=off -c timezone=UTC {_PLANS}")
            self.db.execute(_PREPARE)
        return self.db

    def _listen(self, on: bool = True):
        """LISTEN while idle, UNLISTEN while busy: rounds then come once per linger whatever
        notifies, and each commit's NOTIFY would only cost a backend's wake-up and a message (0.07
        ms of PostgreSQL's CPU per commit at 140 commits/s)."""
        try:
            if self.listener is None or self.listener.closed:
                if not on:
                    return
                self.listener = own.connect(autocommit=True)
            if on != self.listening:
                self.listener.execute(f"LISTEN {CHANNEL}" if on else f"UNLISTEN {CHANNEL}")
                self.listening = on
                for _ in self.listener.notifies(timeout=0):  # those queued before: the next round serves them
                    pass
        except psycopg.Error:
            self._lost_listener()
            raise

    def _lost_listener(self):
        if self.listener is not None:
            self.listener.close()
        self.listener, self.listening = None, False

    def _wait(self, seconds: float, not_before: float):
        """Until a notification comes or `seconds` pass, and not before `not_before` (monotonic):
        the notifications that come meanwhile go with it, so one round serves every commit before it."""
        try:
            for _ in self.listener.notifies(timeout=seconds, stop_after=1):
                pass
            pause = not_before - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            for _ in self.listener.notifies(timeout=0):
                pass
        except psycopg.Error:
            self._lost_listener()
            time.sleep(seconds)

    # --- one round ---

    def relay_once(self) -> int:
        """Publish what can go now; the number of rows marked sent. Raises on broker failures, after
        recording them on the rows they stopped."""
        self.publisher.open(EXCHANGES)
        db = self._database()
        try:
            # Without parameters, so that both statements go in one message (their values are ints).
            cursor = db.execute(f"BEGIN; EXECUTE relay_claim({int(self.batch)}, {int(self.batch) * 4})")
            cursor.nextset()
            rows = [Row(values) for values in cursor.fetchall()]
            self.full = len(rows) >= self.batch
            if not rows:
                db.execute("ROLLBACK")
                return 0
            sent, failed = [], {}
            for row, error in zip(rows, self.publisher.publish([message(row) for row in rows])):
                aggregate = (row.aggregate_type, row.aggregate_id)
                if aggregate in failed:
                    continue  # it goes again after the row that failed, in order
                if error is None:
                    sent.append(row.id)
                else:
                    failed[aggregate] = (row, f"{type(error).__name__}: {error}")
            if sent and self.crash_after_ack:
                os.kill(os.getpid(), signal.SIGKILL)
            for row, error in failed.values():
                db.execute(_FAILED, [error[:2000], backoff(row.attempts + 1, self.max_backoff), row.id])
            mark = f"EXECUTE relay_sent('{{{','.join(str(int(id_)) for id_ in sent)}}}'); " if sent else ""
            db.execute(f"{mark}COMMIT")
        except BaseException:
            if not db.closed and db.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                with contextlib.suppress(psycopg.Error):
                    db.execute("ROLLBACK")
            raise
        if failed:
            raise BrokerError(next(iter(failed.values()))[1])
        return len(sent)

    # --- the loop ---

    def run(self):
        failures = 0
        while not self.stopping:
            started = time.monotonic()
            try:
                published = self.relay_once()
                failures = 0
                if published:
                    log.info("published %d", published)
                if self.full:
                    continue
                if published:  # busy: the next round after a linger, without notifications
                    self._listen(False)
                    time.sleep(max(0.0, started + self.linger - time.monotonic()))
                elif not self.listening:
                    self._listen(True)  # then one more round: a commit before the LISTEN notified nobody
                else:
                    # What committed during the round has notified: no need for an empty round to know.
                    self._wait(self.poll, not_before=started + self.linger)
            except psycopg.Error as error:
                failures += 1
                if self.db is not None:
                    self.db.close()
                delay = backoff(failures, self.max_backoff)
                log.warning("database: %s; next try in %.1f s", error, delay)
                time.sleep(delay)
            except Exception as error:  # the broker: refused, lost, nacked, timed out
                failures += 1
                self.publisher.close()
                delay = backoff(failures, self.max_backoff)
                log.warning("broker: %s: %s; next try in %.1f s", type(error).__name__, error, delay)
                time.sleep(delay)
        self.close()


class BrokerError(Exception):
    pass
