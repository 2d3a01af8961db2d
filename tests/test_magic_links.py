"""Magic sign-in (the former GraphQL API's magicEmailLogin, magicSmsCode, magicSmsLogin): single use, hashed,
expiring, and never telling whether an address or number belongs to a user."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tests.factories import UserFactory
from tests.fake_twilio import twilio  # noqa: F401 (fixture)
from users import delivery
from users.models import MagicToken, User

pytestmark = pytest.mark.django_db
PHONE = "+15557650001"


@pytest.fixture
def vapi(tenant, make_client):
    return make_client(tenant, ["verification:write"])


@pytest.fixture
def alice(tenant):
    return UserFactory(tenant=tenant, username="alice", email="alice@example.com", email_verified=True,
                       phone_number=PHONE, phone_verified=True)


@pytest.fixture(autouse=True)
def link_template(settings):
    settings.MAGIC_LINK_URL_TEMPLATE = "https://kc.example/realms/{tenant}/magic?token={token}&state={state}"


def ask_link(vapi, email, **extra):
    return vapi.post("/v1/magic-links", {"email": email, **extra}, format="json")


def token_of(message):
    return re.search(r"token=([^&\s]+)", message.body).group(1)


def redeem_link(vapi, token):
    return vapi.post("/v1/magic-links:redeem", {"token": token}, format="json")


def redeem_sms(vapi, code, phone=PHONE):
    return vapi.post("/v1/magic-sms:redeem", {"phone_number": phone, "code": code}, format="json")


def test_the_answer_is_the_same_for_known_and_unknown_addresses(vapi, alice, settings):
    settings.DELIVERY_IN_BACKGROUND = False
    known = ask_link(vapi, "Alice@Example.com")
    unknown = ask_link(vapi, "nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]  # nothing went to the unknown address
    # The same database work: one row each, the unknown one a decoy that no token redeems.
    assert MagicToken.objects.filter(destination="nobody@example.com", user=None).count() == 1
    assert MagicToken.objects.filter(destination="alice@example.com", user=alice).count() == 1


def test_a_link_signs_in_once_and_never_again(vapi, alice, settings):
    settings.DELIVERY_IN_BACKGROUND = False
    ask_link(vapi, "alice@example.com", state="session-42")
    message = mail.outbox[0]
    assert "https://kc.example/realms/acme/magic?token=" in message.body and "state=session-42" in message.body
    token = token_of(message)
    r = redeem_link(vapi, token)
    assert r.status_code == 200 and r.json() == {"user_id": str(alice.pk)}
    again = redeem_link(vapi, token)
    assert again.status_code == 400 and again.json()["fields"] == {
        "token": ["This link is invalid, expired or already used: ask for a new one."]}


def test_the_link_goes_out_in_the_background(vapi, alice):
    assert ask_link(vapi, "alice@example.com").status_code == 202
    delivery.wait_for_background_sends()
    assert len(mail.outbox) == 1 and redeem_link(vapi, token_of(mail.outbox[0])).status_code == 200


def test_links_are_stored_hashed_and_live_24_hours(vapi, alice, settings):
    settings.DELIVERY_IN_BACKGROUND = False
    ask_link(vapi, "alice@example.com")
    token = token_of(mail.outbox[0])
    row = MagicToken.objects.get(user=alice)
    assert token not in row.token_hash
    assert timedelta(hours=23, minutes=59) < row.expires_at - row.created_at <= timedelta(hours=24)


def test_expired_unknown_foreign_and_stale_links_are_one_generic_400(vapi, alice, settings, other_tenant,
                                                                    make_client):
    settings.DELIVERY_IN_BACKGROUND = False
    for _ in range(3):
        ask_link(vapi, "alice@example.com")
    expired, foreign, stale = (token_of(m) for m in mail.outbox)
    MagicToken.objects.filter(user=alice).order_by("created_at").filter(
        pk=MagicToken.objects.filter(user=alice).order_by("created_at")[0].pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    answers = [redeem_link(vapi, expired), redeem_link(vapi, "made-up"),
               redeem_link(make_client(other_tenant, ["verification:write"]), foreign)]
    User.objects.filter(pk=alice.pk).update(email="alice@new.example")  # changed since the link was sent
    answers.append(redeem_link(vapi, stale))
    assert {r.status_code for r in answers} == {400}
    assert len({str(r.json()) for r in answers}) == 1


def test_deactivated_users_get_no_link(vapi, alice, settings):
    settings.DELIVERY_IN_BACKGROUND = False
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert ask_link(vapi, "alice@example.com").status_code == 202
    assert mail.outbox == []


# --- SMS codes --------------------------------------------------------------------------------


def test_sms_answer_is_the_same_and_nothing_goes_to_unknown_numbers(vapi, alice, twilio):
    known = vapi.post("/v1/magic-sms", {"phone_number": PHONE}, format="json")
    unknown = vapi.post("/v1/magic-sms", {"phone_number": "+15557659999"}, format="json")
    assert known.status_code == unknown.status_code == 202 and known.json() == unknown.json()
    assert [m["To"] for m in twilio.messages] == [PHONE]
    decoy_code = "123456"
    assert redeem_sms(vapi, decoy_code, "+15557659999").json() == redeem_sms(vapi, "000000").json()


def test_an_sms_code_signs_in_once(vapi, alice, twilio):
    vapi.post("/v1/magic-sms", {"phone_number": "+1 555 765 0001"}, format="json")
    code = twilio.last_code(PHONE)
    row = MagicToken.objects.get(user=alice)
    assert code not in row.token_hash
    assert timedelta(minutes=9, seconds=50) < row.expires_at - row.created_at <= timedelta(minutes=10)
    r = redeem_sms(vapi, code)
    assert r.status_code == 200 and r.json() == {"user_id": str(alice.pk)}
    assert redeem_sms(vapi, code).status_code == 400


def test_five_wrong_codes_kill_the_code(vapi, alice, twilio):
    vapi.post("/v1/magic-sms", {"phone_number": PHONE}, format="json")
    code = twilio.last_code(PHONE)
    bad = f"{(int(code) + 1) % 10 ** 6:06d}"
    for _ in range(5):
        assert redeem_sms(vapi, bad).status_code == 400
    assert redeem_sms(vapi, code).status_code == 400
    assert MagicToken.objects.get(user=alice).attempts == 5


def test_only_the_newest_code_counts_and_expiry_kills_it(vapi, alice, twilio):
    vapi.post("/v1/magic-sms", {"phone_number": PHONE}, format="json")
    first = twilio.last_code(PHONE)
    vapi.post("/v1/magic-sms", {"phone_number": PHONE}, format="json")
    second = twilio.last_code(PHONE)
    if first != second:
        assert redeem_sms(vapi, first).status_code == 400
    MagicToken.objects.filter(user=alice).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert redeem_sms(vapi, second).status_code == 400


def test_magic_sends_are_throttled_per_destination_known_or_not(vapi, alice, twilio, settings):
    settings.VERIFICATION_SEND_RATE_PER_DESTINATION = "1/hour"
    for phone in (PHONE, "+15557659999"):
        assert vapi.post("/v1/magic-sms", {"phone_number": phone}, format="json").status_code == 202
        assert vapi.post("/v1/magic-sms", {"phone_number": phone}, format="json").status_code == 429
    assert ask_link(vapi, "alice@example.com").status_code == 202
    assert ask_link(vapi, "alice@example.com").status_code == 429


@pytest.mark.parametrize("path, body, field", [
    ("/v1/magic-links", {"email": "nope"}, "email"),
    ("/v1/magic-links", {"email": "a@example.com", "x": 1}, "x"),
    ("/v1/magic-sms", {"phone_number": "12"}, "phone_number"),
    ("/v1/magic-links:redeem", {}, "token"),
    ("/v1/magic-sms:redeem", {"phone_number": PHONE}, "code"),
])
def test_bad_input_is_400(vapi, path, body, field):
    r = vapi.post(path, body, format="json")
    assert r.status_code == 400 and field in r.json()["fields"], r.content
