"""Secrets the admin shows once (API client tokens, password-reset tokens) travel in its messages:
those live in the server-side session, never in a cookie (a signed cookie is readable by anyone who
sees it, and outlives the page)."""

import re

import pytest
from django.contrib.messages.storage.cookie import CookieStorage
from django.test import RequestFactory

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db



def cookie_texts(response) -> list[str]:
    """Every cookie the response sets, as sent and, for Django's message cookie, as decoded."""
    texts = []
    for morsel in response.cookies.values():
        texts.append(morsel.value)
        decoded = CookieStorage(RequestFactory().get("/"))._decode(morsel.value)
        texts.extend(str(m) for m in decoded or [])
    return texts


def post_and_follow(client, path, data):
    """The answers of the post and of every redirect after it, and the final page."""
    responses = [client.post(path, data)]
    while responses[-1].status_code in (301, 302):
        responses.append(client.get(responses[-1]["Location"]))
    return responses


def shown_token(page) -> str:
    return re.search(r"<code>([^<]+)</code>", page.content.decode()).group(1)


def test_a_new_api_clients_token_is_shown_once_and_never_set_in_a_cookie(client, operator, tenant):
    responses = post_and_follow(client, "/admin/users/apiclient/add/",
                                {"tenant": tenant.pk, "name": "provider", "scopes": '["users:read"]'})
    token = shown_token(responses[-1])
    assert token.startswith("idb_")
    assert not [text for r in responses for text in cookie_texts(r) if token in text]
    assert token not in client.get(responses[-1].wsgi_request.path).content.decode()  # shown once


def test_a_reset_token_is_never_set_in_a_cookie(client, operator, tenant):
    user = UserFactory(tenant=tenant)
    responses = post_and_follow(client, "/admin/users/user/",
                                {"action": "issue_reset_token", "_selected_action": [user.pk]})
    token = shown_token(responses[-1])
    assert not [text for r in responses for text in cookie_texts(r) if token in text]
    assert token not in client.get("/admin/users/user/").content.decode()
