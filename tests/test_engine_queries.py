"""The search parameters the BPM engine's queries need (bpm_bridge/): `Like` patterns, lists of
exact keys, membership by group id, groups by name and member, and sorted pages, each on an index."""

import re

import pytest
from django.db import connection

from tests.factories import GroupFactory, UserFactory
from users.models import Group
from users.search import GroupCriteria, UserCriteria, ordering, search_groups, search_users

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tenant, other_tenant):
    users = {
        "alice": UserFactory(tenant=tenant, username="alice", email="alice@example.com", first_name="Alice",
                             last_name="Smith"),
        "bob": UserFactory(tenant=tenant, username="bob", email="bob@example.com", first_name="Bob",
                           last_name="Smithers"),
        "carol": UserFactory(tenant=tenant, username="carol", email="carol@corp.io", first_name="Carol",
                             last_name="Jones"),
        "dan": UserFactory(tenant=tenant, username="dan", email=None, first_name="Dan", last_name="Asmith"),
    }
    UserFactory(tenant=other_tenant, username="alice", first_name="Alice", last_name="Smith")
    return users


@pytest.fixture
def groups(tenant, other_tenant, people):
    sales = GroupFactory(tenant=tenant, name="sales")
    north = GroupFactory(tenant=tenant, name="north", parent=sales)
    admins = GroupFactory(tenant=tenant, name="Camunda-Admins")
    foreign = GroupFactory(tenant=other_tenant, name="sales")
    people["alice"].identity_groups.add(sales, admins)
    people["bob"].identity_groups.add(north)
    return {"sales": sales, "north": north, "admins": admins, "foreign": foreign}


def names(api, query, endpoint="users:search", key="username"):
    r = api.get(f"/v1/{endpoint}?{query}")
    assert r.status_code == 200, r.json()
    return [row[key] for row in r.json()["results"]]


def count(api, query, endpoint="users:count"):
    r = api.get(f"/v1/{endpoint}?{query}")
    assert r.status_code == 200, r.json()
    return r.json()["count"]


@pytest.mark.parametrize("query, expected", [
    ("like=true&first_name=Alice", ["alice"]),  # no %: the whole value, any case
    ("like=true&first_name=ali", []),
    ("like=true&last_name=smith%25", ["alice", "bob"]),  # prefix
    ("like=true&last_name=%25smith", ["alice", "dan"]),  # suffix
    ("like=true&last_name=%25smith%25", ["alice", "bob", "dan"]),  # substring
    ("like=true&last_name=%25mi%25", []),  # under 3 characters: the prefix "mi", as everywhere
    ("like=true&email=%25example.com", ["alice", "bob"]),
    ("like=true&last_name=%25", ["alice", "bob", "carol", "dan"]),
    ("like=true&first_name=Alice&last_name=%25smith%25", ["alice"]),  # exact and pattern together
    ("username_in=BOB&username_in=carol&username_in=nobody", ["bob", "carol"]),
])
def test_like_patterns_and_username_lists(api, people, query, expected):
    assert names(api, query) == expected
    assert count(api, query) == len(expected)


def test_id_lists_stay_within_the_tenant(api, tenant, other_tenant, people):
    foreign = UserFactory(tenant=other_tenant, username="zed")
    query = f"id={people['bob'].pk}&id={people['dan'].pk}&id={foreign.pk}"
    assert names(api, query) == ["bob", "dan"]
    assert count(api, query) == 2


def test_members_by_group_id_include_no_other_tenants_group(api, groups):
    assert names(api, f"group_id={groups['sales'].pk}") == ["alice"]
    assert names(api, f"group_id={groups['sales'].pk}&group_id={groups['north'].pk}") == ["alice", "bob"]
    assert count(api, f"group_id={groups['foreign'].pk}") == 0


@pytest.mark.parametrize("order, expected", [
    ("first_name", ["alice", "bob", "carol", "dan"]),
    ("-last_name", ["bob", "alice", "carol", "dan"]),
    ("email", ["alice", "bob", "carol", "dan"]),  # no address last
    ("-username", ["dan", "carol", "bob", "alice"]),
])
def test_sorted_pages_by_offset(api, people, order, expected):
    assert names(api, f"order={order}") == expected
    body = api.get(f"/v1/users:search?order={order}&first=1&max=2").json()
    assert [u["username"] for u in body["results"]] == expected[1:3]
    assert "offset=3" in body["next"]


def test_sorted_by_id(api, people):
    expected = sorted(people.values(), key=lambda user: str(user.pk))
    assert names(api, "order=id&first=0") == [user.username for user in expected]


@pytest.mark.parametrize("query, field", [
    ("id=nope", "id"),
    ("group_id=123", "group_id"),
    ("like=true&first_name=a%25b", "first_name"),
    ("like=maybe", "like"),
    ("order=colour", "order"),
    ("username_in=a%00b", "username_in"),
])
def test_bad_engine_parameters_are_400(api, people, query, field):
    r = api.get(f"/v1/users:search?{query}")
    assert r.status_code == 400, r.json()
    assert field in r.json()["fields"]


def test_too_many_keys_are_400(api, people):
    r = api.get("/v1/users:search?" + "&".join(f"username_in=u{i}" for i in range(101)))
    assert r.status_code == 400 and "username_in" in r.json()["fields"]


