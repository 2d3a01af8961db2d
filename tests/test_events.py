"""Domain events against a real RabbitMQ: the outbox, the relay, CloudEvents on the wire, the
inbound commands and the AsyncAPI document.

One private RabbitMQ node serves the session (`events.broker_server`, the `broker` fixture of
`tests/conftest.py`, started by the first test that needs it). The relay runs as `manage.py
relay_events` in its own process (`tests/broker.py`) where a test stops the broker, kills the relay
or runs two, and in this process otherwise.
"""

import contextlib
import datetime
import json
import signal
import time
import uuid
from pathlib import Path

import pika
import pika.exceptions
import pytest
import yaml
from cloudevents.core.bindings import rabbitmq
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from django.db import connection, transaction
from django.utils import timezone
from pamqp.commands import Basic

from audit.models import AuditEvent
from events import amqp, asyncapi, commands, outbox
from events.catalogue import BY_NAME, FROM_ACTIONS
from events.models import OutboxEvent, ProcessedMessage
from events.publisher import Publisher
from events.relay import CRASH_AFTER_ACK, Relay, Row
from identity.postgresql import own
from profiles import services as profile_services
from tests.broker import relay_process, stop
from tests.factories import RoleFactory
from users import services
from users.models import User

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def amqp_channel(broker):
    conn = amqp.connect(broker.url)
    channel = conn.channel()
    amqp.declare_exchanges(channel)
    queues = []

    def subscribe(exchange, routing_key="#", durable=False):
        queue = f"test.{uuid.uuid4().hex[:12]}"
        channel.queue_declare(queue, durable=durable, auto_delete=False)
        channel.queue_bind(queue, exchange, routing_key)
        queues.append(queue)
        return queue

    channel.subscribe = subscribe
    yield channel
    with contextlib.suppress(pika.exceptions.AMQPError):  # it may have died with the broker
        conn.close()
    cleanup = amqp.connect(broker.url)
    channel = cleanup.channel()
    for queue in queues:
        channel.queue_delete(queue)
    cleanup.close()


def take(channel, queue, count, timeout=60.0):
    """Up to `count` messages from `queue`, as they come within `timeout` seconds; the rest stay."""
    got, deadline = [], time.monotonic() + timeout
    channel.basic_qos(prefetch_count=min(max(count, 1), 1000))
    for method, properties, body in channel.consume(queue, inactivity_timeout=0.2):
        if method is not None:
            got.append((method, properties, body))
            if len(got) % 500 == 0 or len(got) >= count:
                channel.basic_ack(method.delivery_tag, multiple=True)
        if len(got) >= count or time.monotonic() > deadline:
            break
    if got and len(got) % 500 and len(got) < count:
        channel.basic_ack(got[-1][0].delivery_tag, multiple=True)
    channel.cancel()  # what it fetched ahead goes back to the queue
    return got


def relay_all(broker):
    relay = Relay(broker.url, poll=0.1, max_backoff=0.5)
    while relay.relay_once():
        pass
    relay.close()


def headers(properties):
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in (properties.headers or {}).items()}


# --- outbox and format --------------------------------------------------------------------------


def test_a_committed_change_gives_exactly_one_message(broker, amqp_channel, tenant, api):
    user = services.create_user(tenant, username="ann", email="ann@example.com")
    relay_all(broker)
    queue = amqp_channel.subscribe("users")

    response = api.patch(f"/v1/users/{user.id}", {"first_name": "Annie"}, format="json")

    assert response.status_code == 200
    row = OutboxEvent.objects.get(type="UserPiiUpdated", sent_at__isnull=True)
    relay_all(broker)
    messages = take(amqp_channel, queue, 1, timeout=10)
    assert len(messages) == 1 and take(amqp_channel, queue, 1, timeout=1) == []
    method, properties, body = messages[0]
    assert method.exchange == "users" and method.routing_key == "UserPiiUpdated"
    assert properties.content_type == "application/json"
    ce = headers(properties)
    assert ce["ce-id"] == str(row.id) and ce["ce-type"] == "UserPiiUpdated" and ce["ce-specversion"] == "1.0"
    assert ce["ce-subject"] == str(user.id) and ce["ce-tenant"] == "acme" and ce["ce-source"] == "/identity-backend"
    assert ce["ce-time"].startswith(str(row.created_at.year))
    payload = json.loads(body)
    assert payload["userId"] == str(user.id) and payload["firstName"] == "Annie"
    assert payload["changedFields"] == ["first_name"] and payload["email"] == "ann@example.com"
    assert OutboxEvent.objects.get(pk=row.pk).sent_at is not None


