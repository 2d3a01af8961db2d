"""Every SCIM filter that is accepted runs on an index, for the page and for its count (EXPLAIN with
sequential scans disabled, as tests/test_search.py proves the `/v1` search shapes)."""

import re

import pytest
from django.db import connection
from scim2_models import ScimFilter

from scim.queries import USER_SORTS, bounded_count, users_matching
from scim.service import service
from tests.factories import GroupFactory, UserFactory
from users import services
from users.models import User

pytestmark = pytest.mark.django_db
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def people(tenant, other_tenant):
    group = GroupFactory(tenant=tenant, name="sales")
    alice = UserFactory(tenant=tenant, username="alice", email="alice@example.com", external_id="00u1",
                        phone_number="+15551234567", attributes={"department": ["Sales"]})
    services.add_user_group(alice, group)
    User.objects.bulk_create([User(tenant=tenant, username=f"user{i:04d}", email=f"user{i:04d}@example.com",
                                   external_id=f"ext{i:04d}", first_name=f"First{i % 37}", last_name=f"Last{i % 41}")
                              for i in range(200)])
    UserFactory(tenant=other_tenant, username="alice", email="alice@example.com", external_id="00u1")
    # Few rows: what a test leaves in the table (statistics, the space of rolled-back rows)
    # outlives its transaction, and many would change the plans other tests expect.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE users_user")
    return {"group": group}


SHAPES = {
    "userName eq": 'userName eq "Alice"',
    "externalId eq": 'externalId eq "00u1"',
    "emails.value eq": 'emails.value eq "alice@example.com"',
    "emails[type eq work].value eq": 'emails[type eq "work"].value eq "alice@example.com"',
    "emails[type eq work and value eq]": 'emails[type eq "work" and value eq "alice@example.com"]',
    "userName sw": 'userName sw "ali"',
    "userName co": 'userName co "lic"',
    "userName ew": 'userName ew "ice"',
    "userName gt": 'userName gt "user0190"',
    "name.familyName eq": 'name.familyName eq "last7"',
    "name.givenName co": 'name.givenName co "rst3"',
    "emails.value co": 'emails.value co "alice"',
    "externalId sw": 'externalId sw "00u"',
    "phoneNumbers.value eq": 'phoneNumbers.value eq "+15551234567"',
    "active eq false": "active eq false",
    "attribute eq": f'{ENTERPRISE}:department eq "Sales"',
    "or of exact keys": 'userName eq "alice" or externalId eq "ext0001" or emails.value eq "user0002@example.com"',
    "and": 'userName sw "user1" and name.familyName eq "last3"',
}


def user_filter(expression):
    return ScimFilter[service().provider.model_for("User")](expression)


def plan_of(queryset):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


def assert_indexed(plan):
    assert "Seq Scan on users_user" not in plan, plan
    assert re.search(r"Index (Only )?Scan|Bitmap Index Scan", plan), plan


@pytest.mark.parametrize("shape", SHAPES)
def test_every_filter_shape_uses_an_index(tenant, people, shape):
    queryset = users_matching(tenant, user_filter(SHAPES[shape]))
    assert_indexed(plan_of(queryset.order_by("username")[:100]))  # the page
    assert_indexed(plan_of(queryset.order_by().values("pk")[:10001]))  # its count, bounded


def test_membership_filters_use_the_membership_index(tenant, people):
    group = people["group"]
    queryset = users_matching(tenant, user_filter(f'groups.value eq "{group.pk}"'))
    plan = plan_of(queryset.order_by("username")[:100])
    assert_indexed(plan)
    assert "users_user_identity_groups" in plan and "Seq Scan on users_user_identity_groups" not in plan, plan


@pytest.mark.parametrize("sort", list(USER_SORTS.values()))
def test_sorted_pages_walk_an_index(tenant, people, sort):
    plan = plan_of(users_matching(tenant, None).order_by(sort, "username")[:100])
    assert_indexed(plan)


def test_the_bounded_count_stops_at_its_limit(tenant, people, settings):
    settings.SCIM_MAX_COUNT = 500
    assert bounded_count(users_matching(tenant, user_filter('userName sw "user"'))) == 200
    plan = plan_of(users_matching(tenant, user_filter("userName pr")).order_by().values("pk")[:501])
    assert "Limit" in plan, plan


@pytest.mark.parametrize("expression, index", [
    ('userName eq "ALICE"', "(user_username_per_tenant|user_search_cover)"),
    ('externalId eq "00u1"', "user_external_id_per_tenant"),
    ('emails.value eq "Alice@example.com"', "user_email_per_tenant"),
])
def test_a_lookup_by_a_unique_key_is_one_indexed_statement(tenant, people, expression, index):
    """Okta's and Entra's lookups skip the query builder: one statement, built once, reads the user
    with its groups."""
    from scim.filters import unique_key
    from scim.queries import by_key_sql, users_by_key

    column, value = unique_key(user_filter(expression))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + by_key_sql(column), [tenant.pk, value])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert re.search(rf"Index (Only )?Scan using {index}", plan), plan
    assert "Seq Scan on users_user " not in plan, plan
    [alice] = users_by_key(tenant, column, value)
    assert alice.username == "alice" and alice.scim_group_names == ["sales"]