def test_count_takes_no_order(api, people):
    r = api.get("/v1/users:count?order=username")
    assert r.status_code == 400 and "order" in r.json()["fields"]


# --- groups -----------------------------------------------------------------------------------


@pytest.mark.parametrize("query, expected", [
    ("", ["/Camunda-Admins", "/sales", "/sales/north"]),
    ("name=SALES", ["/sales"]),
    ("name=sal", []),
    ("like=true&name=camunda%25", ["/Camunda-Admins"]),
    ("like=true&name=%25th", ["/sales/north"]),
    ("like=true&name=%25AL%25", ["/sales"]),
    ("path=/sales/north&path=/sales&path=/nope", ["/sales", "/sales/north"]),
    ("order=-name", ["/sales", "/sales/north", "/Camunda-Admins"]),
])
def test_group_filters(api, groups, query, expected):
    assert names(api, query, "groups", "path") == expected
    assert count(api, query.replace("order=-name", ""), "groups:count") == len(expected)


def test_groups_by_id_and_member_stay_within_the_tenant(api, groups, people):
    ids = f"id={groups['north'].pk}&id={groups['foreign'].pk}&id={groups['admins'].pk}"
    assert names(api, ids, "groups", "path") == ["/Camunda-Admins", "/sales/north"]
    assert names(api, f"member={people['alice'].pk}", "groups", "path") == ["/Camunda-Admins", "/sales"]
    assert names(api, f"member={people['carol'].pk}", "groups", "path") == []
    assert count(api, f"member={people['alice'].pk}", "groups:count") == 2
    body = api.get("/v1/groups?order=name&first=0&max=1").json()
    assert [g["path"] for g in body["results"]] == ["/Camunda-Admins"] and "offset=1" in body["next"]


@pytest.mark.parametrize("query, field", [
    ("id=x", "id"), ("member=x", "member"), ("like=true&name=a%25b", "name"), ("colour=red", "colour"),
    ("order=size", "order"), ("name=", "name"),
])
def test_bad_group_filters_are_400(api, groups, query, field):
    r = api.get(f"/v1/groups?{query}")
    assert r.status_code == 400, r.json()
    assert field in r.json()["fields"]


# --- every shape can use an index -----------------------------------------------------------

ID = "00000000-0000-4000-8000-000000000001"
USER_SHAPES = {
    "like exact": UserCriteria(like=True, first_name="alice"),
    "like prefix": UserCriteria(like=True, last_name="smi%"),
    "like suffix": UserCriteria(like=True, last_name="%mith"),
    "like substring": UserCriteria(like=True, email="%example%"),
    "ids": UserCriteria(ids=[ID]),
    "usernames": UserCriteria(usernames=["alice", "bob"]),
    "group ids": UserCriteria(group_ids=[ID]),
}


def _plan(queryset) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


@pytest.mark.parametrize("shape", USER_SHAPES)
@pytest.mark.parametrize("ordered", [True, False], ids=["page", "count"])
def test_every_engine_user_shape_can_use_an_index(tenant, people, shape, ordered):
    queryset = search_users(tenant, USER_SHAPES[shape])
    plan = _plan(queryset.order_by("username")[:10] if ordered else queryset.values("pk"))
    assert "Seq Scan" not in plan, plan
    assert re.search(r"Index (Only )?Scan|Bitmap Index Scan", plan), plan


@pytest.mark.parametrize("order, index", [
    ("first_name", "user_first_name_lower"), ("-last_name", "user_last_name_lower"),
    ("email", "user_email_per_tenant"), ("-id", "user_tenant_id"), ("username", "user_username_per_tenant|user_search_cover"),
])
def test_sorted_user_pages_walk_an_index_in_order(tenant, people, order, index):
    """Ties are broken by username: at most an incremental sort of equal names, never a sort of the
    tenant (the tables here are tiny, so sorting is turned off to see what the index can give)."""
    queryset = search_users(tenant, UserCriteria()).order_by(*ordering(order, {
        "first_name": "first_name_lc", "last_name": "last_name_lc", "email": "email", "id": "id",
        "username": "username"}, "username"))[:10]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    plan = _plan(queryset)
    assert re.search(rf"Index (Only )?Scan( Backward)? using ({index})", plan), plan
    assert not re.search(r"(?<!Incremental )Sort  ", plan), plan


GROUP_SHAPES = {
    "ids": GroupCriteria(ids=[ID]),
    "paths": GroupCriteria(paths=["/sales"]),
    "name": GroupCriteria(name="sales"),
    "name prefix": GroupCriteria(name="sal%", like=True),
    "name substring": GroupCriteria(name="%ale%", like=True),
    "member": GroupCriteria(member=ID),
    "everyone": GroupCriteria(),
}


@pytest.mark.parametrize("shape", GROUP_SHAPES)
def test_every_group_shape_can_use_an_index(tenant, groups, shape):
    plan = _plan(search_groups(tenant, GROUP_SHAPES[shape]).order_by("path")[:10])
    assert "Seq Scan" not in plan, plan
    assert re.search(r"Index (Only )?Scan|Bitmap Index Scan", plan), plan


def test_groups_by_name_walk_the_name_index(tenant, groups):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    plan = _plan(search_groups(tenant, GroupCriteria()).order_by("name_lc", "path")[:10])
    assert "Index Scan using group_name_lower" in plan, plan
    assert Group.objects.filter(tenant=tenant).count() == 3
