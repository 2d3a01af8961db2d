"""Share pages (Open Graph, escaping, the inventory source) and the mailing-list backends, with
local fake HTTP servers speaking Mailchimp's and Inventory's protocols."""

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest

from profiles import mailing, services
from tests.factories import CelebrityProfileFactory, UserFactory

pytestmark = pytest.mark.django_db

NASTY = '"><script>alert(1)</script>\' & <b>'


class MetaParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.meta, self.links, self.scripts = {}, {}, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta":
            self.meta[attrs.get("property") or attrs.get("name")] = attrs.get("content")
        elif tag == "link":
            self.links[attrs.get("rel")] = attrs.get("href")
        elif tag == "script":
            self.scripts += 1


def parse(response):
    parser = MetaParser()
    parser.feed(response.content.decode())
    return parser


class TestCelebritySharePage:
    def test_open_graph_and_twitter_metadata(self, client, tenant):
        star = CelebrityProfileFactory(user__tenant=tenant, display_name="Ada Lovelace", bio="First programmer.",
                                       images=[{"url": "https://img.example/ada.png"}])
        services.set_store_code(star, "ada")
        for key in (str(star.pk), "ada"):
            r = client.get(f"/share/acme/celebrities/{key}")
            assert r.status_code == 200 and r["Content-Type"].startswith("text/html")
            page = parse(r)
            assert page.meta["og:title"] == page.meta["twitter:title"] == "Ada Lovelace"
            assert page.meta["og:description"] == "First programmer."
            assert page.meta["og:image"] == page.meta["twitter:image"] == "https://img.example/ada.png"
            assert page.meta["twitter:card"] == "summary_large_image"
            assert page.meta["og:url"] == page.links["canonical"] == "http://testserver/share/acme/celebrities/ada"

    def test_markup_and_quotes_in_fields_are_escaped(self, client, tenant):
        CelebrityProfileFactory(user__tenant=tenant, display_name=NASTY, bio=NASTY, title=NASTY,
                                images=[{"url": 'https://img.example/a.png?x="><script>'}], store_code="nasty")
        r = client.get("/share/acme/celebrities/nasty")
        html = r.content.decode()
        assert "<script>" not in html and '"><' not in html
        page = parse(r)
        assert page.scripts == 0
        assert page.meta["og:title"] == NASTY  # the browser reads back exactly the stored value
        assert page.meta["og:image"] == 'https://img.example/a.png?x="><script>'

    def test_canonical_origin_from_settings_and_banner_fallback(self, client, tenant, settings):
        settings.SHARE_BASE_URL = "https://fans.example.com/"
        settings.SHARE_FACEBOOK_APP_ID = "12345"
        star = CelebrityProfileFactory(user__tenant=tenant, banners=[{"url": "https://img.example/b.png"}])
        page = parse(client.get(f"/share/acme/celebrities/{star.pk}"))
        assert page.links["canonical"] == f"https://fans.example.com/share/acme/celebrities/{star.pk}"
        assert page.meta["og:image"] == "https://img.example/b.png" and page.meta["fb:app_id"] == "12345"

    def test_deleted_foreign_and_unknown_profiles_are_404(self, client, tenant, other_tenant):
        gone = CelebrityProfileFactory(user__tenant=tenant, store_code="gone")
        services.toggle_celebrity_deleted(gone)
        CelebrityProfileFactory(user__tenant=other_tenant, store_code="theirs")
        for path in ("acme/celebrities/gone", f"acme/celebrities/{gone.pk}", "acme/celebrities/theirs",
                     "nobody/celebrities/theirs"):
            r = client.get(f"/share/{path}")
            assert r.status_code == 404 and b"nothing to share" in r.content
        assert client.post("/share/globex/celebrities/theirs").status_code == 405


@pytest.fixture
def inventory(fake_http_server, settings):
    settings.INVENTORY_SOURCE = "profiles.events_source.HttpEventSource"
    settings.INVENTORY_BASE_URL = fake_http_server.url
    settings.INVENTORY_API_TOKEN = "inv-token"
    events = {}

    def respond(method, path, headers, body):
        if method != "POST" or path != "/graphql" or headers.get("Authorization") != "Bearer inv-token":
            return 400, {"errors": [{"message": "bad request"}]}
        event = events.get((body["variables"]["tenant"], body["variables"]["id"]))
        return 200, {"data": {"event": event}}

    fake_http_server.respond = respond
    fake_http_server.events = events
    return fake_http_server


