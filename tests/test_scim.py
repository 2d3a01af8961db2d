"""`/scim/v2` beyond what scim2-tester checks: filters, paging, sorting, attribute selection,
ETags, tenants, access, and bad input (each answered with a SCIM error body, never a 500)."""

from urllib.parse import quote

import pytest

from tests.factories import GroupFactory, UserFactory
from tests.scim_client import ENTERPRISE, ERROR, GROUP, PATCH, USER, Scim, scim_token
from users import services
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def scim(tenant):
    return Scim(scim_token(tenant))


@pytest.fixture
def people(tenant, other_tenant):
    """Users made through the backend (not SCIM): SCIM sees every user of the tenant."""
    sales = GroupFactory(tenant=tenant, name="sales")
    alice = UserFactory(tenant=tenant, username="alice", email="alice@example.com", first_name="Alice",
                        last_name="Smith", phone_number="+15551234567", external_id="EXT-1",
                        attributes={"title": ["Engineer"], "department": ["Sales"], "team": ["blue"]})
    UserFactory(tenant=tenant, username="bob", email="bob@corp.io", first_name="Bob", last_name="Smithers",
                external_id="ext-1", attributes={"title": ["Manager"]})
    UserFactory(tenant=tenant, username="carol", email=None, first_name="Carol", last_name="Jones",
                is_active=False)
    UserFactory(tenant=tenant, username="dan", email="dan@example.com", first_name="", last_name="")
    services.add_user_group(alice, sales)
    UserFactory(tenant=other_tenant, username="alice", email="alice@example.com", external_id="EXT-1")
    return {"sales": sales, "alice": alice}