def test_the_relays_encoding_is_the_cloudevents_bindings():
    """The relay writes the headers itself and sends the row's JSON text as it is: the same message as
    the `cloudevents` package's binding makes of the event, header for header and value for value."""
    created = datetime.datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=datetime.timezone.utc)
    payload = {"userId": "u-1", "firstName": "Zoë", "changedFields": ["first_name"], "enabled": True, "n": None}
    row = Row((42, created, "acme", "user", "u-1", "UserPiiUpdated", "users", "UserPiiUpdated",
               json.dumps(payload, ensure_ascii=False), 0))

    message = amqp.encode(row)

    event = CloudEvent(attributes={"id": "42", "source": "/identity-backend", "type": "UserPiiUpdated",
                                   "specversion": "1.0", "subject": "u-1", "time": created,
                                   "datacontenttype": "application/json", "tenant": "acme"}, data=payload)
    expected = rabbitmq.to_binary(event, JSONFormat())
    assert message.headers == expected.headers and message.content_type == expected.content_type
    assert json.loads(message.body) == json.loads(expected.body) == payload
    decoded = amqp.decode(pika.BasicProperties(headers=message.headers, content_type=message.content_type),
                          message.body)
    assert decoded.get_time() == created and decoded.get_data() == payload


def test_a_rolled_back_change_gives_none(broker, amqp_channel, tenant, api):
    user = services.create_user(tenant, username="ann", email="ann@example.com")
    services.create_user(tenant, username="bob", email="bob@example.com")
    relay_all(broker)
    queue = amqp_channel.subscribe("users")

    with pytest.raises(RuntimeError), transaction.atomic():
        services.update_user(user, {"first_name": "Annie"})
        raise RuntimeError("the rest of the change failed")
    refused = api.patch(f"/v1/users/{user.id}", {"email": "bob@example.com"}, format="json")  # a 409

    assert refused.status_code == 409
    assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()
    relay_all(broker)
    assert take(amqp_channel, queue, 1, timeout=1) == []


def test_a_committed_change_wakes_the_relays_once_after_its_commit_and_a_rolled_back_one_never(tenant):
    listener = own.connect(autocommit=True)
    listener.execute(f"LISTEN {outbox.CHANNEL}")
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.create_user(tenant, username="ann", email="ann@example.com")
            raise RuntimeError("the rest of the change failed")
        assert list(listener.notifies(timeout=0.5)) == []

        with transaction.atomic():
            services.create_user(tenant, username="bob", email="bob@example.com")  # UserCreated, FanProfileCreated
            services.update_user(User.objects.get(username="bob"), {"first_name": "Bobby"})
            assert OutboxEvent.objects.filter(sent_at__isnull=True).count() >= 3
            assert list(listener.notifies(timeout=0.5)) == []  # nothing before the commit

        assert len(list(listener.notifies(timeout=5, stop_after=1))) == 1
        assert list(listener.notifies(timeout=0.5)) == []  # one per transaction, however many rows
        trigger = "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'events_outboxevent'::regclass AND NOT tgisinternal"
        with connection.cursor() as cursor:
            cursor.execute(trigger)
            assert cursor.fetchone()[0] == 0  # no NOTIFY inside the writing transaction
    finally:
        listener.close()


