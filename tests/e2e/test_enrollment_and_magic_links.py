"""Phone enrollment and passwordless sign-in, through Keycloak's own pages.

Keycloak runs our authenticators (`identity-enroll` and `identity-passwordless` clients); the
backend sends codes to the fake Twilio and links through Django's file-based e-mail backend,
where these tests read them as a person would read their phone and mailbox.
"""

import re
import urllib.parse
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.e2e.conftest import REALM, REDIRECT_URI
from tests.e2e.keycloak_api import Browser, claims, text
from users import services
from users.models import MagicToken, User

pytestmark = pytest.mark.e2e


def enroll_browser(realm):
    return Browser(realm["base_url"], REALM, REDIRECT_URI, client_id="identity-enroll")


def passwordless_browser(realm):
    return Browser(realm["base_url"], REALM, REDIRECT_URI, client_id="identity-passwordless")


def ask_code(browser, phone):
    page = browser.authorize()
    assert 'id="kc-phone-form"' in page
    status, _, page = browser.submit(page, "kc-phone-form", {"phone_number": phone})
    assert status == 200 and 'id="kc-code-form"' in page, text(page)[:500]
    return page


def enroll(realm, sms, phone, sends_before=0):
    """A whole enrollment: number, texted code, tokens."""
    browser = enroll_browser(realm)
    page = ask_code(browser, phone)
    status, headers, page = browser.submit(page, "kc-code-form", {"code": sms.wait_code(phone, sends_before + 1)})
    assert status == 302, text(page)[:500]
    return browser.tokens(status, headers)


# --- 1, 2: enrollment by phone ------------------------------------------------------------------


def test_a_new_phone_number_enrolls_a_backend_user_whose_uuid_is_the_tokens_subject(e2e_tenant, realm, sms):
    phone = "+15557000101"
    tokens = enroll(realm, sms, phone)

    user = User.objects.get(tenant=e2e_tenant, phone_number=phone)
    assert user.phone_verified is True
    assert user.username == "15557000101"
    assert claims(tokens["access_token"])["sub"] == str(user.pk)
    assert claims(tokens["id_token"])["sub"] == str(user.pk)


def test_the_same_number_enrolls_again_and_finds_the_same_user(e2e_tenant, realm, sms, backend):
    phone = "+15557000102"
    first = claims(enroll(realm, sms, phone)["access_token"])["sub"]
    mark = len(backend.requests())
    second = claims(enroll(realm, sms, phone, sends_before=1)["access_token"])["sub"]

    assert first == second
    assert User.objects.filter(tenant=e2e_tenant, phone_number=phone).count() == 1
    # found through the provider's search by phone, never created again
    paths = backend.paths_since(mark, "/v1/users:search")
    assert any(p.startswith("/v1/users:search") and "phone_number=+15557000102" in p for p in paths)
    assert not any(p == "/v1/users" for p in paths)


def test_enrollment_finds_an_existing_user_by_phone_and_marks_the_number_verified(e2e_tenant, realm, sms):
    phone = "+15557000103"
    existing = services.create_user(e2e_tenant, username="carol", phone_number=phone)
    assert existing.phone_verified is False

    tokens = enroll(realm, sms, phone)

    assert claims(tokens["access_token"])["sub"] == str(existing.pk)
    existing.refresh_from_db()
    assert existing.phone_verified is True
    assert User.objects.filter(tenant=e2e_tenant).count() == 1


# --- 3: wrong codes ---------------------------------------------------------------------------------


def test_a_wrong_code_is_refused_and_after_five_tries_the_code_is_dead(e2e_tenant, realm, sms):
    phone = "+15557000104"
    browser = enroll_browser(realm)
    page = ask_code(browser, phone)
    right = sms.wait_code(phone)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    for _ in range(5):
        status, _, page = browser.submit(page, "kc-code-form", {"code": wrong})
        assert status == 200
        assert "This code is wrong." in text(page)

    status, _, page = browser.submit(page, "kc-code-form", {"code": right})
    assert status == 200, "the right code must not work after five wrong ones"
    assert "ask for a new one" in text(page)
    assert not User.objects.filter(tenant=e2e_tenant, phone_number=phone).exists()

    # a new code, asked for on the same page, works
    status, _, page = browser.submit(page, "kc-restart-form", {"restart": "1"})
    status, _, page = browser.submit(page, "kc-phone-form", {"phone_number": phone})
    status, headers, page = browser.submit(page, "kc-code-form", {"code": sms.wait_code(phone, 2)})
    assert status == 302, text(page)[:500]
    sub = claims(browser.tokens(status, headers)["access_token"])["sub"]
    assert sub == str(User.objects.get(tenant=e2e_tenant, phone_number=phone).pk)


def test_an_invalid_number_is_refused_on_the_form_and_nothing_is_sent(e2e_tenant, realm, sms):
    browser = enroll_browser(realm)
    page = browser.authorize()
    sent = len(sms.messages)
    status, _, page = browser.submit(page, "kc-phone-form", {"phone_number": "12"})
    assert status == 200 and 'id="kc-phone-form"' in page
    assert "phone number" in text(page).lower()
    assert len(sms.messages) == sent


