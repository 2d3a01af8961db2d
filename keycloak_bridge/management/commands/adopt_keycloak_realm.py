"""Cut a live Keycloak realm over to this backend, after its users were imported with their ids.

The realm stays as it is (clients, roles, groups, flows, identity providers, sessions); it gets the
``identity-backend`` user storage component (with a new API token for the provider) and its login
event listener, and every Keycloak user whose id the tenant holds becomes the component's row in
place: Keycloak's admin extension ``/admin/realms/{realm}/identity-backend/adopt`` (in our provider
jar) links it and drops its local password, keeping its sessions, offline tokens, consents, social
links, client roles, required actions and OTP/WebAuthn credentials. Keycloak users the backend does
not hold stay Keycloak's own and are listed. Running it again adopts only what is new.
"""

import argparse
import os
import secrets
import urllib.parse
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from keycloak_bridge import PROVIDER_CLIENT_NAME
from keycloak_bridge.dev.realm import CACHE_POLICIES, AdminClient, RealmError, attach_storage
from users import services
from users.models import ApiClient, Tenant, User

BATCH = 500
LISTED = 20


def tenant_user_ids(tenant: Tenant, batch: int):
    """The tenant's user ids in batches, by username (its unique index), never all at once."""
    after = ""
    while True:
        rows = list(User.objects.filter(tenant=tenant, username__gt=after).order_by("username")
                    .values_list("username", "id")[:batch])
        if not rows:
            return
        yield [str(pk) for _, pk in rows]
        after = rows[-1][0]


def exported_at(value: str) -> int:
    """An ISO 8601 moment with its time zone, as epoch milliseconds (Keycloak's credential dates)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date and time: {value!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the time zone of {value!r}, e.g. {value}+00:00")
    return int(moment.timestamp() * 1000)


class Command(BaseCommand):
    help = ("Attach this backend to an existing Keycloak realm and hand it the realm's users that the "
            "tenant holds (same ids), without logging anyone out. Idempotent.")

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug whose users were imported from the realm")
        parser.add_argument("--realm", required=True, help="the Keycloak realm to cut over")
        parser.add_argument("--keycloak-url", required=True)
        parser.add_argument("--backend-url", required=True, help="the backend's base URL as Keycloak reaches it")
        parser.add_argument("--admin-user", default=os.environ.get("KC_BOOTSTRAP_ADMIN_USERNAME", "admin"))
        parser.add_argument("--admin-password", default=os.environ.get("KC_BOOTSTRAP_ADMIN_PASSWORD", "admin"))
        parser.add_argument("--cache-policy", default="NO_CACHE", choices=CACHE_POLICIES,
                            help="Keycloak's user cache for the backend's users (as connect_keycloak)")
        parser.add_argument("--exported-at", type=exported_at, default=None,
                            help="when the export last imported began (ISO 8601 with time zone, Keycloak's clock): "
                                 "users whose password changed in Keycloak since are left to Keycloak and listed")
        parser.add_argument("--batch-size", type=int, default=BATCH, help="user ids per request to Keycloak")

    def handle(self, *args, tenant, realm, keycloak_url, backend_url, admin_user, admin_password, cache_policy,
               batch_size, exported_at=None, **options):
        if not 1 <= batch_size <= 1000:
            raise CommandError("--batch-size must be between 1 and 1000")
        tenant_row = Tenant.objects.filter(slug=tenant).first()
        if tenant_row is None:
            raise CommandError(f"no tenant {tenant!r}: import the realm's export into it first")
        admin = AdminClient(keycloak_url, admin_user, admin_password)
        base = f"/admin/realms/{urllib.parse.quote(realm)}"
        # under a name of its own until Keycloak holds its token: the one in use keeps answering meanwhile
        client, token = services.create_api_client(tenant_row, f"{PROVIDER_CLIENT_NAME}-{secrets.token_hex(4)}",
                                                   sorted(services.KNOWN_SCOPES))
        try:
            component_id = attach_storage(admin, realm, backend_url, token, cache_policy=cache_policy)
        except (RealmError, OSError) as error:
            client.delete()
            raise CommandError(f"Keycloak at {keycloak_url} refused the component: {error}. Is it running, with "
                               "our provider in providers/ and these admin credentials?") from None
        try:
            # only now that Keycloak holds the new token: a realm already cut over keeps answering
            with transaction.atomic():
                ApiClient.objects.filter(tenant=tenant_row, name=PROVIDER_CLIENT_NAME).delete()
                ApiClient.objects.filter(pk=client.pk).update(name=PROVIDER_CLIENT_NAME)
            services.forget_cached_clients()
            issuer = f"{keycloak_url.rstrip('/')}/realms/{realm}"
            Tenant.objects.filter(pk=tenant_row.pk).update(oidc_issuer=issuer)
            self.stdout.write(f"Realm {realm!r} finds users in {backend_url} (component {component_id}).")
            totals = {"adopted": 0, "already": 0, "absent": [], "foreign": [], "serviceAccounts": [],
                      "passwordChanged": []}
            for ids in tenant_user_ids(tenant_row, batch_size):
                _, result = admin.request("POST", f"{base}/identity-backend/adopt",
                                          {"ids": ids, "exportedAt": exported_at})
                for key, total in totals.items():
                    totals[key] = total + result[key]
            unlinked = self._unlinked(admin, base)
        except (RealmError, OSError) as error:
            raise CommandError(f"Keycloak at {keycloak_url} refused: {error}. Nothing is lost: run this "
                               "again.") from None
        self.stdout.write(self.style.SUCCESS(
            f"Adopted {totals['adopted']} users; {totals['already']} were already the backend's."))
        self._list("of the tenant's users have no Keycloak user (new in the backend, or deleted in Keycloak "
                   "after the export: then deactivate them here)", totals["absent"])
        self._list("Keycloak users whose password changed after the export, left to Keycloak (they log in with "
                   "it): import a newer export and run this again", totals["passwordChanged"])
        self._list("linked to another user storage, left alone", totals["foreign"])
        self._list("service accounts, left alone", totals["serviceAccounts"])
        self._list("Keycloak users the backend does not hold (still Keycloak's own: import them and run this "
                   "again)", [f"{u['id']} ({u['username']})" for u in unlinked
                              if u["id"] not in set(totals["passwordChanged"])])

    @staticmethod
    def _unlinked(admin: AdminClient, base: str) -> list[dict]:
        found, first = [], 0
        while True:
            _, page = admin.request("GET", f"{base}/identity-backend/unlinked?first={first}&max={BATCH}")
            found += page["users"]
            if page["scanned"] < BATCH:
                return found
            first += BATCH

    def _list(self, what: str, items: list[str]):
        if not items:
            return
        self.stdout.write(self.style.WARNING(f"{len(items)} {what}:"))
        for item in items[:LISTED]:
            self.stdout.write(f"  {item}")
        if len(items) > LISTED:
            self.stdout.write(f"  ... and {len(items) - LISTED} more")
