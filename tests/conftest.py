import itertools

import pytest
from rest_framework.test import APIClient

from tests.factories import TenantFactory
from users import services

ALL_SCOPES = ["users:read", "users:write", "credentials:verify"]
_names = itertools.count()


@pytest.fixture
def tenant(db):
    return TenantFactory(slug="acme")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(slug="globex")


@pytest.fixture
def make_client(db):
    """An HTTP client that authenticates as a new API client of `tenant` with `scopes`."""

    def make(tenant, scopes=ALL_SCOPES, name=None):
        _, token = services.create_api_client(tenant, name or f"client-{next(_names)}", scopes)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        client.token = token
        return client

    return make


@pytest.fixture
def api(tenant, make_client):
    return make_client(tenant)


@pytest.fixture
def other_api(other_tenant, make_client):
    return make_client(other_tenant)
