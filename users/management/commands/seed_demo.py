"""Demo data for `make run`: a tenant, an operator, an API client and a few users with roles."""

import secrets

from django.contrib.auth.models import Group as AdminGroup, Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from users import services
from users.models import ApiClient, Role, Tenant, User
from users.models import DEFAULT_OPERATOR_TENANT

DEMO_USERS = [
    ("alice", "alice@example.com", "Alice", "Smith", "+15551230001", ["admin"]),
    ("bob", "bob@example.com", "Bob", "Smithers", "+15551230002", []),
    ("carol", "carol@example.com", "Carol", "Jones", None, []),
    # Signs in to the admin through Keycloak: the `operator` role makes her staff (keycloak_bridge/admin_sso.py).
    ("dora", "dora@example.com", "Dora", "Ops", None, ["operator"]),
]
# Django's group for operators who signed in with Keycloak: what they may see in the admin.
SUPPORT_GROUP = "support"


class Command(BaseCommand):
    help = "Create (or refresh) the demo tenant, operator, API client and users, and print their credentials."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="demo")
        parser.add_argument("--user-password", default="demo-password-1",
                            help="password of the demo users (alice, bob, carol)")

    @transaction.atomic
    def handle(self, *args, tenant, user_password, **options):
        demo, _ = Tenant.objects.get_or_create(slug=tenant, defaults={"display_name": tenant.title()})
        operators, _ = Tenant.objects.get_or_create(slug=DEFAULT_OPERATOR_TENANT, defaults={"display_name": "Default"})

        operator_password = secrets.token_urlsafe(12)
        operator = User.objects.filter(tenant=operators, username="operator").first()
        if operator is None:
            operator = User.objects.create_superuser("operator", "operator@example.com", operator_password,
                                                     tenant=operators)
        else:
            operator.set_password(operator_password)
            operator.save(update_fields=["password"])

        for name in ("admin", "operator", "celebrity", "fan"):
            Role.objects.get_or_create(tenant=demo, name=name)
        for username, email, first, last, phone, roles in DEMO_USERS:
            user = User.objects.filter(tenant=demo, username=username).first()
            if user is None:
                user = services.create_user(demo, username=username, email=email, first_name=first, last_name=last,
                                            phone_number=phone, email_verified=True, phone_verified=phone is not None)
            services.set_password(user, user_password)
            services.set_user_roles(user, roles)

        support, _ = AdminGroup.objects.get_or_create(name=SUPPORT_GROUP)
        support.permissions.set(Permission.objects.filter(
            content_type__app_label__in=["users", "profiles"], codename__startswith="view_"))
        User.objects.get(tenant=demo, username="dora").groups.add(support)

        ApiClient.objects.filter(tenant=demo, name="demo").delete()
        _, token = services.create_api_client(demo, "demo", sorted(services.KNOWN_SCOPES))

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  Admin:           http://127.0.0.1:8000/admin/  operator / {operator_password}")
        self.stdout.write(f"  API docs:        http://127.0.0.1:8000/v1/docs (sign in to the admin first)")
        self.stdout.write(f"  API token ({tenant}): {token}")
        self.stdout.write(f"  Try:             curl -H 'Authorization: Bearer {token}' "
                          f"'http://127.0.0.1:8000/v1/users:search?search=smi'")
        self.stdout.write(f"  Demo users:      alice, bob, carol, dora / {user_password}")
        self.stdout.write("  Admin with SSO:  \"Sign in with Keycloak\" as dora (role operator; Django group "
                          f"{SUPPORT_GROUP!r}: views users and profiles)")