def test_the_relays_plans_made_on_an_empty_outbox_stay_index_scans_whatever_its_statistics_say(tenant):
    """The relay plans its statements once, often on an empty outbox, and must not pay for it later:
    the mark's cached plan was a sequential scan of the whole outbox in every round; the claim,
    planned again in every round, chose a hash join over every row once an ANALYZE had seen them
    unsent; planned once on the empty table, its test for an aggregate's older rows read every
    unsent row for each head (5 s a round at a backlog of 16,000); and planned on statistics an
    ANALYZE took of a few aggregates' rows all sent (which a TRUNCATE leaves behind), its lookups
    by aggregate took the heads' narrower index and read every unsent row for each head."""
    OutboxEvent.objects.bulk_create(
        OutboxEvent(tenant=tenant.slug, aggregate_type="user", aggregate_id=str(i % 3), type="UserPiiUpdated",
                    exchange="identity.user", routing_key="x", payload={}, sent_at=timezone.now())
        for i in range(3000))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE events_outboxevent")
        cursor.execute("TRUNCATE events_outboxevent")
    relay = Relay("amqp://unused", poll=0.1)
    db = relay._database()
    try:
        for _ in range(8):
            db.execute("BEGIN; EXECUTE relay_claim(100, 400); EXECUTE relay_sent('{1,2}'); COMMIT")
        for i in range(3000):  # a backlog of several pages, one aggregate per row
            outbox.publish("UserPiiUpdated", tenant_id=tenant.id, subject=uuid.uuid4(),
                           payload={"userId": str(i), "tenant": tenant.slug, "firstName": "x" * 200})
        analysed = "\n".join(row[0] for row in db.execute("EXPLAIN (ANALYZE, BUFFERS) EXECUTE relay_claim(100, 400)"))
        buffers = int(analysed.split("shared hit=")[1].split()[0])
        assert buffers < 3000, analysed  # about ten pages a head; a scan of the backlog per head is 100 times that
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE events_outboxevent")  # statistics that say every row is unsent
        newest = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first()
        OutboxEvent.objects.filter(id__lte=newest - 50).update(sent_at=timezone.now())  # as a relay leaves it
        plans = {name: "\n".join(row[0] for row in db.execute(f"EXPLAIN EXECUTE {call}"))
                 for name, call in (("mark", "relay_sent('{1,2}')"), ("claim", "relay_claim(100, 400)"))}
        assert "events_outboxevent_pkey" in plans["mark"], plans["mark"]
        assert "$1" in plans["mark"], plans["mark"]  # the plan made once, not one per round
        for scan in ("Seq Scan", "Bitmap", "Hash Join", "Merge Join", "Join Filter"):
            assert scan not in plans["claim"] and scan not in plans["mark"], plans
        assert "outbox_unsent on" in plans["claim"] and "outbox_unsent_by_aggregate" in plans["claim"], plans["claim"]
        claimed = db.execute("BEGIN; EXECUTE relay_claim(100, 400)")
        claimed.nextset()
        assert [row[0] for row in claimed.fetchall()] == list(range(newest - 49, newest + 1))
        db.execute("ROLLBACK")
    finally:
        relay.close()


def test_every_recorded_service_action_publishes_a_catalogued_message():
    recorded = {getattr(fn, "audit_action", None) for module in (services, profile_services)
                for fn in vars(module).values() if callable(fn)} - {None}
    assert recorded and recorded <= set(FROM_ACTIONS)
    for names in FROM_ACTIONS.values():
        for name in (names,) if isinstance(names, str) else names:
            assert name in BY_NAME and not BY_NAME[name].command


def _json_type_ok(schema, value):
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    python = {"string": str, "boolean": bool, "integer": int, "array": list, "object": dict, "null": type(None)}
    return any(isinstance(value, python[t]) and not (t == "integer" and isinstance(value, bool)) for t in types)


