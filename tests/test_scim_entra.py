"""Microsoft Entra's provisioning, step by step, as its SCIM guide shows Entra's requests.

Entra capitalises operations (`Replace`), sends booleans as strings (`"False"`), writes e-mail
addresses through `emails[type eq "work"].value`, lists groups without members, removes members
with `members[value eq "…"]` (or with a `value` naming them), sends the manager as a bare id,
disables a user with `active=false` before deleting it, and expects a lookup that matches nobody to
answer 200 with an empty list.
"""

from urllib.parse import quote

import pytest

from tests.scim_client import ENTERPRISE, GROUP, PATCH, USER, Scim, scim_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def entra(tenant):
    return Scim(scim_token(tenant, name="entra"))


def patch(*operations):
    return {"schemas": [PATCH], "Operations": list(operations)}


def lookup(scim, resource, expression, extra=""):
    r = scim.get(f"/{resource}?filter={quote(expression)}{extra}")
    assert r.status_code == 200, r.json()
    return r.json()


def entra_user(user_name, external_id, **changes):
    """Entra's create request from its SCIM guide, `roles: []` and `name.formatted` included."""
    return {
        "schemas": [USER, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
        **changes,
    }


def test_entra_provisions_a_user_then_disables_and_deletes_it(entra, api):
    upn = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com"

    # Matching: a lookup that finds nobody is 200 with an empty list.
    assert lookup(entra, "Users", f'userName eq "{upn}"') == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}
    assert entra.get("/Users/00000000-0000-0000-0000-000000000000").status_code == 404

    r = entra.post("/Users", entra_user(upn, "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef", **{
        ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations"}}))
    assert r.status_code == 201, r.json()
    user = r.json()
    assert user["userName"] == upn.lower()
    assert user["name"] == {"familyName": "familyName", "givenName": "givenName"}
    assert user[ENTERPRISE] == {"employeeNumber": "701984", "department": "Tour Operations"}

    found = lookup(entra, "Users", f'userName eq "{upn}"')
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user["id"]
    found = lookup(entra, "Users", 'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"')
    assert [u["id"] for u in found["Resources"]] == [user["id"]]

    # A manager, as Entra sends it: the manager's id alone.
    manager = entra.post("/Users", entra_user("boss@testuser.com", "boss-object-id")).json()
    r = entra.patch(f"/Users/{user['id']}", patch(
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager["id"]}))
    assert r.status_code == 200, r.json()
    assert r.json()[ENTERPRISE]["manager"] == {
        "value": manager["id"], "$ref": f"http://testserver/scim/v2/Users/{manager['id']}"}

    # Attribute updates: capitalised operations, a value-path e-mail, and name.formatted again.
    r = entra.patch(f"/Users/{user['id']}", patch(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Replace", "path": "name.formatted", "value": "givenName updatedFamilyName"},
        {"op": "Add", "path": "title", "value": "Engineer"},
        {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 (555) 010-2000"},
    ))
    assert r.status_code == 200, r.json()
    assert r.json()["emails"] == [{"value": "updatedemail@microsoft.com", "type": "work"}]
    assert r.json()["phoneNumbers"] == [{"value": "+15550102000", "type": "mobile"}]
    v1 = api.get(f"/v1/users/{user['id']}").json()
    assert (v1["email"], v1["last_name"], v1["phone_number"]) == (
        "updatedemail@microsoft.com", "updatedFamilyName", "+15550102000")
    assert v1["attributes"] == {"title": ["Engineer"], "employeeNumber": ["701984"],
                                "department": ["Tour Operations"], "manager": [manager["id"]]}
    found = lookup(entra, "Users", 'emails[type eq "work"].value eq "UpdatedEmail@microsoft.com"')
    assert [u["id"] for u in found["Resources"]] == [user["id"]]

    # A PATCH of name.formatted alone changes nothing and succeeds.
    r = entra.patch(f"/Users/{user['id']}", patch({"op": "Replace", "path": "name.formatted", "value": "x y"}))
    assert r.status_code == 200 and r.json()["name"] == {"familyName": "updatedFamilyName", "givenName": "givenName"}

    # Soft delete: active as the string "False", then the DELETE.
    r = entra.patch(f"/Users/{user['id']}", patch({"op": "Replace", "path": "active", "value": "False"}))
    assert r.status_code == 200 and r.json()["active"] is False
    assert api.get(f"/v1/users/{user['id']}").json()["enabled"] is False
    assert entra.delete(f"/Users/{user['id']}").status_code == 204
    assert entra.get(f"/Users/{user['id']}").status_code == 404
    assert api.get(f"/v1/users/{user['id']}").status_code == 404
    assert lookup(entra, "Users", f'userName eq "{upn}"')["totalResults"] == 0


def test_entra_provisions_a_group_and_its_members(entra, api):
    alice = entra.post("/Users", entra_user("alice@contoso.com", "alice-oid")).json()
    bob = entra.post("/Users", entra_user("bob@contoso.com", "bob-oid")).json()

    # Matching a group: listed without members; none yet.
    assert lookup(entra, "Groups", 'displayName eq "Sales"', "&excludedAttributes=members")["Resources"] == []

    r = entra.post("/Groups", {"schemas": [GROUP], "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                               "displayName": "Sales", "meta": {"resourceType": "Group"}})
    assert r.status_code == 201, r.json()
    group = r.json()

    r = entra.patch(f"/Groups/{group['id']}", patch(
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": alice["id"]},
                                                   {"$ref": None, "value": bob["id"]}]}))
    assert r.status_code == 200, r.json()
    assert sorted(m["value"] for m in r.json()["members"]) == sorted([alice["id"], bob["id"]])

    listed = lookup(entra, "Groups", 'displayName eq "sales"', "&excludedAttributes=members")
    assert listed["totalResults"] == 1 and "members" not in listed["Resources"][0]
    assert listed["Resources"][0]["externalId"] == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    member_check = lookup(entra, "Groups", f'id eq "{group["id"]}" and members[value eq "{bob["id"]}"]',
                          "&excludedAttributes=members")
    assert member_check["totalResults"] == 1

    # Remove by value path, then Entra's other form: a `value` naming the member.
    r = entra.patch(f"/Groups/{group['id']}", patch({"op": "Remove", "path": f'members[value eq "{alice["id"]}"]'}))
    assert r.status_code == 200 and [m["value"] for m in r.json()["members"]] == [bob["id"]]
    r = entra.patch(f"/Groups/{group['id']}", patch({"op": "Remove", "path": "members",
                                                     "value": [{"value": bob["id"]}]}))
    assert r.status_code == 200 and "members" not in r.json()
    assert api.get(f"/v1/users/{bob['id']}").json()["groups"] == []

    r = entra.patch(f"/Groups/{group['id']}", patch({"op": "Replace", "path": "displayName", "value": "Sales-EMEA"}))
    assert r.status_code == 200 and r.json()["displayName"] == "Sales-EMEA"
    assert [g["path"] for g in api.get("/v1/groups").json()["results"]] == ["/Sales-EMEA"]

    assert entra.delete(f"/Groups/{group['id']}").status_code == 204
    assert lookup(entra, "Groups", f'id eq "{group["id"]}"')["totalResults"] == 0
