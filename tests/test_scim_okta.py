"""Okta's provisioning, step by step, as its SCIM 2.0 guide describes what Okta sends.

Okta tests the connection with a two-user page, looks a user up by `userName` before creating
it, updates with PUT, deactivates with a PATCH that has no `path`, never deletes users, and pushes
groups with PATCH on their members (each with a `display`).
"""

from urllib.parse import quote

import pytest

from tests.scim_client import GROUP, LIST, PATCH, USER, Scim, scim_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def okta(tenant):
    return Scim(scim_token(tenant, name="okta"))


def okta_user(**changes):
    """What Okta posts for a new user with the default attribute mapping."""
    return {
        "schemas": [USER],
        "userName": "Jane.Doe@example.com",
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "emails": [{"primary": True, "value": "Jane.Doe@example.com", "type": "work"}],
        "displayName": "Jane Doe",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "active": True,
        **changes,
    }


def filter_query(expression):
    return "filter=" + quote(expression)


def test_okta_provisions_updates_deactivates_and_pushes_groups(okta, api, tenant):
    # 1. "Test connector configuration": a page of two users.
    r = okta.get("/Users?startIndex=1&count=2")
    assert r.status_code == 200 and r["Content-Type"] == "application/scim+json"
    assert r.json() == {"schemas": [LIST], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}

    # 2. Before creating, Okta looks the user up by userName: nobody yet.
    lookup = filter_query('userName eq "Jane.Doe@example.com"')
    r = okta.get(f"/Users?{lookup}&startIndex=1&count=100")
    assert r.status_code == 200 and r.json()["totalResults"] == 0 and r.json()["Resources"] == []

    # 3. Create.
    r = okta.post("/Users", okta_user())
    assert r.status_code == 201, r.json()
    jane = r.json()
    assert r["Location"] == jane["meta"]["location"] == f"http://testserver/scim/v2/Users/{jane['id']}"
    assert r["ETag"] == jane["meta"]["version"] and r["ETag"].startswith('W/"')
    assert jane["userName"] == "jane.doe@example.com"  # the backend's normalisation
    assert jane["emails"] == [{"value": "jane.doe@example.com", "type": "work"}]
    assert jane["name"] == {"givenName": "Jane", "familyName": "Doe"}
    assert (jane["externalId"], jane["displayName"], jane["locale"], jane["active"]) == (
        "00ujl29u0le5T6Aj10h7", "Jane Doe", "en-US", True)

    # The same backend user that /v1 (and so Keycloak) sees.
    v1 = api.get(f"/v1/users/{jane['id']}").json()
    assert (v1["username"], v1["email"], v1["first_name"], v1["last_name"], v1["enabled"]) == (
        "jane.doe@example.com", "jane.doe@example.com", "Jane", "Doe", True)
    assert v1["attributes"] == {"displayName": ["Jane Doe"], "locale": ["en-US"]}

    # 4. The lookup now finds her, whatever the case of the userName.
    lookup = filter_query('userName eq "JANE.DOE@example.com"')
    r = okta.get(f"/Users?{lookup}&startIndex=1&count=100")
    assert r.json()["totalResults"] == 1 and r.json()["Resources"][0]["id"] == jane["id"]

    # Okta creating her again (another app assignment) is a conflict, not a second user.
    r = okta.post("/Users", okta_user(externalId="00uother"))
    assert r.status_code == 409 and r.json()["scimType"] == "uniqueness" and r.json()["status"] == "409"

    # 5. Profile push: Okta PUTs the whole user.
    r = okta.put(f"/Users/{jane['id']}", okta_user(name={"givenName": "Janet", "familyName": "Doe"},
                                                   displayName="Janet Doe", locale="en-GB"))
    assert r.status_code == 200, r.json()
    assert r.json()["name"]["givenName"] == "Janet" and r["ETag"] != jane["meta"]["version"]
    v1 = api.get(f"/v1/users/{jane['id']}").json()
    assert v1["first_name"] == "Janet" and v1["attributes"] == {"displayName": ["Janet Doe"], "locale": ["en-GB"]}

    # 6. Deactivation: replace with a value and no path.
    r = okta.patch(f"/Users/{jane['id']}", {"schemas": [PATCH],
                                            "Operations": [{"op": "replace", "value": {"active": False}}]})
    assert r.status_code == 200 and r.json()["active"] is False
    v1 = api.get(f"/v1/users/{jane['id']}").json()
    assert v1["enabled"] is False and v1["deactivated_at"] is not None

    # Reactivation is the same PATCH with true.
    r = okta.patch(f"/Users/{jane['id']}", {"schemas": [PATCH],
                                            "Operations": [{"op": "replace", "value": {"active": True}}]})
    assert r.status_code == 200 and r.json()["active"] is True
    assert api.get(f"/v1/users/{jane['id']}").json()["enabled"] is True

    # 7. Group push: create, add a member (with Okta's display), rename, remove the member.
    r = okta.post("/Groups", {"schemas": [GROUP], "displayName": "Engineering", "members": []})
    assert r.status_code == 201, r.json()
    group = r.json()
    r = okta.patch(f"/Groups/{group['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": jane["id"], "display": "jane.doe@example.com"}]}]})
    assert r.status_code == 200, r.json()
    assert [m["value"] for m in r.json()["members"]] == [jane["id"]]
    assert api.get(f"/v1/users/{jane['id']}").json()["groups"] == ["/Engineering"]
    assert okta.get(f"/Users/{jane['id']}").json()["groups"] == [{
        "value": group["id"], "$ref": f"http://testserver/scim/v2/Groups/{group['id']}",
        "display": "Engineering", "type": "direct"}]

    r = okta.patch(f"/Groups/{group['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "value": {"id": group["id"], "displayName": "Platform-Engineering"}}]})
    assert r.status_code == 200 and r.json()["displayName"] == "Platform-Engineering"
    assert api.get(f"/v1/users/{jane['id']}").json()["groups"] == ["/Platform-Engineering"]

    r = okta.patch(f"/Groups/{group['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "remove", "path": f'members[value eq "{jane["id"]}"]'}]})
    assert r.status_code == 200 and "members" not in r.json()
    assert api.get(f"/v1/users/{jane['id']}").json()["groups"] == []

    # Unpushing a group deletes it; users stay (Okta never deletes them).
    assert okta.delete(f"/Groups/{group['id']}").status_code == 204
    assert okta.get(f"/Groups/{group['id']}").status_code == 404
    assert okta.get(f"/Users/{jane['id']}").status_code == 200


def test_okta_import_pages_through_every_user(okta, tenant):
    for n in range(5):
        assert okta.post("/Users", okta_user(userName=f"user{n}@example.com", externalId=f"ext{n}",
                                             emails=[{"value": f"user{n}@example.com", "type": "work",
                                                      "primary": True}])).status_code == 201
    seen, start = [], 1
    while True:
        page = okta.get(f"/Users?startIndex={start}&count=2").json()
        assert page["totalResults"] == 5 and page["startIndex"] == start
        seen += [user["userName"] for user in page["Resources"]]
        if not page["Resources"]:
            break
        start += page["itemsPerPage"]
    assert seen == [f"user{n}@example.com" for n in range(5)]


def test_okta_changes_are_in_the_audit_trail_as_its_clients(okta, tenant):
    from audit.models import AuditEvent

    created = okta.post("/Users", okta_user())
    assert created.status_code == 201, created.json()
    okta.patch(f"/Users/{created.json()['id']}",
               {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]})
    events = list(AuditEvent.objects.filter(tenant=tenant, object_id=created.json()["id"]).order_by("id"))
    assert [e.action for e in events] == ["user.created", "user.updated"]
    assert events[1].changes["is_active"] == {"old": True, "new": False}
    assert {(e.actor_kind, e.actor_display) for e in events} == {("api_client", "okta")}


def test_the_operators_tenant_is_not_provisioned_by_scim(operators):
    scim = Scim(scim_token(operators, name="okta"))
    r = scim.post("/Users", okta_user())
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    assert not operators.users.exists()