class TestEventSharePage:
    def test_event_page_from_the_inventory_service(self, client, tenant, inventory):
        star = CelebrityProfileFactory(user__tenant=tenant, display_name="Ada",
                                       images=[{"url": "https://img.example/ada.png"}])
        inventory.events[("acme", "ev-1")] = {"id": "ev-1", "title": f"Live {NASTY}", "description": "A talk.",
                                              "imageUrl": None, "startsAt": "2030-01-01T18:00:00Z",
                                              "celebrityUserId": str(star.pk)}
        r = client.get("/share/acme/events/ev-1")
        assert r.status_code == 200
        page = parse(r)
        assert page.meta["og:title"] == f"Live {NASTY}" and page.scripts == 0
        assert page.meta["og:image"] == "https://img.example/ada.png"  # the celebrity's, the event has none
        assert page.links["canonical"] == "http://testserver/share/acme/events/ev-1"
        assert inventory.requests[0]["body"]["variables"] == {"id": "ev-1", "tenant": "acme"}

    def test_unknown_event_is_404_and_a_failing_inventory_503(self, client, tenant, inventory):
        assert client.get("/share/acme/events/nope").status_code == 404
        assert client.get("/share/acme/events/bad%20id").status_code == 404
        inventory.respond = lambda *a: (500, {"errors": [{"message": "down"}]})
        assert client.get("/share/acme/events/ev-1").status_code == 503

    def test_unreachable_inventory_is_503(self, client, tenant, settings):
        settings.INVENTORY_SOURCE = "profiles.events_source.HttpEventSource"
        settings.INVENTORY_BASE_URL = "http://127.0.0.1:9"  # discard port: nothing listens
        assert client.get("/share/acme/events/ev-1").status_code == 503

    def test_the_null_source_knows_no_events(self, client, tenant):
        assert client.get("/share/acme/events/ev-1").status_code == 404


@pytest.fixture
def mailchimp(fake_http_server, settings):
    """A fake of Mailchimp's Marketing API v3 member upsert."""
    settings.MAILING_LIST_BACKEND = "profiles.mailing.MailchimpMailingList"
    settings.MAILCHIMP_API_KEY = "0123abcd-us21"
    settings.MAILCHIMP_LIST_ID = "list42"
    settings.MAILCHIMP_BASE_URL = fake_http_server.url
    members = {}

    def respond(method, path, headers, body):
        match = re.fullmatch(r"/3\.0/lists/(\w+)/members/([0-9a-f]{32})", path)
        expected = "Basic " + base64.b64encode(b"identity:0123abcd-us21").decode()
        if headers.get("Authorization") != expected:
            return 401, {"title": "API Key Invalid", "status": 401, "detail": "Your API key may be invalid."}
        if method != "PUT" or not match or match.group(1) != "list42":
            return 404, {"title": "Resource Not Found", "status": 404, "detail": "No such list."}
        if hashlib.md5(body["email_address"].lower().encode()).hexdigest() != match.group(2):
            return 400, {"title": "Invalid Resource", "status": 400, "detail": "The hash does not match."}
        members[match.group(2)] = {**members.get(match.group(2), {}), **body}
        return 200, {"id": match.group(2), "email_address": body["email_address"], "status": "subscribed"}

    fake_http_server.respond = respond
    fake_http_server.members = members
    return fake_http_server


class TestMailingList:
    def test_mailchimp_upserts_the_member_by_email_hash(self, papi, tenant, mailchimp):
        fan = UserFactory(password=None, tenant=tenant, email="fan@example.com", first_name="Fiona", last_name="Fan")
        fan.email = "Fan@Example.com"  # Mailchimp hashes the lower-case address
        mailing.get_backend().subscribe(email=fan.email, first_name="Fiona", last_name="Fan")
        assert papi.post(f"/v1/fans/{fan.pk}:subscribe-mailing-list").status_code == 204
        assert papi.post(f"/v1/fans/{fan.pk}:subscribe-mailing-list").status_code == 204  # an upsert: idempotent
        digest = hashlib.md5(b"fan@example.com").hexdigest()
        assert list(mailchimp.members) == [digest]
        assert mailchimp.members[digest]["merge_fields"] == {"FNAME": "Fiona", "LNAME": "Fan"}
        assert mailchimp.members[digest]["status_if_new"] == "subscribed"
        assert {r["method"] for r in mailchimp.requests} == {"PUT"}

    def test_refusals_and_outages_are_502(self, papi, tenant, mailchimp, settings):
        fan = UserFactory(password=None, tenant=tenant)
        settings.MAILCHIMP_API_KEY = "wrong-us21"
        r = papi.post(f"/v1/fans/{fan.pk}:subscribe-mailing-list")
        assert r.status_code == 502 and r.json()["code"] == "upstream_error"
        assert "API key" in r.json()["message"]
        settings.MAILCHIMP_BASE_URL = "http://127.0.0.1:9"
        assert papi.post(f"/v1/fans/{fan.pk}:subscribe-mailing-list").status_code == 502

    def test_a_fan_without_email_is_400(self, papi, tenant, mailchimp):
        fan = UserFactory(password=None, tenant=tenant, email=None)
        r = papi.post(f"/v1/fans/{fan.pk}:subscribe-mailing-list")
        assert r.status_code == 400 and "email" in r.json()["fields"]
        assert mailchimp.requests == []

    def test_console_backend_is_the_default_and_logs(self, papi, tenant, caplog):
        fan = UserFactory(password=None, tenant=tenant, email="quiet@example.com")
        with caplog.at_level("INFO", logger="profiles.mailing"):
            assert papi.post(f"/v1/fans/{fan.pk}:subscribe-mailing-list").status_code == 204
        assert "quiet@example.com" in caplog.text

    def test_default_base_url_is_the_keys_data_centre(self, settings):
        settings.MAILCHIMP_BASE_URL = ""
        backend = mailing.MailchimpMailingList(api_key="abc-us7", list_id="l")
        assert backend.base_url == "https://us7.api.mailchimp.com"
