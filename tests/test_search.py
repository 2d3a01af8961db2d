import re
from urllib.parse import quote

import pytest
from django.db import connection

from tests.factories import UserFactory
from users.models import User
from users.search import UserCriteria, count_users, search_users

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tenant, other_tenant):
    UserFactory(tenant=tenant, username="alice", email="alice@example.com", first_name="Alice", last_name="Smith",
                phone_number="+15551234567", attributes={"department": ["sales", "north"]}, email_verified=True)
    UserFactory(tenant=tenant, username="bob", email="bob@example.com", first_name="Bob", last_name="Smithers",
                attributes={"department": ["support"]})
    UserFactory(tenant=tenant, username="carol", email="carol@example.com", first_name="Carol", last_name="Jones",
                is_active=False)
    UserFactory(tenant=tenant, username="dan", email="dsmith@corp.io", first_name="Dan", last_name="Brown")
    # Another tenant's look-alike must never show up.
    UserFactory(tenant=other_tenant, username="alice", email="alice@example.com", last_name="Smith",
                phone_number="+15551234567", attributes={"department": ["sales"]})


def names(api, query):
    r = api.get(f"/v1/users:search?{query}")
    assert r.status_code == 200, r.json()
    return [u["username"] for u in r.json()["results"]]


def count(api, query):
    r = api.get(f"/v1/users:count?{query}")
    assert r.status_code == 200, r.json()
    return r.json()["count"]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("search=smi", ["alice", "bob"]),  # prefix over first/last name, username, email
        ("search=smi*", ["alice", "bob"]),
        ("search=SMI", ["alice", "bob"]),
        ("search=*smi*", ["alice", "bob", "dan"]),  # substring reaches dsmith@corp.io
        ("search=*mith", ["alice", "bob", "dan"]),
        (f"search={quote(chr(34) + 'smith' + chr(34))}", ["alice"]),  # "smith": exact
        (f"search={quote(chr(34) + 'alice@example.com' + chr(34))}", ["alice"]),
        ("search=*", ["alice", "bob", "carol", "dan"]),
        ("", ["alice", "bob", "carol", "dan"]),
        ("search=alice+smi", ["alice"]),  # every word must match
        ("search=*mi*", []),  # under 3 characters: prefix "mi", which nobody has
        ("search=*al*", ["alice"]),  # ... and "al" is alice's prefix
        ("username=lic", ["alice"]),  # field filters match substrings by default
        ("username=lic&exact=true", []),
        ("username=ALICE&exact=true", ["alice"]),
        ("email=ALICE@example.com&exact=true", ["alice"]),
        ("email=example.com", ["alice", "bob", "carol"]),
        ("first_name=ali&last_name=smi", ["alice"]),
        ("last_name=smith&exact=true", ["alice"]),
        ("phone_number=%2B1+555+123+4567", ["alice"]),
        ("q=phone_number:%2B15551234567", ["alice"]),
        ("attr.department=sales", ["alice"]),
        ("attr.department=north", ["alice"]),
        ("q=department:support", ["bob"]),
        ("q=department:sales+firstName:Alice&exact=true", ["alice"]),
        ("enabled=false", ["carol"]),
        ("enabled=true&email=example.com", ["alice", "bob"]),
        ("email_verified=true", ["alice"]),
        ("q=emailVerified:true", ["alice"]),
    ],
)
def test_search_semantics_match_keycloak(api, people, query, expected):
    assert names(api, query) == expected
    assert count(api, query) == len(expected)


def test_group_filter_counts_members_of_any_given_group(api, tenant, other_tenant, people):
    from tests.factories import GroupFactory
    from users.models import User

    brand = GroupFactory(tenant=tenant, name="brand")
    admins = GroupFactory(tenant=tenant, name="admins", parent=brand)
    foreign = GroupFactory(tenant=other_tenant, name="brand")
    User.objects.get(tenant=tenant, username="alice").identity_groups.add(brand, admins)
    User.objects.get(tenant=tenant, username="bob").identity_groups.add(admins)
    User.objects.get(tenant=other_tenant, username="alice").identity_groups.add(foreign)
    assert count(api, "group=/brand/admins&group=/brand") == 2
    assert names(api, "group=/brand") == ["alice"]
    assert count(api, "group=/nope") == 0