def error(response, status, scim_type=None):
    """The response is a SCIM error with this status and scimType."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status), body
    assert body.get("scimType") == scim_type, body
    assert body.get("detail")
    return body


def usernames(scim, query):
    r = scim.get(f"/Users?{query}")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["itemsPerPage"] == len(body["Resources"])
    return [user["userName"] for user in body["Resources"]], body["totalResults"]


def matching(scim, expression, extra=""):
    names, total = usernames(scim, f"filter={quote(expression)}{extra}")
    assert total == len(names)
    return names


# --- discovery and access ---------------------------------------------------------------------


def test_discovery_describes_what_is_kept(scim):
    config = scim.get("/ServiceProviderConfig").json()
    assert config["patch"] == {"supported": True}
    assert config["bulk"]["supported"] is False and config["changePassword"] == {"supported": False}
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["sort"] == {"supported": True} and config["etag"] == {"supported": True}
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"

    types = {t["name"]: t for t in scim.get("/ResourceTypes").json()["Resources"]}
    assert types["User"]["endpoint"] == "/Users" and types["Group"]["endpoint"] == "/Groups"
    assert types["User"]["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]

    schemas = {s["id"]: s for s in scim.get("/Schemas").json()["Resources"]}
    assert set(schemas) == {USER, GROUP, ENTERPRISE}
    user = {a["name"]: a for a in schemas[USER]["attributes"]}
    assert set(user) == {"userName", "name", "displayName", "nickName", "title", "userType", "preferredLanguage",
                         "locale", "timezone", "active", "emails", "phoneNumbers", "groups"}
    assert user["userName"]["uniqueness"] == "server" and user["active"]["required"] is True
    assert user["groups"]["mutability"] == "readOnly"
    emails = {a["name"]: a for a in user["emails"]["subAttributes"]}
    assert emails["type"]["canonicalValues"] == ["work"] and emails["primary"]["mutability"] == "readOnly"
    assert scim.get(f"/Schemas/{USER}").json()["id"] == USER


@pytest.mark.parametrize("path", ["/Users", "/Groups", "/ServiceProviderConfig", "/Schemas", "/Users/x"])
def test_every_endpoint_needs_a_token_with_the_scim_scope(tenant, path):
    body = error(Scim(None).get(path), 401)
    assert "Bearer" in body["detail"]
    assert Scim(None).get(path)["WWW-Authenticate"] == 'Bearer realm="SCIM"'
    error(Scim("idb_unknown.token").get(path), 401)
    error(Scim(scim_token(tenant, ["users:read", "users:write"], name="v1-client")).get(path), 403)


def test_a_revoked_token_is_refused(tenant):
    client, token = services.create_api_client(tenant, "revoked", ["scim"])
    assert Scim(token).get("/Users").status_code == 200
    services.revoke_api_client(client)
    error(Scim(token).get("/Users"), 401)


# --- tenants ----------------------------------------------------------------------------------


def test_another_tenants_users_and_groups_do_not_exist(scim, people, other_tenant):
    theirs = User.objects.get(tenant=other_tenant, username="alice")
    their_group = GroupFactory(tenant=other_tenant, name="theirs")
    for method in ("get", "put", "patch", "delete"):
        body = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]} \
            if method == "patch" else {"schemas": [USER], "userName": "x", "active": True}
        error(getattr(scim, method)(f"/Users/{theirs.pk}", **({"body": body} if method in ("put", "patch") else {})),
              404)
    error(scim.get(f"/Groups/{their_group.pk}"), 404)
    assert matching(scim, 'externalId eq "EXT-1"') == ["alice"]  # ours only
    assert matching(scim, f'id eq "{theirs.pk}"') == []
    group = scim.post("/Groups", {"schemas": [GROUP], "displayName": "mixed"}).json()
    r = scim.patch(f"/Groups/{group['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": str(theirs.pk)}]}]})
    error(r, 400, "invalidValue")
    error(scim.patch(f"/Users/{people['alice'].pk}", {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": f"{ENTERPRISE}:manager", "value": {"value": str(theirs.pk)}}]}), 400, "invalidValue")
    theirs.refresh_from_db()
    assert theirs.is_active and not theirs.identity_groups.exists()


def test_the_same_names_live_in_two_tenants(scim, other_tenant):
    other = Scim(scim_token(other_tenant))
    body = {"schemas": [USER], "userName": "same", "externalId": "same", "active": True,
            "emails": [{"value": "same@example.com", "type": "work"}]}
    assert scim.post("/Users", body).status_code == 201
    assert other.post("/Users", body).status_code == 201
    assert other.post("/Groups", {"schemas": [GROUP], "displayName": "same"}).status_code == 201
    assert scim.post("/Groups", {"schemas": [GROUP], "displayName": "same"}).status_code == 201


# --- filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize("expression, expected", [
    ('userName eq "ALICE"', ["alice"]),  # userName is case-insensitive (RFC 7643)
    ('userName ne "alice"', ["bob", "carol", "dan"]),
    ('userName co "LIC"', ["alice"]),
    ('userName sw "a"', ["alice"]),
    ('userName ew "ice"', ["alice"]),
    ('userName gt "bob"', ["carol", "dan"]),
    ('userName ge "bob"', ["bob", "carol", "dan"]),
    ('userName lt "bob"', ["alice"]),
    ('userName le "bob"', ["alice", "bob"]),
    ('name.familyName eq "SMITH"', ["alice"]),
    ('name.givenName sw "c"', ["carol"]),
    ('name.familyName co "mith"', ["alice", "bob"]),
    ('name pr', ["alice", "bob", "carol"]),
    ('emails.value eq "Alice@Example.com"', ["alice"]),
    ('emails eq "alice@example.com"', ["alice"]),  # a multi-valued attribute compares its value
    ('emails.value ew "example.com"', ["alice", "dan"]),
    ('emails pr', ["alice", "bob", "dan"]),
    ('not (emails pr)', ["carol"]),
    ('emails[type eq "work" and value eq "bob@corp.io"]', ["bob"]),
    ('emails[type eq "work"].value eq "bob@corp.io"', ["bob"]),
    ('emails[type eq "home"]', []),
    ('emails.type eq "work"', ["alice", "bob", "dan"]),
    ('externalId eq "EXT-1"', ["alice"]),  # externalId is case-exact
    ('externalId eq "ext-1"', ["bob"]),
    ('externalId pr', ["alice", "bob"]),
    ('externalId sw "EXT"', ["alice"]),
    ('active eq false', ["carol"]),
    ('active eq "False"', ["carol"]),
    ('not (active eq false)', ["alice", "bob", "dan"]),
    ('active ne true', ["carol"]),
    ('title eq "Engineer"', ["alice"]),
    ('title eq "engineer"', []),  # kept as given, published caseExact
    (f'{ENTERPRISE}:department eq "Sales"', ["alice"]),
    ('phoneNumbers.value eq "+1 (555) 123-4567"', ["alice"]),  # compared in E.164
    ('phoneNumbers.value eq "not a number"', []),
    ('phoneNumbers[type eq "mobile"] and userName sw "a"', ["alice"]),
    ('(userName sw "a" or userName sw "b") and active eq true', ["alice", "bob"]),
    ('userName sw "a" or userName sw "b" and emails pr', ["alice", "bob"]),
    ('id eq "not-a-uuid"', []),
])
def test_filters(scim, people, expression, expected):
    assert matching(scim, expression) == expected


def test_filters_on_ids_and_groups(scim, people):
    alice, sales = people["alice"], people["sales"]
    assert matching(scim, f'id eq "{alice.pk}"') == ["alice"]
    assert matching(scim, f'groups.value eq "{sales.pk}"') == ["alice"]
    assert matching(scim, f'groups eq "{sales.pk}"') == ["alice"]
    expression = f'members.value eq "{alice.pk}"'
    groups = scim.get(f"/Groups?filter={quote(expression)}").json()
    assert [g["displayName"] for g in groups["Resources"]] == ["sales"]
    for expression, names in [('displayName eq "SALES"', ["sales"]), ('displayName sw "sa"', ["sales"]),
                              ('displayName co "ale"', ["sales"]), ('displayName ne "sales"', [])]:
        r = scim.get(f"/Groups?filter={quote(expression)}")
        assert [g["displayName"] for g in r.json()["Resources"]] == names, expression


@pytest.mark.parametrize("expression", [
    'userName eq',  # syntax
    'userName eq "a" and',
    '(userName eq "a"',
    'nickname eq "x" or',
    'unknownAttribute eq "x"',
    'userName co "li"',  # substrings under three characters have no index
    'userName ew "e"',
    'meta.lastModified gt "2020-01-01T00:00:00Z"',  # not indexed
    'title co "Eng"',
    'title pr',
    'phoneNumbers.value co "555"',
    'active gt true',
    'userName eq "a\x00b"',
])
def test_invalid_or_unsupported_filters_are_invalidFilter(scim, people, expression):
    error(scim.get(f"/Users?filter={quote(expression)}"), 400, "invalidFilter")


def test_a_filter_matching_too_many_users_is_tooMany(scim, tenant, people, settings):
    settings.SCIM_MAX_COUNT = 3
    body = error(scim.get(f"/Users?filter={quote('userName pr')}&count=2"), 400, "tooMany")
    assert "more than 3" in body["detail"]
    assert usernames(scim, "count=2&filter=" + quote('userName ne "dan"')) == (["alice", "bob"], 3)
    # A page that is not full needs no count: its rows are the total.
    assert usernames(scim, f"filter={quote('userName pr')}") == (["alice", "bob", "carol", "dan"], 4)
    # Without a filter, the total comes from the tenant's count, whatever its size.
    assert usernames(scim, "count=2") == (["alice", "bob"], 4)


def test_an_idp_lookup_by_a_unique_key_is_one_query(scim, people, django_assert_num_queries):
    scim.get("/Users?count=1")  # the token is checked once, then cached
    with django_assert_num_queries(1):
        assert usernames(scim, "filter=" + quote('userName eq "nobody"')) == ([], 0)
    with django_assert_num_queries(2):  # one statement each: the user with its groups
        assert usernames(scim, "filter=" + quote('userName eq "Alice"') + "&startIndex=1&count=100") == (
            ["alice"], 1)
        assert scim.get(f"/Users/{people['alice'].pk}").json()["groups"][0]["display"] == "sales"


# --- paging, sorting, attributes --------------------------------------------------------------


def test_paging_with_start_index_and_count(scim, people):
    assert usernames(scim, "") == (["alice", "bob", "carol", "dan"], 4)
    assert usernames(scim, "startIndex=2&count=2") == (["bob", "carol"], 4)
    assert usernames(scim, "startIndex=4&count=10") == (["dan"], 4)
    assert usernames(scim, "startIndex=9") == ([], 4)
    assert usernames(scim, "startIndex=0&count=1") == (["alice"], 4)  # below 1 means 1
    body = scim.get("/Users?count=0").json()
    assert body["totalResults"] == 4 and body["Resources"] == [] and body["itemsPerPage"] == 0
    assert scim.get("/Users?startIndex=3").json()["startIndex"] == 3


def test_count_is_capped_at_the_largest_page(scim, tenant, settings):
    User.objects.bulk_create([User(tenant=tenant, username=f"u{i:03d}") for i in range(205)])
    body = scim.get("/Users?count=1000").json()
    assert body["itemsPerPage"] == 200 and body["totalResults"] == 205
    assert len(scim.get("/Users").json()["Resources"]) == 100  # the default page


@pytest.mark.parametrize("query, expected", [
    ("sortBy=name.familyName", ["dan", "carol", "alice", "bob"]),  # "" < "jones" < "smith" < "smithers"
    ("sortBy=name.familyName&sortOrder=descending", ["bob", "alice", "carol", "dan"]),
    ("sortBy=name.givenName", ["dan", "alice", "bob", "carol"]),
    ("sortBy=userName&sortOrder=descending", ["dan", "carol", "bob", "alice"]),
    ("sortBy=USERNAME", ["alice", "bob", "carol", "dan"]),
    ("sortBy=userName&sortOrder=descending&startIndex=2&count=2", ["carol", "bob"]),
    ("sortBy=name.familyName&filter=" + quote('name.familyName sw "smi"'), ["alice", "bob"]),
])
def test_sorting(scim, people, query, expected):
    assert usernames(scim, query)[0] == expected


def test_sorting_by_an_unindexed_attribute_is_refused(scim, people):
    error(scim.get("/Users?sortBy=title"), 400, "invalidValue")
    error(scim.get("/Users?sortBy=nothing"), 400, "invalidPath")


def test_attributes_and_excluded_attributes(scim, people):
    alice = people["alice"]
    body = scim.get(f"/Users/{alice.pk}?attributes=userName,emails.value").json()
    assert body == {"schemas": [USER], "id": str(alice.pk), "userName": "alice",
                    "emails": [{"value": "alice@example.com"}]}
    body = scim.get(f"/Users/{alice.pk}?excludedAttributes=emails,groups,{ENTERPRISE}").json()
    assert "emails" not in body and "groups" not in body and ENTERPRISE not in body and body["userName"] == "alice"
    listed = scim.get(f"/Users?filter={quote('userName eq ' + chr(34) + 'alice' + chr(34))}&attributes=externalId").json()
    assert listed["Resources"] == [{"schemas": [USER], "id": str(alice.pk), "externalId": "EXT-1"}]
    # The primary flag of the one address is returned when asked for.
    body = scim.get(f"/Users/{alice.pk}?attributes=emails.primary,phoneNumbers.value,phoneNumbers.primary").json()
    assert body["emails"] == [{"primary": True}]
    assert body["phoneNumbers"] == [{"value": "+15551234567", "primary": True}]


def test_groups_without_members(scim, people):
    sales = people["sales"]
    full = scim.get(f"/Groups/{sales.pk}")
    assert [m["value"] for m in full.json()["members"]] == [str(people["alice"].pk)]
    slim = scim.get(f"/Groups/{sales.pk}?excludedAttributes=members")
    assert "members" not in slim.json() and slim["ETag"] == full["ETag"]
    listed = scim.get("/Groups?excludedAttributes=members").json()
    assert listed["totalResults"] == 1 and "members" not in listed["Resources"][0]


# --- ETags ------------------------------------------------------------------------------------


def test_etags_make_reads_conditional_and_writes_safe(scim, people):
    path = f"/Users/{people['alice'].pk}"
    r = scim.get(path)
    etag = r["ETag"]
    assert etag == r.json()["meta"]["version"] and etag.startswith('W/"')
    assert scim.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert scim.get(path, headers={"If-None-Match": 'W/"other"'}).status_code == 200

    change = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]}
    error(scim.patch(path, change, headers={"If-Match": 'W/"stale"'}), 412)
    assert scim.get(path).json()["title"] == "Engineer"
    r = scim.patch(path, change, headers={"If-Match": etag})
    assert r.status_code == 200 and r.json()["title"] == "Lead" and r["ETag"] != etag
    new_etag = r["ETag"]

    # The first version is stale now, for PUT and DELETE too.
    error(scim.put(path, {"schemas": [USER], "userName": "alice", "active": True},
                   headers={"If-Match": etag}), 412)
    error(scim.delete(path, headers={"If-Match": etag}), 412)
    assert scim.get(path, headers={"If-None-Match": new_etag}).status_code == 304
    assert scim.patch(path, change, headers={"If-Match": "*"}).status_code == 200
    assert scim.delete(path, headers={"If-Match": new_etag}).status_code == 204


def test_versions_change_with_memberships(scim, people):
    alice, sales = people["alice"], people["sales"]
    user_etag = scim.get(f"/Users/{alice.pk}")["ETag"]
    group_etag = scim.get(f"/Groups/{sales.pk}")["ETag"]
    bob = User.objects.get(tenant=alice.tenant, username="bob")
    r = scim.patch(f"/Groups/{sales.pk}", {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": str(bob.pk)}]}]}, headers={"If-Match": group_etag})
    assert r.status_code == 200 and r["ETag"] != group_etag
    error(scim.delete(f"/Groups/{sales.pk}", headers={"If-Match": group_etag}), 412)
    services.remove_user_group(alice, sales)
    assert scim.get(f"/Users/{alice.pk}")["ETag"] != user_etag


# --- writes keep the backend's rules ----------------------------------------------------------


def test_writes_are_normalised_and_unique(scim, people):
    r = scim.post("/Users", {"schemas": [USER], "userName": " Erin.Example ", "active": True,
                             "emails": [{"value": "Erin@Example.COM", "type": "WORK"}],
                             "phoneNumbers": [{"value": "+1 555 987 6543", "type": "mobile"}]})
    assert r.status_code == 201, r.json()
    erin = User.objects.get(pk=r.json()["id"])
    assert (erin.username, erin.email, erin.phone_number) == ("erin.example", "erin@example.com", "+15559876543")
    assert not erin.has_usable_password() and not erin.email_verified

    for body in [
        {"userName": "ALICE"},
        {"userName": "new1", "emails": [{"value": "ALICE@example.com"}]},
        {"userName": "new2", "phoneNumbers": [{"value": "+15551234567"}]},
        {"userName": "new3", "externalId": "EXT-1"},
    ]:
        r = scim.post("/Users", {"schemas": [USER], "active": True, **body})
        error(r, 409, "uniqueness")
    r = scim.patch(f"/Users/{erin.pk}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "emails", "value": [{"value": "bob@corp.io", "type": "work"}]}]})
    error(r, 409, "uniqueness")
    assert scim.post("/Groups", {"schemas": [GROUP], "displayName": "x", "externalId": "g"}).status_code == 201
    error(scim.post("/Groups", {"schemas": [GROUP], "displayName": "sales"}), 409, "uniqueness")
    error(scim.post("/Groups", {"schemas": [GROUP], "displayName": "y", "externalId": "g"}), 409, "uniqueness")


def test_put_replaces_what_scim_manages_and_keeps_the_rest(scim, people):
    alice = people["alice"]
    r = scim.put(f"/Users/{alice.pk}", {"schemas": [USER], "userName": "alice", "active": True})
    assert r.status_code == 200, r.json()
    alice.refresh_from_db()
    assert (alice.email, alice.phone_number, alice.first_name, alice.external_id) == (None, None, "", None)
    assert alice.attributes == {"team": ["blue"]}  # not a SCIM attribute: kept
    assert alice.identity_groups.count() == 1  # groups are read-only on users


def test_a_group_renamed_carries_its_subgroups(scim, tenant):
    parent = scim.post("/Groups", {"schemas": [GROUP], "displayName": "emea"}).json()
    from users.models import Group
    child = services.create_group(tenant, "sales", Group.objects.get(pk=parent["id"]))
    r = scim.patch(f"/Groups/{parent['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "displayName", "value": "europe"}]})
    assert r.status_code == 200
    child.refresh_from_db()
    assert child.path == "/europe/sales"
    assert scim.get(f"/Groups/{child.pk}").json()["displayName"] == "sales"


# --- bad input --------------------------------------------------------------------------------


def test_malformed_json_is_invalidSyntax(scim, people):
    error(scim.post("/Users", raw="{not json"), 400, "invalidSyntax")
    error(scim.patch(f"/Users/{people['alice'].pk}", raw="[1, 2"), 400, "invalidSyntax")
    error(scim.post("/Users", raw="[]"), 400, "invalidSyntax")


def test_unknown_attributes_are_refused(scim):
    body = error(scim.post("/Users", {"schemas": [USER], "userName": "x", "active": True, "password": "secret"}),
                 400, "invalidSyntax")
    assert "password" in body["detail"]
    error(scim.post("/Users", {"schemas": [USER], "userName": "x", "active": True,
                               "addresses": [{"locality": "Paris"}]}), 400, "invalidSyntax")
    error(scim.post("/Users", {"schemas": [USER], "userName": "x", "active": True, "name": {"middleName": "Q"}}),
          400, "invalidSyntax")
    assert not User.objects.filter(username="x").exists()


@pytest.mark.parametrize("schemas", [[GROUP], ["urn:example:unknown"], [USER, "urn:example:extension"], []])
def test_a_wrong_schemas_list_is_refused(scim, people, schemas):
    r = scim.post("/Users", {"schemas": schemas, "userName": "x", "active": True})
    assert r.status_code == 400 and r.json()["scimType"] in ("invalidValue", "invalidSyntax"), r.json()
    r = scim.post("/Users", {"userName": "x", "active": True})
    assert r.status_code == 400 and r.json()["scimType"] in ("invalidValue", "invalidSyntax"), r.json()
    assert not User.objects.filter(username="x").exists()
    alice = f"/Users/{people['alice'].pk}"
    for body in [{"schemas": schemas, "userName": "alice", "active": False}, {"userName": "alice", "active": False}]:
        r = scim.put(alice, body)
        assert r.status_code == 400 and r.json()["scimType"] in ("invalidValue", "invalidSyntax"), r.json()
    operations = [{"op": "replace", "path": "active", "value": False}]
    for body in [{"schemas": schemas, "Operations": operations}, {"Operations": operations}]:
        r = scim.patch(alice, body)
        assert r.status_code == 400 and r.json()["scimType"] in ("invalidValue", "invalidSyntax"), r.json()
    assert scim.get(alice).json()["active"] is True


@pytest.mark.parametrize("body, words", [
    ({"userName": "not valid!"}, "username"),
    ({"userName": ""}, ""),
    ({"userName": "x", "emails": [{"value": "not-an-address"}]}, "email"),
    ({"userName": "x", "emails": [{"value": "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".com"}]}, "at most 254"),
    ({"userName": "x", "emails": [{"value": "a@example.com"}, {"value": "b@example.com"}]}, "one emails"),
    ({"userName": "x", "emails": [{"value": "a@example.com", "type": "home"}]}, "work"),
    ({"userName": "x", "phoneNumbers": [{"value": "12"}]}, "phone"),
    ({"userName": "x", "phoneNumbers": [{"value": "+15551112222", "type": "fax"}]}, "mobile"),
    ({"userName": "x", "name": {"givenName": "g" * 151}}, "at most 150"),
    ({"userName": "x", "name": {"familyName": "nul\x00"}}, "null"),
    ({"userName": "x", "title": "t" * 3000}, "2048"),
    ({"userName": "x", "displayName": "a\x00"}, "null"),
    ({"userName": "x", "externalId": "e" * 300}, "at most 255"),
    ({"userName": "x", ENTERPRISE: {"manager": {"value": "nobody"}}}, "manager"),
    ({"userName": "x", "active": "maybe"}, ""),
])
def test_invalid_values_are_invalidValue(scim, body, words):
    schemas = [USER, ENTERPRISE] if ENTERPRISE in body else [USER]
    r = scim.post("/Users", {"schemas": schemas, "active": True, **body})
    assert r.status_code == 400, r.json()
    assert r.json()["scimType"] in ("invalidValue", "invalidSyntax"), r.json()
    assert words.lower() in r.json()["detail"].lower()
    assert not User.objects.filter(username="x").exists()


def test_group_names_follow_the_backends_rule(scim):
    body = error(scim.post("/Groups", {"schemas": [GROUP], "displayName": "Sales Team"}), 400, "invalidValue")
    assert "group name" in body["detail"]
    error(scim.post("/Groups", {"schemas": [GROUP]}), 400, "invalidValue")


@pytest.mark.parametrize("operation, scim_type", [
    ({"op": "move", "path": "title", "value": "x"}, "invalidValue"),
    ({"op": "replace", "path": "nope", "value": "x"}, "invalidPath"),
    ({"op": "replace", "path": "emails[", "value": "x"}, "invalidPath"),
    ({"op": "remove"}, "noTarget"),
    ({"op": "replace", "path": "userName", "value": None}, None),
    ({"op": "remove", "path": "active"}, None),
    ({"op": "add", "path": "groups", "value": [{"value": "x"}]}, "mutability"),
    ({"op": "replace", "path": "id", "value": "x"}, "mutability"),
])
def test_bad_patch_operations(scim, people, operation, scim_type):
    alice = people["alice"]
    before = scim.get(f"/Users/{alice.pk}").json()
    r = scim.patch(f"/Users/{alice.pk}", {"schemas": [PATCH], "Operations": [operation]})
    assert r.status_code == 400, r.json()
    assert scim_type is None or r.json()["scimType"] == scim_type, r.json()
    assert scim.get(f"/Users/{alice.pk}").json() == before


def test_other_failures_have_scim_bodies(scim, people):
    error(scim.get("/Users/00000000-0000-0000-0000-000000000000"), 404)
    error(scim.get("/Users/not-a-uuid"), 404)
    error(scim.get("/Groups/not-a-uuid"), 404)
    error(scim.get("/Nothing"), 404)
    error(scim.delete("/Users"), 405)
    error(scim.post("/Bulk", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                              "Operations": []}), 501)
    error(scim.post("/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}), 501)
    error(scim.get("/Me"), 501)
    error(scim.client.post("/scim/v2/Users", data="userName=x", content_type="text/plain"), 415)
    error(scim.get("/Users?count=many"), 400, "invalidValue")
    error(scim.get("/Users?sortOrder=sideways"), 400, "invalidValue")
    error(scim.get("/Users?attributes=emails&excludedAttributes=title"), 400, "invalidValue")


def test_a_body_over_the_limit_is_413(scim, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    error(scim.post("/Users", {"schemas": [USER], "userName": "x", "active": True, "title": "t" * 2000}), 413)


def test_search_with_post_on_a_resource_type(scim, people):
    r = scim.post("/Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                     "filter": 'userName sw "a"', "attributes": ["userName"]})
    assert r.status_code == 200, r.json()
    assert [u["userName"] for u in r.json()["Resources"]] == ["alice"]
