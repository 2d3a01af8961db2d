"""Phone and e-mail verification: codes by SMS (a fake Twilio) and e-mail (Django's locmem outbox),
attempts, expiry, hashing, throttling, tenant isolation, and proofs applied to users."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tests.factories import UserFactory
from tests.fake_twilio import ACCOUNT_SID, SENDER, twilio  # noqa: F401 (fixture)
from users import verification
from users.models import User, Verification

pytestmark = pytest.mark.django_db
PHONE = "+15551230001"
SCOPES = ["verification:write", "users:read", "users:write"]


@pytest.fixture
def vapi(tenant, make_client):
    return make_client(tenant, SCOPES)


def send_phone(vapi, phone=PHONE, **extra):
    return vapi.post("/v1/phone-verifications", {"phone_number": phone, **extra}, format="json")


def confirm(vapi, vid, code, kind="phone"):
    return vapi.post(f"/v1/{kind}-verifications/{vid}:confirm", {"code": code}, format="json")


def wrong(code):
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def test_phone_code_by_twilio_confirms_once_and_gives_a_proof(vapi, twilio, tenant):
    r = send_phone(vapi, "+1 (555) 123-0001")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["channel"] == "sms" and body["destination"] == PHONE
    [message] = twilio.messages
    assert message["To"] == PHONE and message["From"] == SENDER and "Acme" in message["Body"]
    assert twilio.requests[0]["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    code = twilio.last_code(PHONE)

    r = confirm(vapi, body["id"], code)
    assert r.status_code == 200, r.content
    proof = r.json()
    assert proof["destination"] == PHONE and proof["channel"] == "sms" and proof["proof"]
    assert verification.check_proof(tenant, "sms", proof["proof"], "p") == PHONE
    # The code is spent.
    r = confirm(vapi, body["id"], code)
    assert r.status_code == 400 and r.json()["code"] == "invalid"


def test_the_row_holds_only_a_keyed_hash_of_the_code(vapi, twilio):
    vid = send_phone(vapi).json()["id"]
    code = twilio.last_code(PHONE)
    row = Verification.objects.get(pk=vid)
    assert code not in row.code_hash and len(row.code_hash) == 64
    import hashlib
    assert row.code_hash != hashlib.sha256(code.encode()).hexdigest()


def test_wrong_codes_then_the_code_is_dead_even_the_right_one(vapi, twilio):
    vid = send_phone(vapi).json()["id"]
    code = twilio.last_code(PHONE)
    for _ in range(5):
        r = confirm(vapi, vid, wrong(code))
        assert r.status_code == 400 and r.json()["fields"] == {"code": ["This code is wrong."]}
    r = confirm(vapi, vid, code)
    assert r.status_code == 400 and "too many" in r.json()["fields"]["code"][0]
    assert Verification.objects.get(pk=vid).attempts == 5


def test_the_right_code_on_the_fifth_try_works(vapi, twilio):
    vid = send_phone(vapi).json()["id"]
    code = twilio.last_code(PHONE)
    for _ in range(4):
        assert confirm(vapi, vid, wrong(code)).status_code == 400
    assert confirm(vapi, vid, code).status_code == 200


def test_an_expired_code_is_refused(vapi, twilio):
    vid = send_phone(vapi).json()["id"]
    Verification.objects.filter(pk=vid).update(expires_at=timezone.now() - timedelta(seconds=1))
    r = confirm(vapi, vid, twilio.last_code(PHONE))
    assert r.status_code == 400 and "expired" in r.json()["fields"]["code"][0]


def test_codes_live_ten_minutes(vapi, twilio):
    body = send_phone(vapi).json()
    row = Verification.objects.get(pk=body["id"])
    assert timedelta(minutes=9, seconds=50) < row.expires_at - row.created_at <= timedelta(minutes=10)


def test_another_tenants_verification_is_404(vapi, twilio, other_tenant, make_client):
    vid = send_phone(vapi).json()["id"]
    other = make_client(other_tenant, SCOPES)
    assert confirm(other, vid, twilio.last_code(PHONE)).status_code == 404
    # Nor is a phone verification confirmed as an e-mail one.
    assert confirm(vapi, vid, twilio.last_code(PHONE), kind="email").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"phone_number": "not a number"}, "phone_number"),
    ({"phone_number": "+1555"}, "phone_number"),
    ({}, "phone_number"),
    ({"phone_number": PHONE, "extra": 1}, "extra"),
    ({"phone_number": PHONE, "client_ip": "nope"}, "client_ip"),
])
def test_bad_phone_requests_are_400(vapi, twilio, body, field):
    r = vapi.post("/v1/phone-verifications", body, format="json")
    assert r.status_code == 400 and field in r.json()["fields"], r.content
    assert twilio.messages == []


@pytest.mark.parametrize("body, field", [
    ({"email": "not-an-address"}, "email"),
    ({"email": "a@example.com", "method": "pigeon"}, "method"),
    ({"email": "a@example.com", "extra": 1}, "extra"),
])
def test_bad_email_requests_are_400(vapi, body, field):
    r = vapi.post("/v1/email-verifications", body, format="json")
    assert r.status_code == 400 and field in r.json()["fields"], r.content
    assert mail.outbox == []


def test_confirm_with_unknown_fields_is_400(vapi, twilio):
    vid = send_phone(vapi).json()["id"]
    r = vapi.post(f"/v1/phone-verifications/{vid}:confirm", {"code": "1", "x": 1}, format="json")
    assert r.status_code == 400 and "x" in r.json()["fields"]


def test_email_code(vapi):
    r = vapi.post("/v1/email-verifications", {"email": "Bob@Example.com"}, format="json")
    assert r.status_code == 201 and r.json()["destination"] == "bob@example.com"
    [message] = mail.outbox
    assert message.to == ["bob@example.com"]
    code = re.search(r"\b(\d{6})\b", message.body).group(1)
    assert confirm(vapi, r.json()["id"], code, kind="email").status_code == 200


def test_email_link_works_once(vapi, settings):
    settings.EMAIL_VERIFICATION_URL_TEMPLATE = "https://app.example/verify?v={id}&c={code}&t={tenant}"
    r = vapi.post("/v1/email-verifications", {"email": "bob@example.com", "method": "link"}, format="json")
    assert r.status_code == 201
    vid = r.json()["id"]
    link = re.search(r"https://app\.example/verify\?v=([^&]+)&c=([^&\s]+)&t=acme", mail.outbox[0].body)
    assert link and link.group(1) == vid
    assert confirm(vapi, vid, link.group(2), kind="email").status_code == 200
    assert confirm(vapi, vid, link.group(2), kind="email").status_code == 400
    row = Verification.objects.get(pk=vid)
    assert row.expires_at - row.created_at > timedelta(hours=23)


def test_sends_are_throttled_per_number(vapi, twilio, settings):
    settings.VERIFICATION_SEND_RATE_PER_DESTINATION = "2/hour"
    assert send_phone(vapi).status_code == 201
    assert send_phone(vapi, "+1 555 123 0001").status_code == 201
    r = send_phone(vapi)
    assert r.status_code == 429 and r.json()["code"] == "throttled" and "Retry-After" in r.headers
    assert send_phone(vapi, "+15551230002").status_code == 201
    assert len(twilio.messages) == 3


def test_sends_are_throttled_per_client_ip(make_client, tenant, twilio, settings):
    settings.VERIFICATION_SEND_RATE_PER_IP = "2/hour"
    vapi = make_client(tenant, SCOPES + ["verification:client-ip"])  # a relay, such as the Keycloak provider
    for i in range(2):
        assert send_phone(vapi, f"+1555123001{i}", client_ip="203.0.113.7").status_code == 201
    assert send_phone(vapi, "+15551230019", client_ip="203.0.113.7").status_code == 429
    assert send_phone(vapi, "+15551230019", client_ip="203.0.113.8").status_code == 201


def test_a_twilio_refusal_is_503(vapi, twilio):
    twilio.fail_with = 400
    r = send_phone(vapi)
    assert r.status_code == 503 and r.json()["code"] == "delivery_failed"


def test_console_sms_backend_logs_the_code(vapi, settings, caplog):
    settings.SMS_BACKEND = "users.delivery.ConsoleSms"
    assert send_phone(vapi).status_code == 201
    assert re.search(r"sms to \+15551230001: \d{6} is your", caplog.text)


# --- proofs applied to users ------------------------------------------------------------------


def proof_for(vapi, twilio, phone=PHONE):
    vid = send_phone(vapi, phone).json()["id"]
    return confirm(vapi, vid, twilio.last_code(phone)).json()["proof"]


def test_create_a_user_with_a_phone_proof(vapi, twilio):
    proof = proof_for(vapi, twilio)
    r = vapi.post("/v1/users", {"username": "newbie", "phone_number": PHONE, "phone_verification_proof": proof},
                  format="json")
    assert r.status_code == 201, r.content
    assert r.json()["phone_verified"] is True and "phone_verification_proof" not in r.json()


def test_patch_with_an_email_proof(vapi, tenant):
    user = UserFactory(tenant=tenant, email="carol@example.com")
    vid = vapi.post("/v1/email-verifications", {"email": "carol@example.com"}, format="json").json()["id"]
    code = re.search(r"\b(\d{6})\b", mail.outbox[0].body).group(1)
    proof = confirm(vapi, vid, code, kind="email").json()["proof"]
    r = vapi.patch(f"/v1/users/{user.pk}", {"email_verification_proof": proof}, format="json")
    assert r.status_code == 200 and r.json()["email_verified"] is True


def test_a_proof_for_another_number_tenant_or_channel_is_400(vapi, twilio, tenant, other_tenant, make_client):
    proof = proof_for(vapi, twilio)
    user = UserFactory(tenant=tenant, phone_number="+15551239999")
    r = vapi.patch(f"/v1/users/{user.pk}", {"phone_verification_proof": proof}, format="json")
    assert r.status_code == 400 and "phone_verification_proof" in r.json()["fields"]
    r = vapi.patch(f"/v1/users/{user.pk}", {"email_verification_proof": proof}, format="json")
    assert r.status_code == 400 and "email_verification_proof" in r.json()["fields"]
    other = make_client(other_tenant, SCOPES)
    r = other.post("/v1/users", {"username": "x", "phone_number": PHONE, "phone_verification_proof": proof},
                   format="json")
    assert r.status_code == 400
    r = vapi.patch(f"/v1/users/{user.pk}", {"phone_verification_proof": proof + "x"}, format="json")
    assert r.status_code == 400
    assert not User.objects.get(pk=user.pk).phone_verified


def test_an_old_proof_is_refused(vapi, twilio, tenant, settings):
    proof = proof_for(vapi, twilio)
    settings.VERIFICATION_PROOF_MAX_AGE_SECONDS = -1
    r = vapi.post("/v1/users", {"username": "late", "phone_number": PHONE, "phone_verification_proof": proof},
                  format="json")
    assert r.status_code == 400 and "expired" in r.json()["fields"]["phone_verification_proof"][0]