def test_offset_and_cursor_paging_of_search(api, people):
    assert names(api, "search=*&first=1&max=2") == ["bob", "carol"]
    body = api.get("/v1/users:search?search=*&limit=3").json()
    assert [u["username"] for u in body["results"]] == ["alice", "bob", "carol"]
    assert [u["username"] for u in api.get(body["next"]).json()["results"]] == ["dan"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("q=nocolon", "q"),
        ("phone_number=abc", "phone_number"),
        ("enabled=maybe", "enabled"),
        ("colour=red", "colour"),
        ("attr.bad%20name=x", "attr.bad name"),
        ("q=enabled:perhaps", "q"),
    ],
)
def test_bad_search_input_is_400(api, people, query, field):
    for endpoint in ("users:search", "users:count"):
        r = api.get(f"/v1/{endpoint}?{query}")
        assert r.status_code == 400, r.json()
        assert field in r.json()["fields"]


def test_search_list_has_a_fixed_query_count(api, tenant, people, django_assert_num_queries):
    api.get("/v1/users?limit=1")  # the first call checks the token (then cached) and stamps last_used_at
    # One query: the page, with role names and group paths as array subqueries.
    with django_assert_num_queries(1):
        api.get("/v1/users:search?search=*&max=100")
    for i in range(20):
        UserFactory(tenant=tenant, username=f"extra{i}")
    with django_assert_num_queries(1):
        api.get("/v1/users:search?search=*&max=100")
    with django_assert_num_queries(1):
        api.get("/v1/users?limit=100")


def test_a_search_term_page_finds_its_keys_on_the_covering_index(api, tenant, people, django_assert_num_queries):
    api.get("/v1/users?limit=1")
    with django_assert_num_queries(2) as captured:  # the page's usernames, then their rows by username
        body = api.get("/v1/users:search?search=*smi*&max=100").json()
    assert "LIKE" in captured.captured_queries[0]["sql"] and "LIKE" not in captured.captured_queries[1]["sql"]
    expected = sorted(u.username for u in User.objects.filter(tenant=tenant)
                      if any("smi" in (v or "").lower() for v in (u.username, u.email, u.first_name, u.last_name)))
    assert [u["username"] for u in body["results"]] == expected and expected

    # The index answers the keys query alone. The planner prefers it once the table is vacuumed,
    # which a test's table never is; turning index scans off would turn index-only scans off too
    # (PostgreSQL disables both), so the one other ordered index leaves, inside this test's
    # transaction, and full scans and sorts are turned off.
    keys = search_users(tenant, UserCriteria(search="*smi*")).order_by("username").values_list("username")[:11]
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending on the table
        cursor.execute("ALTER TABLE users_user DROP CONSTRAINT user_username_per_tenant")
        for kind in ("seqscan", "bitmapscan", "sort"):
            cursor.execute(f"SET LOCAL enable_{kind} = off")
    plan = keys.explain()
    assert "Index Only Scan using user_search_cover" in plan, plan
    assert "Sort" not in plan, plan


@pytest.mark.parametrize("criteria, narrows", [
    (UserCriteria(search="*uaintrel*"), True),
    (UserCriteria(search="*smit*"), True),
    (UserCriteria(search="*smi*"), False),  # one trigram: as common as a prefix, the walk serves it
    (UserCriteria(search="smith"), False),  # a prefix: btree ranges
    (UserCriteria(search='"*quaintrelle*"'), False),  # exact
    (UserCriteria(search="alice *uain*"), True),
    (UserCriteria(last_name="quaint"), True),
    (UserCriteria(last_name="quaint", exact=True), False),
    (UserCriteria(last_name="quaint%", like=True), False),
    (UserCriteria(last_name="%quaint%", like=True), True),
])
def test_a_substring_of_two_trigrams_narrows(criteria, narrows):
    assert criteria.narrows_by_trigrams() is narrows


def test_a_narrowing_term_with_few_matches_pages_by_its_matches(api, tenant, people, django_assert_num_queries):
    rare = sorted(f"z{i:02d}.{name}" for i, name in enumerate(["quaint", "aquaintance", "quaintrel"] * 5))
    for username in rare:
        UserFactory(tenant=tenant, username=username)
    api.get("/v1/users?limit=1")
    pages, url = [], "/v1/users:search?search=*quaint*&max=6"
    while url:
        with django_assert_num_queries(3) as captured:  # the estimate, the page's usernames, their rows
            body = api.get(url).json()
        assert captured.captured_queries[0]["sql"].startswith("EXPLAIN (FORMAT json)")
        assert "|| '') COLLATE \"C\"" in captured.captured_queries[1]["sql"]
        pages.append([u["username"] for u in body["results"]])
        url = body.get("next")
    assert [len(page) for page in pages] == [6, 6, 3]
    assert sum(pages, []) == rare

    # No index yields that order, so the keys query cannot walk the username order: it finds the
    # matches and sorts them (at 10M users, by the trigram indexes: the README's benchmark notes).
    sql = captured.captured_queries[1]["sql"]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Sort Key: (((username)::text || ''::text)) COLLATE \"C\"" in plan, plan
    assert "user_search_cover" not in plan and "user_username_per_tenant" not in plan, plan


