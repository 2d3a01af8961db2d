"""Account pre-hijacking through an unverified address or number.

The attack: a signed-in person sets someone else's address as their own (`PATCH /v1/me`); when the
address's owner later asks for a magic link, redeeming it would sign the owner into the
attacker's account. A person's new address or number therefore waits as pending until a
verification proof promotes it, and magic sign-in only ever uses verified values.
"""

import re

import pytest
from django.core import mail

from tests.factories import UserFactory
from tests.fake_twilio import twilio  # noqa: F401 (fixture)
from tests.test_people_access import as_person
from users import services
from users.models import MagicToken, User

pytestmark = pytest.mark.django_db
VICTIM_EMAIL = "victim@example.com"
VICTIM_PHONE = "+15557651111"


@pytest.fixture(autouse=True)
def inline_sends(settings):
    settings.DELIVERY_IN_BACKGROUND = False
    settings.MAGIC_LINK_URL_TEMPLATE = "https://kc.example/realms/{tenant}/magic?token={token}&state={state}"


@pytest.fixture
def vapi(tenant, make_client):
    """A server with the verification scope and user management: a frontend's server or the provider."""
    return make_client(tenant, ["verification:write", "users:read", "users:write"])


@pytest.fixture
def attacker(tenant):
    return UserFactory(tenant=tenant, username="mallory", email="mallory@example.com", email_verified=True)


def link_token(message):
    return re.search(r"token=([^&\s]+)", message.body).group(1)


def email_code(to):
    message = [m for m in mail.outbox if m.to == [to]][-1]
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def email_proof(vapi, address):
    vid = vapi.post("/v1/email-verifications", {"email": address}, format="json").json()["id"]
    r = vapi.post(f"/v1/email-verifications/{vid}:confirm", {"code": email_code(address)}, format="json")
    assert r.status_code == 200, r.content
    return r.json()["proof"]


def phone_proof(vapi, twilio, number):
    vid = vapi.post("/v1/phone-verifications", {"phone_number": number}, format="json").json()["id"]
    r = vapi.post(f"/v1/phone-verifications/{vid}:confirm", {"code": twilio.last_code(number)}, format="json")
    assert r.status_code == 200, r.content
    return r.json()["proof"]


# --- the attack --------------------------------------------------------------------------------


def test_an_address_set_on_me_does_not_receive_magic_links_for_that_account(vapi, attacker):
    r = as_person(attacker).patch("/v1/me", {"email": VICTIM_EMAIL}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["email"] == "mallory@example.com" and r.json()["pending_email"] == VICTIM_EMAIL

    # The address's owner, who has no account yet, asks for a magic link.
    assert vapi.post("/v1/magic-links", {"email": VICTIM_EMAIL}, format="json").status_code == 202

    assert mail.outbox == []  # like any unknown address: nothing is sent
    assert MagicToken.objects.get(destination=VICTIM_EMAIL).user is None  # a decoy, never redeemable
    attacker.refresh_from_db()
    assert (attacker.email, attacker.email_verified, attacker.pending_email) == (
        "mallory@example.com", True, VICTIM_EMAIL)


def test_the_owners_magic_link_signs_the_owner_into_their_own_account(vapi, attacker, tenant):
    victim = UserFactory(tenant=tenant, username="victim", email=VICTIM_EMAIL, email_verified=True)
    assert as_person(attacker).patch("/v1/me", {"email": VICTIM_EMAIL}, format="json").status_code == 200

    assert vapi.post("/v1/magic-links", {"email": VICTIM_EMAIL}, format="json").status_code == 202
    [message] = mail.outbox
    assert message.to == [VICTIM_EMAIL]
    r = vapi.post("/v1/magic-links:redeem", {"token": link_token(message)}, format="json")
    assert r.status_code == 200 and r.json() == {"user_id": str(victim.pk)}
    assert User.objects.get(pk=attacker.pk).email == "mallory@example.com"


def test_a_number_set_on_me_receives_no_sign_in_code(vapi, attacker, twilio):
    r = as_person(attacker).patch("/v1/me", {"phone_number": VICTIM_PHONE}, format="json")
    assert r.status_code == 200 and r.json()["phone_number"] is None
    assert r.json()["pending_phone_number"] == VICTIM_PHONE

    assert vapi.post("/v1/magic-sms", {"phone_number": VICTIM_PHONE}, format="json").status_code == 202

    assert twilio.messages == []
    assert MagicToken.objects.get(destination=VICTIM_PHONE).user is None
    r = vapi.post("/v1/magic-sms:redeem", {"phone_number": VICTIM_PHONE, "code": "123456"}, format="json")
    assert r.status_code == 400


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_unverified_values_set_by_a_trusted_writer_sign_nobody_in(vapi, tenant, twilio, channel):
    """An admin or Keycloak (on a person's behalf) may store an unverified value: it is no key to the account."""
    user = services.create_user(tenant, username="unproven", email=VICTIM_EMAIL, phone_number=VICTIM_PHONE)
    assert not user.email_verified and not user.phone_verified
    if channel == "email":
        assert vapi.post("/v1/magic-links", {"email": VICTIM_EMAIL}, format="json").status_code == 202
        assert mail.outbox == []
    else:
        assert vapi.post("/v1/magic-sms", {"phone_number": VICTIM_PHONE}, format="json").status_code == 202
        assert twilio.messages == []
    assert MagicToken.objects.get().user is None


def test_a_link_is_refused_if_the_address_is_no_longer_verified_when_redeemed(vapi, tenant):
    user = UserFactory(tenant=tenant, email=VICTIM_EMAIL, email_verified=True)
    vapi.post("/v1/magic-links", {"email": VICTIM_EMAIL}, format="json")
    User.objects.filter(pk=user.pk).update(email_verified=False)
    r = vapi.post("/v1/magic-links:redeem", {"token": link_token(mail.outbox[0])}, format="json")
    assert r.status_code == 400


# --- a person's own change, verified ------------------------------------------------------------


def test_a_person_verifies_their_new_address_and_then_it_is_live(vapi, attacker):
    person = as_person(attacker)
    assert person.patch("/v1/me", {"email": "Mallory@New.example"}, format="json").json()["pending_email"] == (
        "mallory@new.example")
    proof = email_proof(vapi, "mallory@new.example")

    r = person.patch("/v1/me", {"email_verification_proof": proof}, format="json")

    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["email"], body["email_verified"], body["pending_email"]) == ("mallory@new.example", True, None)
    mail.outbox.clear()
    vapi.post("/v1/magic-links", {"email": "mallory@new.example"}, format="json")
    r = vapi.post("/v1/magic-links:redeem", {"token": link_token(mail.outbox[0])}, format="json")
    assert r.json() == {"user_id": str(attacker.pk)}