def test_published_payloads_match_the_asyncapi_document(broker, amqp_channel, tenant):
    """A tour of the services: every row's payload has exactly its message's fields, of their types,
    and what reaches the broker is the document's message on the document's channel."""
    document = yaml.safe_load((ROOT / "identity/asyncapi.yaml").read_text())
    queues = {name: amqp_channel.subscribe(name) for name in document["channels"]}
    fan_user = services.create_user(tenant, username="fan", email="fan@example.com")
    star = services.create_user(tenant, username="star", first_name="Sta", last_name="R")
    role = services.create_role(tenant, "vip")
    services.add_user_role(fan_user, role)
    group = services.create_group(tenant, "fans")
    services.set_user_groups(fan_user, [group.path])
    services.update_group(group, {"name": "friends"})
    services.update_user(fan_user, {"first_name": "Fay"})
    services.set_password(fan_user, "a long enough passphrase 1")
    services.issue_password_reset(fan_user)
    services.record_login(fan_user, client="web", ip="127.0.0.1")
    services.record_registration(fan_user, client="web")
    celebrity = profile_services.create_celebrity(star, bio="hi")
    profile_services.update_celebrity(celebrity, {"bio": "hello"})
    profile_services.create_shortlink(celebrity, "tour", "https://example.com/tour")
    profile_services.toggle_celebrity_deleted(celebrity)
    profile_services.restore_celebrity(celebrity)
    fan = fan_user.fan_profile
    profile_services.follow_celebrity(fan, celebrity, "from a test")
    profile_services.unfollow_celebrity(fan, celebrity)
    profile_services.save_fan_media(fan, uuid.uuid4())
    code = profile_services.create_referral_code(tenant, code="HELLO", limit=3)
    profile_services.redeem_referral_code(tenant, "HELLO")
    profile_services.delete_referral_code(code)
    profile_services.set_global_preference(tenant, "theme", "dark")
    services.deactivate_user(fan_user)
    services.reactivate_user(fan_user)
    services.delete_role(role)
    services.delete_group(group)
    services.delete_user(fan_user)

    rows = list(OutboxEvent.objects.order_by("id"))
    assert {row.type for row in rows} >= {
        "UserCreated", "FanProfileCreated", "RoleCreated", "UserRolesChanged", "GroupCreated", "UserGroupsChanged",
        "GroupUpdated", "UserPiiUpdated", "UserPasswordChanged", "UserPasswordResetIssued", "KeycloakEvent",
        "CelebrityProfileCreated", "CreateSseGroup", "CelebrityProfileUpdated", "CelebrityProfileSoftDeleteFlagToggled",
        "CelebrityFollowed", "AddUserToSseGroup", "CelebrityUnfollowed", "FanMediaChanged", "ReferralCodeChanged",
        "GlobalPreferenceSet", "UserDeactivated", "UserReactivated", "RoleDeleted", "GroupDeleted", "UserDeleted"}
    messages = document["components"]["messages"]
    for row in rows:
        schema = messages[row.type]["payload"]
        assert set(row.payload) == set(schema["properties"]), row.type
        for name, value in row.payload.items():
            assert _json_type_ok(schema["properties"][name], value), (row.type, name, value)
        assert document["channels"][row.exchange]["address"] == row.exchange
        assert row.type in document["channels"][row.exchange]["messages"]
    relay_all(broker)
    received = [m for exchange in queues for m in take(amqp_channel, queues[exchange], sum(
        row.exchange == exchange for row in rows), timeout=10)]
    assert sorted(int(headers(p)["ce-id"]) for _, p, _ in received) == [row.id for row in rows]
    for method, properties, body in received:
        assert set(json.loads(body)) == set(messages[headers(properties)["ce-type"]]["payload"]["properties"])
    keycloak = [m for m, p, _ in received if m.exchange == "keycloak.events"]
    assert {m.routing_key for m in keycloak} == {"KK.EVENT.CLIENT.acme.SUCCESS.web.LOGIN",
                                                "KK.EVENT.CLIENT.acme.SUCCESS.web.REGISTER"}


def test_the_committed_asyncapi_document_is_the_generated_one():
    assert yaml.safe_load((ROOT / "identity/asyncapi.yaml").read_text()) == asyncapi.document(), (
        "identity/asyncapi.yaml is out of date: run `make schema`")


