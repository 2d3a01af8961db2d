"""Bad input is a 400 (or 404) with the error body, never a 500: OPTIONS, damaged cursors, deep
JSON, oversized searches, and NUL characters, which PostgreSQL stores in no text or jsonb column."""

import base64
import json
import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from tests.factories import CelebrityProfileFactory, UserFactory

pytestmark = pytest.mark.django_db
ERROR_KEYS = {"code", "message"}
SAMPLES = {"uuid": str(uuid.UUID(int=1)), "slug": "acme", "str": "sample", "int": "1", "path": "sample"}


def routes(patterns=None, prefix=""):
    """Every path() of the URLconf, its converters filled with sample values."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue  # the admin's regular expressions: Django's own views
        route = prefix + re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLES[m.group(1) or "str"], entry.pattern._route)
        if isinstance(entry, URLResolver):
            yield from routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield "/" + route


def assert_error(r, status, field=None):
    assert r.status_code == status, (r.status_code, r.content[:500])
    body = r.json()
    assert ERROR_KEYS <= set(body) <= ERROR_KEYS | {"fields"}, body
    if field is not None:
        assert field in body["fields"], body


# --- OPTIONS ---------------------------------------------------------------------------------


def test_options_on_every_route_is_never_a_server_error(api):
    paths = list(routes())
    assert len([p for p in paths if p.startswith("/v1/")]) >= 60  # the walk found the API
    failures = {}
    for path in paths:
        r = api.options(path)
        if r.status_code >= 500:
            failures[path] = r.status_code
    assert not failures


def test_options_answers_the_allowed_methods_and_no_fields(api, tenant):
    user = UserFactory(tenant=tenant, password=None)
    r = api.options(f"/v1/users/{user.pk}/roles/admin")
    assert r.status_code == 200
    assert set(r["Allow"].replace(" ", "").split(",")) == {"POST", "DELETE", "OPTIONS"}
    assert set(r.json()) == {"name", "description", "renders", "parses"}


def test_options_still_needs_a_credential(anon):
    assert_error(anon.options("/v1/users"), 401)


# --- cursors ---------------------------------------------------------------------------------


def encoded(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", ["é", "ünïcödé", "%E2%98%83", encoded("a\x00b"), "!!!!", base64.urlsafe_b64encode(b"\xff\xfe").decode()])
@pytest.mark.parametrize("endpoint", ["users", "users:search", "roles", "groups", "celebrities", "referral-codes",
                                      "index-elements"])
def test_a_damaged_cursor_is_400(api, papi, endpoint, cursor):
    client = papi if endpoint in ("celebrities", "referral-codes", "index-elements") else api
    assert_error(client.get(f"/v1/{endpoint}", {"cursor": cursor}), 400, "cursor")


def test_a_cursor_of_json_that_is_no_position_is_400(papi):
    for position in ([1], [[1], "x"], ["a", "not-a-uuid"], {"a": 1}):
        assert_error(papi.get("/v1/celebrities", {"cursor": encoded(json.dumps(position))}), 400, "cursor")


# --- deep JSON -------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [33, 5_000, 100_000])
def test_deeply_nested_json_is_400(api, levels):
    body = '{"username": "deep", "attributes": {"a": ' + "[" * levels + "]" * levels + "}}"
    r = api.generic("POST", "/v1/users", body, content_type="application/json")
    assert_error(r, 400)
    assert r.json()["code"] == "parse_error"


def test_json_nested_within_the_limit_reaches_validation(api):
    body = {"username": "nested", "attributes": {"a": [[["x"]]]}}
    assert_error(api.post("/v1/users", body, format="json"), 400, "attributes")


# --- searches too large to plan --------------------------------------------------------------


@pytest.mark.parametrize("query, field", [
    ({"search": " ".join(f"w{i}" for i in range(3000))}, "search"),
    ({"search": " ".join(["ab"] * 11)}, "search"),
    ({f"attr.a{i}": "x" for i in range(1000)}, "attr.<name>"),
    ({f"attr.a{i}": "x" for i in range(21)}, "attr.<name>"),
    ({"q": " ".join(f"k{i}:v" for i in range(2000))}, "q"),
    ({"q": " ".join(f"k{i}:v" for i in range(21))}, "attr.<name>"),
    ({"group": [f"/g{i}" for i in range(101)]}, "group"),
])
def test_searches_too_large_to_plan_are_400(api, query, field):
    for endpoint in ("users:search", "users:count"):
        assert_error(api.get(f"/v1/{endpoint}", query), 400, field)


def test_celebrity_name_search_reads_a_bounded_number_of_words(papi, tenant):
    CelebrityProfileFactory(user=UserFactory(tenant=tenant, first_name="Ada", password=None), display_name="Ada L")
    r = papi.get("/v1/celebrities", {"q": "ada " + " ".join(["zz"] * 3000)})
    assert_error(r, 400, "q")  # longer than the filter's 200 characters
    r = papi.get("/v1/celebrities", {"q": " ".join(["ada"] * 45)})  # 179 characters, 45 words
    assert r.status_code == 200 and len(r.json()["results"]) == 1


# --- NUL characters --------------------------------------------------------------------------

NUL = "a\x00b"


@pytest.mark.parametrize("query, field", [
    ({"attr.colour": NUL}, "attr.colour"),
    ({"group": NUL}, "group"),
    ({"search": NUL}, "search"),
    ({"q": f"colour:{NUL}"}, "q"),
    ({"username": NUL}, "username"),
    ({"cursor": NUL}, "cursor"),
    ({"limit": NUL}, "limit"),
])
def test_nul_in_a_search_is_400(api, query, field):
    for endpoint in ("users:search", "users:count", "users"):
        if endpoint == "users" and field not in ("cursor", "limit"):
            continue
        if endpoint == "users:count" and field in ("cursor", "limit"):
            continue
        assert_error(api.get(f"/v1/{endpoint}", query), 400, field)


@pytest.mark.parametrize("body, field", [
    ({"username": NUL}, "username"),
    ({"username": "nul", "first_name": NUL}, "first_name"),
    ({"username": "nul", "last_name": NUL}, "last_name"),
    ({"username": "nul", "email": f"{NUL}@example.com"}, "email"),
    ({"username": "nul", "attributes": {"colour": [NUL]}}, "attributes"),
    ({"username": "nul", "attributes": {"colour": NUL}}, "attributes"),
    ({"username": "nul", "attributes": {NUL: ["x"]}}, "attributes"),
    ({"username": "nul", "password": f"long enough {NUL} password"}, "password"),
    ({"username": "nul", NUL: "x"}, "non_field_errors"),
])
def test_nul_in_a_user_write_is_400(api, tenant, body, field):
    assert_error(api.post("/v1/users", body, format="json"), 400, field)
    user = UserFactory(tenant=tenant, password=None)
    changes = {k: v for k, v in body.items() if k not in ("username", "password")} or body
    assert_error(api.patch(f"/v1/users/{user.pk}", changes, format="json"), 400)


def test_nul_in_profile_writes_is_400(papi, tenant):
    profile = CelebrityProfileFactory(user=UserFactory(tenant=tenant, password=None))
    for field in ("bio", "metadata", "display_name", "company_name", "title"):
        r = papi.patch(f"/v1/celebrities/{profile.pk}", {field: NUL}, format="json")
        assert_error(r, 400, field)
    r = papi.patch(f"/v1/celebrities/{profile.pk}", {"images": [{"url": "https://x.example/a.png",
                                                                    "meta_data": NUL}]}, format="json")
    assert_error(r, 400, "images")
    assert_error(papi.post(f"/v1/celebrities/{profile.pk}/shortlinks", {"name": "n", "body": NUL}, format="json"),
                 400, "body")
    assert_error(papi.put("/v1/preferences/default_language", {"preference_value": NUL}, format="json"), 400,
                 "preference_value")
    assert_error(papi.post("/v1/referral-codes", {"code": "ABC", "limit": 1, "type": NUL}, format="json"), 400, "type")
    assert_error(papi.post("/v1/index-elements", {"element_type": "text", "position": 1, "title": NUL},
                           format="json"), 400, "title")


@pytest.mark.parametrize("path, field", [
    ("/v1/roles/a%00b", "name"),
    ("/v1/groups?path=%2Fa%00b", "path"),
    ("/v1/referral-codes?type=a%00b", "type"),
    ("/v1/celebrities?q=a%00b", "q"),
])
def test_nul_in_the_url_is_400(api, papi, path, field):
    client = papi if "/roles/" not in path and "/groups" not in path else api
    method = client.delete if "/roles/" in path else client.get
    assert_error(method(path), 400, field)


def test_nul_in_a_path_parameter_of_a_user_route_is_400(api, tenant):
    user = UserFactory(tenant=tenant, password=None)
    assert_error(api.post(f"/v1/users/{user.pk}/roles/a%00b"), 400, "name")


def test_nul_in_a_public_store_code_is_not_found(anon, tenant):
    assert_error(anon.get("/v1/tenants/acme/celebrities/a%00b"), 400, "id_or_store_code")
    assert anon.get("/share/acme/celebrities/a%00b").status_code == 404


def test_a_body_over_the_upload_limit_is_400_with_the_error_body(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"username": "big", "attributes": {"a": ["x" * 2000]}})
    r = api.generic("POST", "/v1/users", body, content_type="application/json")
    assert_error(r, 400)
    assert r["Content-Type"] == "application/json"


def test_a_picture_in_a_patch_needs_its_url(papi, tenant):
    profile = CelebrityProfileFactory(user=UserFactory(tenant=tenant, password=None))
    for field in ("banners", "images"):
        assert_error(papi.patch(f"/v1/celebrities/{profile.pk}", {field: [{}]}, format="json"), 400, field)


# --- what the schema states is what the API holds --------------------------------------------


def test_a_request_body_is_a_json_object(make_client, tenant):
    client = make_client(tenant, ["verification:write"])
    for body in ("[null, null]", "1", '"text"', "null"):
        r = client.generic("POST", "/v1/phone-verifications", body, content_type="application/json")
        assert_error(r, 400)


def test_every_paging_alias_given_is_checked(api):
    assert_error(api.get("/v1/users", {"limit": 10, "max": 5000}), 400, "max")
    assert_error(api.get("/v1/users", {"offset": 0, "first": -1}), 400, "first")
    assert_error(api.get("/v1/groups?offset="), 400, "offset")
    assert api.get("/v1/users", {"limit": 10, "max": 10}).status_code == 200


@pytest.mark.parametrize("path, body, field", [
    ("/v1/roles", {"name": "r1", "description": 0}, "description"),
    ("/v1/referral-codes", {"code": "A1", "limit": "5"}, "limit"),
    ("/v1/referral-codes", {"code": "A1", "limit": True}, "limit"),
    ("/v1/index-elements", {"element_type": "text", "position": 1, "is_published": "yes"}, "is_published"),
    ("/v1/index-elements:reorder", {"ids": "not a list"}, "ids"),
    ("/v1/index-elements:reorder", {"ids": [1]}, "ids"),
])
def test_values_have_the_json_type_of_the_schema(api, papi, path, body, field):
    client = api if path == "/v1/roles" else papi
    assert_error(client.post(path, body, format="json"), 400, field)


def test_a_blank_id_or_choice_filter_is_400_and_a_blank_text_filter_is_none(papi):
    assert_error(papi.get("/v1/fan-media?media_id="), 400, "media_id")
    assert_error(papi.get("/v1/fan-media?fan_user_id=%1E"), 400, "fan_user_id")
    assert_error(papi.get("/v1/referral-codes?assigned_to="), 400, "assigned_to")
    assert_error(papi.get("/v1/celebrities?status="), 400, "status")
    assert papi.get("/v1/referral-codes?type=").status_code == 200
    assert papi.get("/v1/celebrities?q=").status_code == 200


def test_a_blank_search_flag_is_400(api):
    for endpoint in ("users:search", "users:count"):
        assert_error(api.get(f"/v1/{endpoint}?enabled="), 400, "enabled")