def test_a_service_promotes_a_pending_number_with_its_proof(vapi, attacker, twilio):
    as_person(attacker).patch("/v1/me", {"phone_number": VICTIM_PHONE}, format="json")
    proof = phone_proof(vapi, twilio, VICTIM_PHONE)

    r = vapi.patch(f"/v1/users/{attacker.pk}", {"phone_verification_proof": proof}, format="json")

    assert r.status_code == 200, r.content
    assert (r.json()["phone_number"], r.json()["phone_verified"], r.json()["pending_phone_number"]) == (
        VICTIM_PHONE, True, None)


def test_a_new_value_and_its_proof_together_go_live_at_once(vapi, attacker):
    proof = email_proof(vapi, "mallory@new.example")
    r = as_person(attacker).patch("/v1/me", {"email": "mallory@new.example", "email_verification_proof": proof},
                                  format="json")
    assert r.status_code == 200, r.content
    assert (r.json()["email"], r.json()["email_verified"], r.json()["pending_email"]) == (
        "mallory@new.example", True, None)


def test_a_proof_of_another_value_is_refused_on_me(vapi, attacker):
    person = as_person(attacker)
    person.patch("/v1/me", {"email": "mallory@new.example"}, format="json")
    proof = email_proof(vapi, "someone@else.example")
    r = person.patch("/v1/me", {"email_verification_proof": proof}, format="json")
    assert r.status_code == 400 and "email_verification_proof" in r.json()["fields"]
    assert User.objects.get(pk=attacker.pk).email == "mallory@example.com"


def test_a_pending_value_does_not_block_its_owner_and_promotion_meets_the_unique_constraint(vapi, attacker, tenant):
    person = as_person(attacker)
    person.patch("/v1/me", {"email": VICTIM_EMAIL}, format="json")
    # The real owner signs up with the address while it is someone's pending value.
    r = vapi.post("/v1/users", {"username": "victim", "email": VICTIM_EMAIL,
                                "email_verification_proof": email_proof(vapi, VICTIM_EMAIL)}, format="json")
    assert r.status_code == 201, r.content
    # A proof of the address (say, leaked) cannot promote it on another account now: 409.
    r = person.patch("/v1/me", {"email_verification_proof": email_proof(vapi, VICTIM_EMAIL)}, format="json")
    assert r.status_code == 409 and "email" in r.json()["fields"]
    assert User.objects.get(pk=attacker.pk).email == "mallory@example.com"


def test_going_back_cancels_a_pending_change_and_removing_is_immediate(attacker):
    person = as_person(attacker)
    person.patch("/v1/me", {"email": VICTIM_EMAIL, "phone_number": VICTIM_PHONE}, format="json")
    r = person.patch("/v1/me", {"email": "mallory@example.com"}, format="json")
    assert (r.json()["email"], r.json()["email_verified"], r.json()["pending_email"]) == (
        "mallory@example.com", True, None)
    assert r.json()["pending_phone_number"] == VICTIM_PHONE
    r = person.patch("/v1/me", {"email": None, "phone_number": ""}, format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["email"], body["email_verified"], body["pending_email"]) == (None, False, None)
    assert (body["phone_number"], body["pending_phone_number"]) == (None, None)


def test_trusted_writers_still_set_values_and_flags_directly(api, attacker):
    """Tenant admins and the Keycloak provider (`users:write`) manage email and email_verified as before."""
    as_person(attacker).patch("/v1/me", {"email": VICTIM_EMAIL}, format="json")
    r = api.patch(f"/v1/users/{attacker.pk}", {"email": "set@by.admin", "email_verified": True,
                                               "phone_number": VICTIM_PHONE}, format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["email"], body["email_verified"], body["phone_number"]) == ("set@by.admin", True, VICTIM_PHONE)
    assert body["pending_email"] == VICTIM_EMAIL  # the person's own request still waits for its proof
    assert api.patch(f"/v1/users/{attacker.pk}", {"pending_email": None}, format="json").status_code == 400