# --- the relay under failures ----------------------------------------------------------------------


def test_the_publisher_reports_a_batch_the_broker_refused_by_closing_and_opens_again(broker, amqp_channel):
    """The relay's publisher reads what the broker sent while it was idle: a connection the broker
    closed is opened again before the next batch, and a batch that meets the close is reported
    failed, message by message, and is not half delivered."""
    queue = amqp_channel.subscribe("users", "publisher.test")

    def batch(*numbers):
        return [("users", "publisher.test", Basic.Properties(message_id=str(n), delivery_mode=2),
                 b'{"n": %d}' % n) for n in numbers]

    publisher = Publisher(broker.url)
    try:
        publisher.open(["users"])
        assert publisher.publish(batch(1, 2, 3)) == [None, None, None]
        broker.ctl("close_all_connections", "a test")
        time.sleep(0.5)
        refused = publisher.publish(batch(4, 5))
        assert all(isinstance(result, Exception) for result in refused) and not publisher.is_open, refused
        publisher.open(["users"])
        broker.ctl("close_all_connections", "a test")
        time.sleep(0.5)
        publisher.open(["users"])  # reads the broker's close, and connects again
        assert publisher.publish(batch(6, 7)) == [None, None]
    finally:
        publisher.close()
    reader = amqp.connect(broker.url).channel()
    got = take(reader, queue, 4, timeout=10)
    assert [(p.message_id, body) for _, p, body in got] == [(str(n), b'{"n": %d}' % n) for n in (1, 2, 3, 6)]
    assert [p.message_id for _, p, _ in take(reader, queue, 2, timeout=2)] == ["7"]


def test_a_relay_busy_or_idle_is_woken_by_each_commit_not_by_its_polling(broker, amqp_channel, tenant):
    """The relay UNLISTENs while busy and LISTENs again once a round finds nothing: every spell of
    commits, each after the relay has gone idle again, reaches the broker in a moment, though the
    relay would poll only once a minute."""
    users = [services.create_user(tenant, username=f"w{i}") for i in range(3)]
    relay_all(broker)
    queue = amqp_channel.subscribe("users", "UserPiiUpdated")
    relay = relay_process(broker, EVENTS_RELAY_POLL_SECONDS="60")
    try:
        time.sleep(2)  # started, idle, listening
        for spell in range(3):
            started = time.monotonic()
            for i, user in enumerate(users):
                services.update_user(user, {"first_name": f"s{spell}n{i}"})
            got = take(amqp_channel, queue, 3, timeout=15)
            assert len(got) == 3 and time.monotonic() - started < 5, (spell, len(got))
            assert take(amqp_channel, queue, 1, timeout=1) == []  # and the relay goes idle again
    finally:
        stop(relay)


def test_broker_stopped_while_the_api_takes_1000_writes(broker, amqp_channel, tenant, api):
    users = [services.create_user(tenant, username=f"u{i}") for i in range(20)]
    relay_all(broker)
    queue = amqp_channel.subscribe("users", "UserPiiUpdated", durable=True)
    relay = relay_process(broker)
    try:
        broker.ctl("stop_app")
        assert not broker.answers()
        for i in range(1000):
            user = users[i % 20]
            response = api.patch(f"/v1/users/{user.id}", {"first_name": f"n{i}"}, format="json")
            assert response.status_code == 200, response.content
        backlog = OutboxEvent.objects.filter(sent_at__isnull=True, type="UserPiiUpdated")
        assert backlog.count() == 1000
        time.sleep(2)  # the relay keeps trying meanwhile
        assert backlog.count() == 1000
        broker.ctl("start_app")

        reader = amqp.connect(broker.url).channel()  # the first connection died with the broker
        messages = take(reader, queue, 1000, timeout=90)
    finally:
        stop(relay)
    assert len(messages) == 1000 and take(reader, queue, 1, timeout=1) == []
    ids = [int(headers(p)["ce-id"]) for _, p, _ in messages]
    assert sorted(ids) == sorted(OutboxEvent.objects.filter(type="UserPiiUpdated").values_list("id", flat=True))
    names = {}
    for _, _, body in messages:
        payload = json.loads(body)
        names.setdefault(payload["userId"], []).append(int(payload["firstName"][1:]))
    assert all(sequence == sorted(sequence) and len(sequence) == 50 for sequence in names.values())
    assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()