# --- 4, 5, 6: e-mailed magic links ----------------------------------------------------------------


def ask_link(browser, email):
    page = browser.authorize()
    assert 'id="kc-email-form"' in page, text(page)[:500]
    status, _, page = browser.submit(page, "kc-email-form", {"email": email})
    assert status == 200, text(page)[:500]
    return page


@pytest.fixture
def dora(e2e_tenant):
    return services.create_user(e2e_tenant, username="dora", email="dora@example.com", email_verified=True)


def test_a_magic_link_signs_in_once_and_never_again(realm, outbox, dora):
    browser = passwordless_browser(realm)
    ask_link(browser, dora.email)
    link = outbox.wait_link(dora.email)

    status, headers, page = browser.get(link)
    tokens = browser.tokens(status, headers)
    assert claims(tokens["access_token"])["sub"] == str(dora.pk)

    # the same link again, in the same browser: refused
    status, _, page = browser.get(link)
    assert status == 400 and "Open it in the browser where you asked for it" in text(page)

    # the old token inside a new login that is waiting for a link: refused by the backend
    other = passwordless_browser(realm)
    ask_link(other, dora.email)
    new_link = outbox.wait_link(dora.email)
    new_state = urllib.parse.parse_qs(urllib.parse.urlparse(new_link).query)["state"][0]
    old_token = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["token"][0]
    replay = f"{realm['base_url']}/realms/{REALM}/magic-link?" + urllib.parse.urlencode(
        {"token": old_token, "state": new_state})
    status, _, page = other.get(replay)
    assert status == 400 and "invalid, expired or already used" in text(page)

    # ... while that login's own link works
    status, headers, _ = other.get(new_link)
    assert claims(other.tokens(status, headers)["access_token"])["sub"] == str(dora.pk)


def test_an_expired_link_is_refused(realm, outbox, dora):
    browser = passwordless_browser(realm)
    ask_link(browser, dora.email)
    link = outbox.wait_link(dora.email)
    MagicToken.objects.filter(destination=dora.email).update(expires_at=timezone.now() - timedelta(seconds=1))

    status, headers, page = browser.get(link)

    assert status == 400
    assert "invalid, expired or already used" in text(page)
    assert "code=" not in headers.get("Location", "")


def test_a_link_opened_in_another_browser_is_refused_and_not_spent(realm, outbox, dora):
    browser = passwordless_browser(realm)
    ask_link(browser, dora.email)
    link = outbox.wait_link(dora.email)

    status, _, page = passwordless_browser(realm).get(link)
    assert status == 400 and "another browser" in text(page)

    status, headers, _ = browser.get(link)
    assert claims(browser.tokens(status, headers)["access_token"])["sub"] == str(dora.pk)


def normalised(page, email):
    """What the person sees, with the address they typed and the per-login URLs taken out."""
    page = re.sub(r"(session_code|execution|tab_id|client_data)=[\w.-]+", r"\1=", page)
    return text(page).replace(email, "<address>")


def test_asking_for_a_link_for_an_unknown_address_looks_the_same(e2e_tenant, realm, outbox, dora):
    known = ask_link(passwordless_browser(realm), dora.email)
    unknown = ask_link(passwordless_browser(realm), "nobody@example.com")

    assert 'id="identity-link-sent"' in known
    assert normalised(known, dora.email) == normalised(unknown, "nobody@example.com")
    # both requests reached the backend and were stored alike; only the known address gets mail
    rows = MagicToken.objects.filter(tenant=e2e_tenant, channel="email")
    assert sorted(rows.values_list("destination", flat=True)) == ["dora@example.com", "nobody@example.com"]
    outbox.wait_link(dora.email)
    assert outbox.messages_to("nobody@example.com") == []


# --- texted sign-in codes --------------------------------------------------------------------------


def test_a_texted_code_signs_in_through_try_another_way(e2e_tenant, realm, sms):
    phone = "+15557000105"
    erin = services.create_user(e2e_tenant, username="erin", phone_number=phone, phone_verified=True)
    browser = passwordless_browser(realm)
    page = browser.authorize()
    status, _, page = browser.submit(page, "kc-select-try-another-way-form", {"tryAnotherWay": "on"})
    assert status == 200 and "Text me a sign-in code" in text(page), text(page)[:500]
    option = next(item for item in page.split("<li")[1:] if "Text me a sign-in code" in item)
    execution = re.search(r'name="authenticationExecution" value="([^"]+)"', option).group(1)
    status, _, page = browser.submit(page, "kc-select-credential-form", {"authenticationExecution": execution})
    assert 'id="kc-phone-form"' in page, text(page)[:500]

    status, _, page = browser.submit(page, "kc-phone-form", {"phone_number": phone})
    code = sms.wait_code(phone)
    status, _, page = browser.submit(page, "kc-code-form", {"code": f"{(int(code) + 1) % 1_000_000:06d}"})
    assert status == 200 and "This code is wrong" in text(page)
    status, headers, page = browser.submit(page, "kc-code-form", {"code": code})
    assert status == 302, text(page)[:500]
    assert claims(browser.tokens(status, headers)["access_token"])["sub"] == str(erin.pk)
