"""Who may call what, for every profiles route: anonymous, no scope, read, write, other tenant."""

import pytest

from profiles import services
from tests.access import U, ScopedClients, ServiceRoutes, TenantIsolation, route_table
from tests.factories import CelebrityProfileFactory, IndexPageElementFactory, ReferralCodeFactory, UserFactory

pytestmark = pytest.mark.django_db
READ, WRITE = "profiles:read", "profiles:write"


class TestProfileRoutes(ServiceRoutes, ScopedClients, TenantIsolation):
    """Write does not imply read, as for users: a reading admin holds both."""

    urlconf = "profiles.api.urls"
    routes = route_table("""
        get     /v1/celebrities                                 profiles:read
        post    /v1/celebrities                                 profiles:write
        get     /v1/celebrities:count                           profiles:read
        get     /v1/celebrities:created-per-day                 profiles:read
        get     /v1/celebrities/{celebrity}                     profiles:read
        patch   /v1/celebrities/{celebrity}                     profiles:write
        post    /v1/celebrities/{celebrity}/shortlinks          profiles:write
        post    /v1/celebrities/{celebrity}:set-store-code      profiles:write
        post    /v1/celebrities/{celebrity}:toggle-delete       profiles:write
        get     /v1/celebrities/{celebrity}/followers:count     profiles:read
        get     /v1/referral-codes                              profiles:read
        post    /v1/referral-codes                              profiles:write
        get     /v1/referral-codes:lookup                       profiles:read
        post    /v1/referral-codes:redeem                       profiles:write
        get     /v1/referral-codes/{code}                       profiles:read
        patch   /v1/referral-codes/{code}                       profiles:write
        delete  /v1/referral-codes/{code}                       profiles:write
        post    /v1/referral-codes/{code}:assign                profiles:write
        get     /v1/fans/{fan}                                  profiles:read
        patch   /v1/fans/{fan}                                  profiles:write
        post    /v1/fans/{fan}:subscribe-mailing-list           profiles:write
        get     /v1/fans/{fan}/follows                          profiles:read
        get     /v1/fans/{fan}/follows:count                    profiles:read
        post    /v1/fans/{fan}/follows:check                    profiles:read
        post    /v1/fans/{fan}/follows/{celebrity}              profiles:write
        delete  /v1/fans/{fan}/follows/{celebrity}              profiles:write
        get     /v1/fans/{fan}/media                            profiles:read
        post    /v1/fans/{fan}/media                            profiles:write
        delete  /v1/fans/{fan}/media/{media}                    profiles:write
        get     /v1/fan-media                                   profiles:write  # adminGetMedia: admins only
        get     /v1/preferences                                 profiles:read
        put     /v1/preferences/default_language                profiles:write
        get     /v1/index-elements                              profiles:read
        post    /v1/index-elements                              profiles:write
        post    /v1/index-elements:reorder                      profiles:write
        get     /v1/index-elements/{element}                    profiles:read
        patch   /v1/index-elements/{element}                    profiles:write
        delete  /v1/index-elements/{element}                    profiles:write
        get     /v1/tenants/acme/celebrities                    public
        get     /v1/tenants/acme/celebrities/{celebrity}        public
        get     /v1/tenants/acme/index-page                     public
    """)
    clients = {"without-profiles-scopes": ["users:read", "users:write", "credentials:verify"],
               "read": [READ], "write": [WRITE]}

    def objects(self, tenant):
        """Public routes keep our tenant's slug (`acme`): another tenant's celebrity is not found there."""
        fan = UserFactory(password=None, tenant=tenant)
        return {"celebrity": CelebrityProfileFactory(user__tenant=tenant).pk, "fan": fan.pk,
                "code": ReferralCodeFactory(tenant=tenant).pk, "element": IndexPageElementFactory(tenant=tenant).pk,
                "media": services.save_fan_media(fan.fan_profile, U)[0].media_id}

    def body(self, ids):
        return {"store_code": "x", "name": "n", "body": "b", "assigned_to": None,
                "celebrity_user_ids": [str(ids["celebrity"])], "media_id": U}
