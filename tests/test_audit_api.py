"""`GET /v1/audit-events`: the caller's tenant only, newest first, keyset pages, filters, `audit:read`."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit import queries
from audit.models import AuditEvent
from tests.factories import RoleFactory, UserFactory
from tests.test_people_access import as_person
from users import services

pytestmark = pytest.mark.django_db
URL = "/v1/audit-events"


@pytest.fixture
def auditor(tenant, make_client):
    return make_client(tenant, ["audit:read"], name="siem")


def event(tenant, object_id="obj", **fields):
    values = {"actor_kind": "api_client", "actor_display": "crm", "action": "user.updated", "object_type": "user",
              "changes": {}, **fields}
    return AuditEvent.objects.create(tenant=tenant, object_id=object_id, **values)


def ids(response):
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_lists_the_tenants_events_newest_first_with_every_field(auditor, tenant):
    user = services.create_user(tenant, username="ann")
    services.update_user(user, {"first_name": "Ann"})
    body = auditor.get(URL).json()
    actions = [row["action"] for row in body["results"]]
    assert actions[:2] == ["user.updated", "user.created"]
    row = body["results"][0]
    assert set(row) == {"id", "time", "actor_kind", "actor_id", "actor_display", "action", "object_type",
                        "object_id", "changes", "ip", "request_id"}
    assert row["object_id"] == str(user.pk) and row["changes"] == {"first_name": {"old": "", "new": "Ann"}}
    assert body["next"] is None


def test_another_tenants_events_are_invisible(auditor, tenant, other_tenant, make_client):
    theirs = services.create_user(other_tenant, username="theirs")
    ours = services.create_user(tenant, username="ours")
    assert str(ours.pk) in {r["object_id"] for r in auditor.get(URL).json()["results"]}
    assert ids(auditor.get(URL, {"object_id": str(theirs.pk)})) == []
    other = make_client(other_tenant, ["audit:read"])
    seen = {r["object_id"] for r in other.get(URL).json()["results"]}
    assert str(theirs.pk) in seen and str(ours.pk) not in seen


@pytest.mark.parametrize("scopes", [["users:read", "users:write", "profiles:write"], []])
def test_it_needs_the_audit_read_scope(tenant, make_client, scopes):
    r = make_client(tenant, scopes).get(URL)
    assert r.status_code == 403 and "audit:read" in r.json()["message"]


def test_a_tenant_admin_reads_it_with_their_token_and_a_plain_person_does_not(tenant):
    admin = UserFactory(tenant=tenant)
    admin.roles.add(RoleFactory(tenant=tenant, name="admin"))
    assert as_person(admin).get(URL).status_code == 200
    assert as_person(UserFactory(tenant=tenant)).get(URL).status_code == 403


def test_without_a_token_is_401(client):
    assert client.get(URL).status_code == 401


def test_filters(auditor, tenant):
    now = timezone.now()
    a = event(tenant, "u1", time=now - timedelta(hours=3))
    b = event(tenant, "u1", time=now - timedelta(hours=2), actor_kind="keycloak", action="user.deactivated")
    c = event(tenant, "u2", time=now - timedelta(hours=1), actor_kind="operator")
    assert ids(auditor.get(URL, {"object_id": "u1"})) == [b.pk, a.pk]
    assert ids(auditor.get(URL, {"actor_kind": "keycloak"})) == [b.pk]
    assert ids(auditor.get(URL, {"action": "user.updated"})) == [c.pk, a.pk]
    since, until = (now - timedelta(hours=2)).isoformat(), (now - timedelta(hours=1)).isoformat()
    assert ids(auditor.get(URL, {"since": since, "until": until})) == [b.pk]
    assert ids(auditor.get(URL, {"object_id": "u1", "since": since})) == [b.pk]


@pytest.mark.parametrize("query, field", [
    ({"actor_kind": "robot"}, "actor_kind"),
    ({"since": "yesterday"}, "since"),
    ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
    ({"object": "u1"}, "object"),
    ({"object_id": "x" * 65}, "object_id"),
    ({"limit": "-1"}, "limit"),
    ({"cursor": "not a cursor"}, "cursor"),
])
def test_bad_queries_are_400_with_the_error_shape(auditor, tenant, query, field):
    event(tenant)
    r = auditor.get(URL, query)
    assert r.status_code == 400 and r.json()["code"] == "invalid" and field in r.json()["fields"]


def test_keyset_pages_walk_every_event_once_even_when_times_tie(auditor, tenant):
    now = timezone.now()
    made = [event(tenant, f"o{i}", time=now - timedelta(seconds=i // 2)) for i in range(8)]  # pages split ties
    expected = [e.pk for e in sorted(made, key=lambda e: (e.time, e.pk), reverse=True)]
    seen, url = [], f"{URL}?limit=3&action=user.updated"  # not the auditor's own api_client.created
    while url:
        body = auditor.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == expected
    assert ids(auditor.get(URL, {"limit": 3, "offset": 3, "action": "user.updated"})) == expected[3:6]


def test_a_page_costs_one_query_however_many_events_and_actors(auditor, tenant):
    for i in range(30):
        event(tenant, f"o{i}", actor_kind=["api_client", "person", "operator", "keycloak"][i % 4])
    auditor.get(URL)  # the client's token is validated once, then cached
    with CaptureQueriesContext(connection) as captured:
        assert len(ids(auditor.get(URL, {"limit": 25}))) == 25
    assert len(captured) == 1, [q["sql"] for q in captured]


@pytest.mark.parametrize("query, index", [({}, "audit_by_tenant_time"), ({"object_id": "o1"}, "audit_by_object")])
def test_the_list_walks_an_index(tenant, query, index):
    # Many objects with a few events each, and fresh statistics: one object's events are then a
    # clearly smaller walk than the tenant's, whatever rows earlier tests left.
    AuditEvent.objects.bulk_create(
        AuditEvent(tenant=tenant, object_id=f"o{i % 500}", actor_kind="api_client", action="user.updated",
                   object_type="user") for i in range(2000))
    sql, params = queries.tenant_events(tenant, **query).order_by("-time", "-id")[:100].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {AuditEvent._meta.db_table}")
        # A test's small table has whatever statistics earlier tests left: only the ordered walks
        # stay open to the planner, as on a table of millions where sorting a tenant is the cost.
        for kind in ("seqscan", "bitmapscan", "sort"):
            cursor.execute(f"SET LOCAL enable_{kind} = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan and "Sort" not in plan, plan
