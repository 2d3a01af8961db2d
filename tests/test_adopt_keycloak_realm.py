"""adopt_keycloak_realm's refusals that need no Keycloak; the cutover itself is in tests/e2e."""

import pytest
from django.core.management import CommandError, call_command

from keycloak_bridge import PROVIDER_CLIENT_NAME
from keycloak_bridge.dev.processes import free_port
from users.models import ApiClient, Tenant

pytestmark = pytest.mark.django_db

ARGS = {"realm": "legacy", "backend_url": "http://127.0.0.1:8000", "admin_user": "admin", "admin_password": "admin"}


def test_an_unknown_tenant_is_refused_before_keycloak_is_asked():
    with pytest.raises(CommandError, match="no tenant 'nope'"):
        call_command("adopt_keycloak_realm", tenant="nope", keycloak_url="http://127.0.0.1:9", **ARGS)


def test_an_unreachable_keycloak_leaves_the_providers_tokens_as_they_were():
    tenant = Tenant.objects.create(slug="legacy", display_name="Legacy")
    with pytest.raises(CommandError, match="refused the component"):
        call_command("adopt_keycloak_realm", tenant="legacy", keycloak_url=f"http://127.0.0.1:{free_port()}", **ARGS)
    assert not ApiClient.objects.filter(tenant=tenant, name=PROVIDER_CLIENT_NAME).exists()


@pytest.mark.parametrize("moment", ["yesterday", "2026-11-29T10:00:00"])
def test_the_export_time_needs_a_date_and_its_time_zone(moment):
    with pytest.raises(CommandError, match="--exported-at"):
        call_command("adopt_keycloak_realm", "--exported-at", moment, tenant="legacy",
                     keycloak_url="http://127.0.0.1:9", **ARGS)
