"""Authentication and the `verification:write` scope on every route of users/api/verification_urls.py."""

import pytest

from tests.access import PeopleRoutes, ServiceRoutes, route_table
from users import services

pytestmark = pytest.mark.django_db
SCOPE = "verification:write"


class TestVerificationRoutes(ServiceRoutes, PeopleRoutes):
    """People, even admins, may not send codes: the callers are servers (Keycloak, frontends' own)."""

    urlconf = "users.api.verification_urls"
    routes = route_table("""
        post    /v1/phone-verifications                 verification:write
        post    /v1/phone-verifications/{id}:confirm    verification:write
        post    /v1/email-verifications                 verification:write
        post    /v1/email-verifications/{id}:confirm    verification:write
        post    /v1/magic-links                         verification:write
        post    /v1/magic-links:redeem                  verification:write
        post    /v1/magic-sms                           verification:write
        post    /v1/magic-sms:redeem                    verification:write
    """)
    answers_with_scope = (400, 404)  # an empty body is invalid; an id that nothing has is not found


def test_the_scope_is_known_so_the_keycloak_provider_client_gets_it():
    assert SCOPE in services.KNOWN_SCOPES
