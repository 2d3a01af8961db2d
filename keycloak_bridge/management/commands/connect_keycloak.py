"""Point a Keycloak realm at this backend: a fresh API token for the provider, then the realm as code.

``--operators`` makes the tenant the operators' tenant (the only one whose users can be operators,
read-only through ``/v1``); only its realm gets the ``identity-admin`` client, and the command
prints the settings with which the backend lets operators sign in to the admin through it (`make
run` chooses the client secret up front and passes it to both the realm and its backend process).
A customer's realm has no such client, and the backend refuses to start with its issuer as
``ADMIN_OIDC_ISSUER``.

The tenant's session limits (set in the admin) become Keycloak's session count limiter in every
flow that creates sessions, and the realm's ``identity-backend`` client gets the secret the backend
derives from ``KEYCLOAK_ADMIN_CLIENT_KEY``, with which it lists and ends users' sessions.
"""

import os
import secrets

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from keycloak_bridge import PROVIDER_CLIENT_NAME
from keycloak_bridge import sessions as keycloak_sessions
from keycloak_bridge.dev.realm import CACHE_POLICIES, RealmError, SessionLimits, apply_realm
from users import services
from users.models import ApiClient, Tenant

CLIENT_NAME = PROVIDER_CLIENT_NAME


class Command(BaseCommand):
    help = ("Create (or replace) the tenant's realm in Keycloak, wired to this backend with a new API token "
            "for the user storage provider. The previous token of the provider is revoked.")

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="demo", help="tenant slug; the realm has the same name")
        parser.add_argument("--keycloak-url", default="http://127.0.0.1:8080")
        parser.add_argument("--backend-url", default="http://127.0.0.1:8000",
                            help="the backend's base URL as Keycloak reaches it")
        parser.add_argument("--admin-user", default=os.environ.get("KC_BOOTSTRAP_ADMIN_USERNAME", "admin"))
        parser.add_argument("--admin-password", default=os.environ.get("KC_BOOTSTRAP_ADMIN_PASSWORD", "admin"))
        parser.add_argument("--cache-policy", default="NO_CACHE", choices=CACHE_POLICIES)
        parser.add_argument("--redirect-uri", action="append", dest="redirect_uris",
                            help="a redirect URI of the frontend client (repeatable)")
        parser.add_argument("--admin-base-url", default=None,
                            help="the backend's URL as operators' browsers reach it, for the admin's single "
                                 "sign-on (default: --backend-url)")
        parser.add_argument("--admin-client-secret", default=None,
                            help="the secret of the realm's identity-admin client (default: a new random one)")
        parser.add_argument("--operators", action="store_true",
                            help="make this tenant the operators' tenant (the one before it becomes a customer's); "
                                 "its realm signs operators in to the admin")

    def handle(self, *args, tenant, keycloak_url, backend_url, admin_user, admin_password, cache_policy,
               redirect_uris, admin_base_url=None, admin_client_secret=None, operators=False, **options):
        with transaction.atomic():
            tenant_row, created = Tenant.objects.get_or_create(slug=tenant, defaults={"display_name": tenant.title()})
            if operators:
                services.make_operators_tenant(tenant_row)
            for old in ApiClient.objects.filter(tenant=tenant_row, name=CLIENT_NAME):
                old.delete()
            _, token = services.create_api_client(tenant_row, CLIENT_NAME, sorted(services.KNOWN_SCOPES))
        services.forget_cached_clients()
        limits = SessionLimits.of(tenant_row.session_limit, tenant_row.session_limit_per_client,
                                  tenant_row.session_limit_behavior)
        try:
            backend_client_secret = keycloak_sessions.client_secret(tenant)
        except keycloak_sessions.KeycloakUnavailable:
            backend_client_secret = None  # a random one: the backend cannot end sessions in this realm
            self.stderr.write("KEYCLOAK_ADMIN_CLIENT_KEY is not set: the backend will not be able to list or end "
                              "this realm's sessions.")
        try:
            info = apply_realm(keycloak_url, admin_user, admin_password, backend_url, token, realm=tenant,
                               cache_policy=cache_policy, redirect_uris=redirect_uris,
                               admin_base_url=admin_base_url or backend_url,
                               admin_client_secret=admin_client_secret or secrets.token_urlsafe(32),
                               admin_client=tenant_row.is_operators, session_limits=limits,
                               backend_client_secret=backend_client_secret)
        except (RealmError, OSError) as error:
            raise CommandError(f"Keycloak at {keycloak_url} refused the realm: {error}. Is it running, "
                               "with our provider in providers/ and these admin credentials?") from None
        Tenant.objects.filter(pk=tenant_row.pk).update(oidc_issuer=info["issuer"])
        self.stdout.write(self.style.SUCCESS(
            f"Realm {tenant!r} at {keycloak_url} now finds its users in {backend_url} (issuer {info['issuer']})."))
        if limits is not None:
            self.stdout.write(f"Sessions per user: {limits.per_realm or 'any'} in the realm, "
                              f"{limits.per_client or 'any'} per client; over the limit: {limits.behavior}.")
        if not tenant_row.is_operators:
            return
        self.stdout.write(
            "Operators' single sign-on to the admin: give the backend these settings\n"
            f"  ADMIN_OIDC_ISSUER={info['issuer']}\n"
            f"  ADMIN_OIDC_CLIENT_ID={info['admin_client_id']}\n"
            f"  ADMIN_OIDC_CLIENT_SECRET={info['admin_client_secret']}")