def test_a_relay_killed_after_the_ack_publishes_again_and_the_command_applies_once(broker, amqp_channel, tenant):
    user = services.create_user(tenant, username="ann")
    RoleFactory(tenant=tenant, name="celebrity")
    relay_all(broker)
    consumer_queue = f"test.commands.{uuid.uuid4().hex[:8]}"
    channel = amqp_channel
    commands.declare(channel, consumer_queue)
    spy = amqp_channel.subscribe("users", "AddRoleToUser")
    with transaction.atomic():  # as the celebrity service's outbox would
        command = outbox.publish("AddRoleToUser", tenant_id=tenant.id, subject=user.id,
                                 payload={"userId": str(user.id), "role": "celebrity"})

    crashed = relay_process(broker, **{CRASH_AFTER_ACK: "1"})
    assert crashed.wait(timeout=60) == -signal.SIGKILL
    assert OutboxEvent.objects.get(pk=command.pk).sent_at is None
    again = relay_process(broker)
    try:
        deliveries = take(channel, spy, 2, timeout=30)
    finally:
        stop(again)

    assert [headers(p)["ce-id"] for _, p, _ in deliveries] == [str(command.id)] * 2
    assert OutboxEvent.objects.get(pk=command.pk).sent_at is not None
    commands.Consumer(broker.url, consumer_queue).run(limit=2, idle_timeout=10)
    assert list(user.roles.values_list("name", flat=True)) == ["celebrity"]
    assert ProcessedMessage.objects.filter(pk=str(command.id)).count() == 1
    assert AuditEvent.objects.filter(action="user.roles_changed", object_id=str(user.id)).count() == 1
    assert OutboxEvent.objects.filter(type="UserRolesChanged").count() == 1
    channel.queue_delete(consumer_queue)
    channel.queue_delete(commands.dead_letter_queue(consumer_queue))