def test_a_narrowing_term_the_planner_expects_often_walks_the_username_order(api, tenant, people, monkeypatch,
                                                                           django_assert_num_queries):
    monkeypatch.setattr("users.search.FEW_MATCHES", 0)  # a common word, as at 10M users
    api.get("/v1/users?limit=1")
    with django_assert_num_queries(3) as captured:
        assert names(api, "search=*smith*") == ["alice", "bob", "dan"]
    assert "||" not in captured.captured_queries[1]["sql"]


def test_a_token_costs_one_query_until_its_cache_entry_expires(api, settings, django_assert_num_queries):
    settings.API_CLIENT_CACHE_SECONDS = 0
    api.get("/v1/users?limit=1")
    with django_assert_num_queries(2):  # the client, the page
        api.get("/v1/users?limit=1")


# --- every shape can use an index -----------------------------------------------------------


SHAPES = {
    "prefix": UserCriteria(search="smi"),
    "substring": UserCriteria(search="*smi*"),
    "exact": UserCriteria(search='"smith"'),
    "username exact": UserCriteria(username="alice", exact=True),
    "username substring": UserCriteria(username="lic"),
    "email exact": UserCriteria(email="alice@example.com", exact=True),
    "email substring": UserCriteria(email="example"),
    "first name": UserCriteria(first_name="ali", exact=True),
    "last name substring": UserCriteria(last_name="mit"),
    "phone": UserCriteria(phone_number="+15551234567"),
    "attribute": UserCriteria(attributes={"department": "sales"}),
    "disabled": UserCriteria(enabled=False),
    "email unverified": UserCriteria(email_verified=False),
    "everyone": UserCriteria(),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ordered", [True, False], ids=["page", "count"])
def test_every_search_shape_can_use_an_index(tenant, people, shape, ordered):
    queryset = search_users(tenant, SHAPES[shape])
    queryset = queryset.order_by("username")[:10] if ordered else queryset
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = queryset.explain() if ordered else queryset.values("pk").explain()
    assert "Seq Scan on users_user" not in plan, plan
    assert re.search(r"Index (Only )?Scan|Bitmap Index Scan", plan), plan


def test_username_prefix_page_comes_in_index_order_without_a_sort(tenant, people):
    """The "C"-collated username index serves both LIKE 'prefix%' and ORDER BY."""
    queryset = User.objects.filter(tenant=tenant, username__startswith="ali").order_by("username")[:10]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    plan = queryset.explain()
    assert re.search(r"Index Scan using (user_username_per_tenant|user_search_cover)", plan), plan
    assert "Sort" not in plan, plan
    assert "Index Cond" in plan and "~>=~" not in plan, plan


# --- lookups by a unique key ------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "username=ALICE&exact=true", "username=+alice+&exact=true&first=0&max=1", "email=Alice@Example.com&exact=true&max=5",
    "username=alice&exact=true&limit=1&offset=0", "phone_number=%2B1+555+123+4567", "q=phone_number:%2B15551234567&max=1",
])
def test_a_lookup_by_username_email_or_phone_is_one_query_and_answers_as_a_search(
        api, tenant, people, query, django_assert_num_queries):
    api.get("/v1/users?limit=1")  # the token, then cached
    with django_assert_num_queries(1):
        r = api.get(f"/v1/users:search?{query}")
    alice = User.objects.get(tenant=tenant, username="alice")
    assert r.status_code == 200 and r.json() == {"results": [api.get(f"/v1/users/{alice.pk}").json()], "next": None}


@pytest.mark.parametrize("query, expected", [
    ("username=nobody&exact=true&first=0&max=1", []),  # none
    ("username=alice&exact=true&max=0", []),
    ("username=alice&exact=true&first=1&max=1", []),
    ("email=alice@example.com&exact=true&enabled=false", []),  # other filters: the general search
    ("username=alice&exact=TRUE", ["alice"]),
    ("phone_number=%2B15551234567&exact=true", ["alice"]),
    ("q=phone_number:%2B15551234567+department:sales", ["alice"]),
    ("q=phone_number:%2B15551234567+department:support", []),
    ("phone_number=%2B15559999999", []),
])
def test_lookups_at_the_edges_answer_as_the_general_search(api, people, query, expected):
    assert names(api, query) == expected


