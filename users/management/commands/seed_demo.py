"""Demo data for `make run`: a customer tenant with users and an API client, and the operators'
tenant with its operators, each tenant in its own realm.

Operators never live in a customer's tenant: its admin (alice) manages its users through the API,
roles included, and must not be able to make anyone an operator (README, "Operators' rights").
"""

import secrets

from django.contrib.auth.models import Group as AdminGroup, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from users import services
from users.models import ApiClient, Role, Tenant, User

DEMO_USERS = [
    ("alice", "alice@example.com", "Alice", "Smith", "+15551230001", ["admin"]),
    ("bob", "bob@example.com", "Bob", "Smithers", "+15551230002", []),
    ("carol", "carol@example.com", "Carol", "Jones", None, []),
]
# Operators sign in to the admin through the operators' realm: the `operator` role makes staff, with
# `superuser` as well a superuser (keycloak_bridge/admin_sso.py).
OPERATORS = [
    ("dora", "dora@example.com", "Dora", "Ops", ["operator"]),
    ("operator", "operator@example.com", "", "", ["operator", "superuser"]),
]
# Django's group for operators who signed in with Keycloak: what they may see in the admin.
SUPPORT_GROUP = "support"


class Command(BaseCommand):
    help = ("Create (or refresh) the demo tenant with its users and API client, and the operators' tenant with "
            "its operators, and print their credentials.")

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="demo")
        parser.add_argument("--operators-tenant", default="operators",
                            help="the operators' tenant (it becomes the one; its realm has the same name)")
        parser.add_argument("--backend-url", default="http://127.0.0.1:8000", help="for the printed examples")
        parser.add_argument("--user-password", default="demo-password-1",
                            help="password of the demo users (alice, bob, carol) and of dora")

    @transaction.atomic
    def handle(self, *args, tenant, operators_tenant, backend_url, user_password, **options):
        if tenant == operators_tenant:
            raise CommandError("The demo users belong to a customer's tenant, not to the operators' tenant.")
        # Three sessions per user, the oldest ended by a fourth login; the admin can change it.
        demo, _ = Tenant.objects.get_or_create(slug=tenant, defaults={
            "display_name": tenant.title(), "session_limit": 3, "session_limit_behavior": Tenant.SESSION_LIMIT_END_OLDEST})
        operators, _ = Tenant.objects.get_or_create(slug=operators_tenant,
                                                    defaults={"display_name": operators_tenant.title()})
        services.make_operators_tenant(operators)  # the tenant that was, if another, becomes a customer's

        for name in ("admin", "celebrity", "fan"):
            Role.objects.get_or_create(tenant=demo, name=name)
        for username, email, first, last, phone, roles in DEMO_USERS:
            user = User.objects.filter(tenant=demo, username=username).first()
            if user is None:
                user = services.create_user(demo, username=username, email=email, first_name=first, last_name=last,
                                            phone_number=phone, email_verified=True, phone_verified=phone is not None)
            services.set_password(user, user_password)
            services.set_user_roles(user, roles)

        operator_password = secrets.token_urlsafe(12)
        for name in ("operator", "superuser"):
            Role.objects.get_or_create(tenant=operators, name=name)
        for username, email, first, last, roles in OPERATORS:
            user = User.objects.filter(tenant=operators, username=username).first()
            if user is None:
                user = services.create_user(operators, username=username, email=email, first_name=first,
                                            last_name=last, email_verified=True)
            services.set_password(user, user_password if username == "dora" else operator_password)
            services.set_user_roles(user, roles)

        support, _ = AdminGroup.objects.get_or_create(name=SUPPORT_GROUP)
        support.permissions.set(Permission.objects.filter(
            content_type__app_label__in=["users", "profiles"], codename__startswith="view_"))
        User.objects.get(tenant=operators, username="dora").groups.add(support)

        ApiClient.objects.filter(tenant=demo, name="demo").delete()
        _, token = services.create_api_client(demo, "demo", sorted(services.KNOWN_SCOPES))

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  Customer tenant: {tenant}: alice (role admin), bob, carol / {user_password}")
        self.stdout.write(f"  Operators' tenant: {operators_tenant}: \"Sign in with Keycloak\" to the admin as dora / "
                          f"{user_password} (role operator; Django group {SUPPORT_GROUP!r}: views users and "
                          f"profiles), or operator / {operator_password} (roles operator and superuser)")
        self.stdout.write(f"  API token ({tenant}): {token}")
        self.stdout.write(f"  Try:             curl -H 'Authorization: Bearer {token}' "
                          f"'{backend_url}/v1/users:search?search=smi'")