def test_two_relays_over_10000_events_lose_nothing_and_keep_each_aggregates_order(broker, amqp_channel, tenant):
    queue = amqp_channel.subscribe("users", "test.order")
    OutboxEvent.objects.bulk_create(
        OutboxEvent(tenant="acme", aggregate_type="user", aggregate_id=f"a{n % 50}", type="UserPiiUpdated",
                    exchange="users", routing_key="test.order", payload={"n": n // 50})
        for n in range(10_000))
    relays = [relay_process(broker), relay_process(broker)]
    try:
        messages = take(amqp_channel, queue, 10_000, timeout=100)
    finally:
        for relay in relays:
            stop(relay)
    assert len(messages) == 10_000 and take(amqp_channel, queue, 1, timeout=1) == []
    assert len({headers(p)["ce-id"] for _, p, _ in messages}) == 10_000
    order = {}
    for _, properties, body in messages:
        order.setdefault(headers(properties)["ce-subject"], []).append(json.loads(body)["n"])
    assert len(order) == 50 and all(sequence == list(range(200)) for sequence in order.values())
    assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()


# --- inbound commands --------------------------------------------------------------------------------


def send(channel, name, payload, *, tenant="acme", message_id=None, body=None, routing_key=None):
    headers = {"ce-id": message_id or str(uuid.uuid4()), "ce-type": name, "ce-source": "/celebrity-service",
               "ce-specversion": "1.0", "ce-tenant": tenant}
    channel.basic_publish("users", routing_key or name, body if body is not None else json.dumps(payload).encode(),
                          pika.BasicProperties(headers=headers, content_type="application/json"))
    return headers["ce-id"]


def test_inbound_commands_apply_once_and_the_bad_ones_reach_the_dead_letter_queue(
        broker, amqp_channel, tenant, other_tenant):
    user = services.create_user(tenant, username="ann", first_name="Ann")
    stranger = services.create_user(other_tenant, username="zed")
    RoleFactory(tenant=tenant, name="celebrity")
    queue = f"test.commands.{uuid.uuid4().hex[:8]}"
    channel = amqp_channel
    commands.declare(channel, queue)

    add = send(channel, "AddRoleToUser", {"userId": str(user.id), "role": "celebrity"})
    send(channel, "AddRoleToUser", {"userId": str(user.id), "role": "celebrity"}, message_id=add)
    pii = send(channel, "UpdateUserPii", {"userId": str(user.id), "lastName": "Smith", "email": "Ann@Example.com"})
    send(channel, "UpdateUserPii", {}, body=b'{"userId": ')
    send(channel, "AddRoleToUser", {"userId": str(uuid.uuid4()), "role": "celebrity"})
    send(channel, "AddRoleToUser", {"userId": str(stranger.id), "role": "celebrity"})
    send(channel, "DeleteEverything", {"userId": str(user.id)}, routing_key="AddRoleToUser")
    commands.Consumer(broker.url, queue).run(limit=7, idle_timeout=10)

    user.refresh_from_db()
    assert list(user.roles.values_list("name", flat=True)) == ["celebrity"]
    assert (user.first_name, user.last_name, user.email) == ("Ann", "Smith", "ann@example.com")
    assert set(ProcessedMessage.objects.values_list("id", flat=True)) == {add, pii}
    assert AuditEvent.objects.filter(action="user.roles_changed", object_id=str(user.id)).count() == 1
    assert not stranger.roles.exists()
    dead = take(channel, commands.dead_letter_queue(queue), 4, timeout=5)
    reasons = [headers(p)[commands.REASON_HEADER] for _, p, _ in dead]
    assert len(reasons) == 4
    assert reasons[0].startswith("malformed JSON")
    assert reasons[1].startswith("unknown user")
    assert reasons[2].startswith("wrong tenant")
    assert reasons[3].startswith("unknown command")
    assert channel.queue_declare(queue, passive=True).method.message_count == 0
    channel.queue_delete(queue)
    channel.queue_delete(commands.dead_letter_queue(queue))


# --- the admin -------------------------------------------------------------------------------------


def test_the_admin_lists_the_outbox_by_status_and_retries_failed_rows(client, operator, tenant):
    with transaction.atomic():
        sent, failed, pending = (outbox.publish("RoleCreated", tenant_id=tenant.id, subject=n, payload={"n": n})
                                 for n in range(3))
    later = timezone.now() + datetime.timedelta(hours=1)
    OutboxEvent.objects.filter(pk=sent.pk).update(sent_at=timezone.now())
    OutboxEvent.objects.filter(pk=failed.pk).update(attempts=3, last_error="NackError: the broker said no",
                                                    next_attempt_at=later)

    listed = {status: client.get("/admin/events/outboxevent/", {"status": status}).content.decode()
              for status in ("pending", "failed", "sent")}
    assert "NackError: the broker said no" in listed["failed"] and "NackError" not in listed["pending"]
    for status, row in (("pending", pending), ("failed", failed), ("sent", sent)):
        assert f"/admin/events/outboxevent/{row.pk}/change/" in listed[status]
        others = {pending.pk, failed.pk, sent.pk} - {row.pk}
        assert not any(f"/admin/events/outboxevent/{pk}/change/" in listed[status] for pk in others)

    response = client.post("/admin/events/outboxevent/", {
        "action": "retry_now", "_selected_action": [failed.pk, pending.pk, sent.pk]})
    assert response.status_code == 302
    assert OutboxEvent.objects.get(pk=failed.pk).next_attempt_at <= timezone.now()
    assert OutboxEvent.objects.get(pk=sent.pk).next_attempt_at == sent.next_attempt_at