@pytest.mark.parametrize("query, field", [
    ("username=&exact=true", "username"), ("username=%00&exact=true", "username"),
    ("username=alice&exact=true&max=-1", "max"),
    ("phone_number=12&max=1", "phone_number"), ("q=phone_number:", "q"), ("q=phone_number:%2B1+555", "q"),
])
def test_bad_lookups_are_400(api, people, query, field):
    r = api.get(f"/v1/users:search?{query}")
    assert r.status_code == 400 and field in r.json()["fields"], r.json()


def test_a_lookup_by_id_is_one_query_and_stays_within_the_tenant(api, tenant, other_tenant, people,
                                                                 django_assert_num_queries):
    api.get("/v1/users?limit=1")
    alice = User.objects.get(tenant=tenant, username="alice")
    with django_assert_num_queries(1):
        assert api.get(f"/v1/users/{alice.pk}").json()["username"] == "alice"
    stranger = User.objects.get(tenant=other_tenant, username="alice")
    r = api.get(f"/v1/users/{stranger.pk}")
    assert r.status_code == 404 and r.json()["code"] == "not_found", r.json()


# --- counting everyone ------------------------------------------------------------------------


def test_counting_everyone_reads_the_kept_count_not_the_users(api, people, django_assert_num_queries):
    api.get("/v1/users?limit=1")
    for query in ("", "search=*", "search=**"):
        with django_assert_num_queries(1) as captured:
            assert count(api, query) == 4
        assert '"users_user"' not in captured.captured_queries[0]["sql"], captured.captured_queries
    assert count(api, "search=*+smi") == 2  # anything more is counted in the users table


def test_the_kept_count_follows_every_kind_of_write(tenant, other_tenant, people):
    def counted():
        return [count_users(t, UserCriteria()) for t in (tenant, other_tenant)]

    def exact():
        return [User.objects.filter(tenant=t).count() for t in (tenant, other_tenant)]

    assert counted() == exact() == [4, 1]
    UserFactory(tenant=tenant)
    User.objects.bulk_create([User(tenant=other_tenant, username=f"bulk{i}") for i in range(5)])
    assert counted() == exact() == [5, 6]
    User.objects.get(tenant=tenant, username="alice").delete()
    User.objects.filter(tenant=other_tenant, username__startswith="bulk").delete()
    assert counted() == exact() == [4, 1]
    bob = User.objects.get(tenant=tenant, username="bob")
    bob.tenant = other_tenant
    bob.save()  # moves one user
    bob.save()  # moves nobody
    User.objects.filter(tenant=tenant, username="carol").update(tenant=other_tenant)
    assert counted() == exact() == [2, 3]
    User.objects.filter(tenant=tenant).delete()
    assert counted() == exact() == [0, 3]


# --- prefixes as byte-order ranges ------------------------------------------------------------


@pytest.mark.parametrize("prefix, after", [
    ("smi", "smj"), ("a", "b"), ("z", "{"), ("\U0010ffff", None), ("a\U0010ffff", "b"), ("\ud7ff", "\ue000"),
    ("é", "ê"), ("", None),
])
def test_after_prefix_is_the_least_string_above_the_prefix(prefix, after):
    from identity.search import after_prefix

    assert after_prefix(prefix) == after


@pytest.mark.parametrize("query, expected", [
    ("search=zoë", ["zoë"]), ("search=zo", ["zoe", "zoë", "zo_e", "zo%e"]), ("search=zo_", ["zo_e"]),
    ("search=zo%25", ["zo%e"]), ("first_name=Zo&exact=false", ["zoe", "zoë", "zo_e", "zo%e"]),
])
def test_prefixes_match_literally_beyond_ascii(api, tenant, query, expected):
    for name in ["zoe", "zoë", "zo_e", "zo%e", "zp", "zn"]:
        UserFactory(tenant=tenant, username=name, first_name=name.capitalize())
    assert sorted(names(api, query)) == sorted(expected)
    assert count(api, query.replace("&exact=false", "")) == len(expected)


def test_a_prefix_count_needs_no_recheck_of_each_row(tenant, people):
    User.objects.bulk_create([User(tenant=tenant, username=f"user{i:05d}", email=f"user{i:05d}@example.com",
                                   first_name=f"First{i % 97}", last_name=f"Last{i % 89}") for i in range(5000)])
    queryset = search_users(tenant, UserCriteria(search="smi")).values("pk")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE users_user")
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = queryset.explain()
    assert "BitmapOr" in plan and "Filter" not in plan and "~~" not in plan, plan
