"""Whose address the per-IP send throttle counts: the connection's, past TRUSTED_PROXY_COUNT proxies
of our own, never an X-Forwarded-For entry that the caller wrote; and the body's `client_ip` only
from a client trusted to relay end users (the `verification:client-ip` scope, which the Keycloak
provider's client has)."""

import pytest
from django.core import mail

from tests.fake_twilio import twilio  # noqa: F401 (fixture)
from users import services
from users.models import Verification

pytestmark = pytest.mark.django_db
SEND = ["verification:write"]
RELAY = ["verification:write", "verification:client-ip"]
REQUESTS = {
    "/v1/phone-verifications": {"phone_number": "+15551230001"},
    "/v1/email-verifications": {"email": "someone@example.com"},
    "/v1/magic-links": {"email": "someone@example.com"},
    "/v1/magic-sms": {"phone_number": "+15551230001"},
}


def send_phone(client, number, forwarded=None, **body):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    return client.post("/v1/phone-verifications", {"phone_number": number, **body}, format="json", **headers)


def test_without_trusted_proxies_forwarded_for_is_ignored(make_client, tenant, twilio, settings):
    settings.VERIFICATION_SEND_RATE_PER_IP = "2/hour"
    client = make_client(tenant, SEND)
    assert send_phone(client, "+15551230010", forwarded="198.51.100.1").status_code == 201
    assert send_phone(client, "+15551230011", forwarded="198.51.100.2").status_code == 201
    # A new made-up address does not buy a new budget: the connection's address is counted.
    r = send_phone(client, "+15551230012", forwarded="198.51.100.3")
    assert r.status_code == 429 and r.json()["code"] == "throttled"
    assert set(Verification.objects.values_list("created_ip", flat=True)) == {"127.0.0.1"}


def test_with_one_trusted_proxy_the_address_it_saw_counts(make_client, tenant, twilio, settings):
    settings.VERIFICATION_SEND_RATE_PER_IP = "2/hour"
    settings.TRUSTED_PROXY_COUNT = 1
    client = make_client(tenant, SEND)
    # Our proxy appends the address it saw; whatever the caller put before it is theirs.
    assert send_phone(client, "+15551230010", forwarded="198.51.100.1, 203.0.113.5").status_code == 201
    assert send_phone(client, "+15551230011", forwarded="198.51.100.2, 203.0.113.5").status_code == 201
    assert send_phone(client, "+15551230012", forwarded="198.51.100.3, 203.0.113.5").status_code == 429
    assert send_phone(client, "+15551230012", forwarded="203.0.113.6").status_code == 201
    assert set(Verification.objects.values_list("created_ip", flat=True)) == {"203.0.113.5", "203.0.113.6"}


def test_with_two_trusted_proxies_the_second_address_from_the_right_counts(make_client, tenant, twilio, settings):
    settings.TRUSTED_PROXY_COUNT = 2
    client = make_client(tenant, SEND)
    assert send_phone(client, "+15551230010", forwarded="198.51.100.1, 203.0.113.5, 10.0.0.2").status_code == 201
    assert Verification.objects.get().created_ip == "203.0.113.5"


@pytest.mark.parametrize("path, body", REQUESTS.items())
def test_client_ip_in_the_body_needs_the_relay_scope(make_client, tenant, twilio, path, body):
    r = make_client(tenant, SEND).post(path, {**body, "client_ip": "203.0.113.7"}, format="json")
    assert r.status_code == 400 and "client_ip" in r.json()["fields"], r.content
    assert "verification:client-ip" in r.json()["fields"]["client_ip"][0]
    assert twilio.messages == [] and mail.outbox == [] and not Verification.objects.exists()


def test_a_relay_names_the_end_users_address(make_client, tenant, twilio, settings):
    settings.VERIFICATION_SEND_RATE_PER_IP = "2/hour"
    relay = make_client(tenant, RELAY)
    for number in ("+15551230010", "+15551230011"):
        assert send_phone(relay, number, client_ip="203.0.113.7").status_code == 201
    assert send_phone(relay, "+15551230012", client_ip="203.0.113.7").status_code == 429
    assert send_phone(relay, "+15551230012", client_ip="203.0.113.8").status_code == 201
    assert set(Verification.objects.values_list("created_ip", flat=True)) == {"203.0.113.7", "203.0.113.8"}


def test_the_keycloak_providers_client_is_a_relay():
    # connect_keycloak and the end-to-end tests give the provider's client every known scope.
    assert set(RELAY) <= services.KNOWN_SCOPES
