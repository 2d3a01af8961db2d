"""Identity records. Every row belongs to one tenant; uniqueness is per tenant.

The search indexes (pg_trgm, lower() expressions, JSONB GIN) are written in PostgreSQL's own
terms in migration 0002, which Django's index classes cannot express.
"""

import uuid

from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin, UserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from .fields import ByteOrderCharField


class Tenant(models.Model):
    """A brand: one Keycloak realm. `oidc_issuer` is that realm's issuer URL: a token's `iss`
    names its tenant (set by `manage.py connect_keycloak`).

    At most one tenant is the operators' tenant (`is_operators`): its users are the only ones who
    can ever be staff or superusers of the admin, and no `/v1` credential can change its users,
    roles, groups or passwords (they are managed in the admin). Every other tenant is a customer's,
    whose own admins manage it through the API and never reach the admin.
    """

    slug = models.SlugField(max_length=63, unique=True)
    display_name = models.CharField(max_length=200)
    oidc_issuer = models.URLField(max_length=500, unique=True, null=True, blank=True)
    is_operators = models.BooleanField(
        "operators' tenant", default=False,
        help_text="The one tenant whose users may be operators of the admin; read-only through /v1.")
    # Applied to the realm by `connect_keycloak` (Keycloak's "User session count limiter" in every
    # flow that creates sessions); 0 is no limit.
    session_limit = models.PositiveIntegerField(
        "sessions per user", default=0,
        help_text="The most Keycloak sessions a user may hold in the realm at once; 0 is no limit.")
    session_limit_per_client = models.PositiveIntegerField(
        "sessions per user and client", default=0,
        help_text="The most sessions a user may hold with any one client; 0 is no limit. Keep it "
                  "below the realm-wide number.")
    SESSION_LIMIT_DENY = "deny"
    SESSION_LIMIT_END_OLDEST = "end_oldest"
    session_limit_behavior = models.CharField(
        "over the limit", max_length=16, default=SESSION_LIMIT_DENY,
        choices=[(SESSION_LIMIT_DENY, "Refuse the new login"),
                 (SESSION_LIMIT_END_OLDEST, "End the oldest session")],
        help_text="What a login over a limit does. Run connect_keycloak to apply a change to the realm.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["is_operators"], condition=Q(is_operators=True),
                                    name="tenant_one_operators_tenant"),
        ]

    def __str__(self):
        return self.slug


# The slug of the operators' tenant that `createsuperuser` makes when there is none yet.
DEFAULT_OPERATOR_TENANT = "default"


def operators_tenant_for_new_operator() -> Tenant:
    """The operators' tenant; without one, the `default` tenant becomes it (created if missing),
    so that the first `createsuperuser` of a fresh database makes an operator who can sign in."""
    tenant = Tenant.objects.filter(is_operators=True).first()
    if tenant is None:
        tenant, _ = Tenant.objects.get_or_create(slug=DEFAULT_OPERATOR_TENANT, defaults={"display_name": "Operators"})
        Tenant.objects.filter(pk=tenant.pk).update(is_operators=True)
        tenant.is_operators = True
    return tenant


class IdentityUserManager(UserManager):
    use_in_migrations = False

    def get_by_natural_key(self, username):
        """`tenant/username`, or a bare username in the operators' tenant (the only one whose users
        can be operators)."""
        slug, _, name = username.rpartition("/")
        tenant = Q(tenant__slug=slug) if slug else Q(tenant__is_operators=True)
        return self.get(tenant, username=name.lower())

    def _create_user_object(self, username, email, password, **extra_fields):
        # Operators made by `createsuperuser` land in the operators' tenant; nobody else may be staff.
        if "tenant" not in extra_fields and "tenant_id" not in extra_fields:
            extra_fields["tenant"] = operators_tenant_for_new_operator()
        tenant = extra_fields.get("tenant") or Tenant.objects.get(pk=extra_fields["tenant_id"])
        if (extra_fields.get("is_staff") or extra_fields.get("is_superuser")) and not tenant.is_operators:
            raise ValueError(f"Only users of the operators' tenant can be staff; {tenant.slug!r} is a customer's.")
        user = super()._create_user_object(username, email, password, **extra_fields)
        user.username = user.username.lower()
        user.email = (user.email or "").lower() or None
        return user


class User(AbstractBaseUser, PermissionsMixin):
    """A person. `id` is the UUID every other service keys on and the `sub` of every token.

    `is_active` is Keycloak's "enabled". Django's own `groups`/`user_permissions` only govern
    operators' access to the admin; identity roles and groups are `roles`/`identity_groups`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Wider than Django's 128: a hash imported from Keycloak keeps its parameters, salt and up to a
    # 64-byte digest (`users.keycloak_hashers`) until the first login rewrites it.
    password = models.CharField("password", max_length=255)
    # No index of its own: the unique (tenant, username) index leads with it.
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="users", db_index=False)
    username = ByteOrderCharField(max_length=255)
    email = ByteOrderCharField(max_length=254, null=True, blank=True)
    email_verified = models.BooleanField(default=False)
    phone_number = models.CharField(max_length=20, null=True, blank=True)
    phone_verified = models.BooleanField(default=False)
    # A person's own new address or number waits here until a verification proof promotes it, so
    # that they never sign in with, nor claim, a value they have not proven. Not unique: a
    # pending value blocks nobody; the unique constraints above decide at promotion.
    pending_email = models.CharField(max_length=254, null=True, blank=True)
    pending_phone_number = models.CharField(max_length=20, null=True, blank=True)
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    is_active = models.BooleanField(default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    is_staff = models.BooleanField(default=False)
    # The provisioning client's own id for the user (SCIM `externalId`), compared exactly.
    external_id = ByteOrderCharField(max_length=255, null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    # Keycloak's required actions (such as UPDATE_PASSWORD), kept from an imported realm.
    required_actions = models.JSONField(default=list, blank=True, db_default=[])
    roles = models.ManyToManyField("Role", blank=True, related_name="users")
    identity_groups = models.ManyToManyField(
        "Group", blank=True, related_name="members", verbose_name="groups (identity)"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IdentityUserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "username"], name="user_username_per_tenant"),
            # Not partial: NULLs are distinct, and the one index also orders users by e-mail (0015).
            models.UniqueConstraint(fields=["tenant", "email"], name="user_email_per_tenant"),
            models.UniqueConstraint(
                fields=["tenant", "phone_number"],
                condition=Q(phone_number__isnull=False),
                name="user_phone_per_tenant",
            ),
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=Q(external_id__isnull=False),
                name="user_external_id_per_tenant",
            ),
            models.CheckConstraint(condition=Q(username=Lower("username")), name="user_username_lowercase"),
        ]

    def __str__(self):
        return self.username

    def get_full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self):
        return self.first_name


class TenantUserCount(models.Model):
    """How many users a tenant has, kept by triggers on users_user (PostgreSQL only, migration
    0008), so that counting everyone is exact without reading a million index entries.

    A tenant's count is the sum of its rows: each write statement adds its delta to one of a few
    slots at random, so that concurrent writes to one tenant seldom wait on the same row.
    """

    SLOTS = 16

    # No index of its own: the unique (tenant, slot) index leads with it.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    slot = models.SmallIntegerField()
    users = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "slot"], name="tenantusercount_slot")]


class Role(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="roles")
    name = models.CharField(max_length=255)
    description = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="role_name_per_tenant")]
        ordering = ["name"]

    def __str__(self):
        return self.name


class Group(models.Model):
    """A nested group; `path` (such as `/brand/admins`) is derived from the parent chain."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="identity_groups")
    name = models.CharField(max_length=255)
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    path = ByteOrderCharField(max_length=1024, editable=False)
    external_id = ByteOrderCharField(max_length=255, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "path"], name="group_path_per_tenant"),
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=Q(external_id__isnull=False),
                name="group_external_id_per_tenant",
            ),
        ]
        ordering = ["path"]

    def __str__(self):
        return self.path


class UserLogin(models.Model):
    """Last-login tracking: one row per user, upserted on every login."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="login")
    last_login_at = models.DateTimeField()
    login_count = models.PositiveIntegerField(default=0)
    last_client = models.CharField(max_length=255, blank=True, default="")
    last_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["last_login_at"], name="userlogin_last_login_at")]


class ApiClient(models.Model):
    """A machine credential. Only a SHA-256 of the secret is stored; the token is shown once.

    The token is `<key>.<secret>`: `key` finds the row through an index, and the secret's hash is
    compared in constant time. SHA-256 suffices because the secret is 256 random bits.
    """

    SCOPES = [
        ("users:read", "Read users, roles and groups"),
        ("users:write", "Create, change and delete users, roles and groups"),
        ("credentials:verify", "Check passwords"),
        ("profiles:read", "Read celebrity and fan profiles, follows, referral codes and preferences"),
        ("profiles:write", "Change profiles and act as their tenant's admin (deleted profiles included)"),
        ("verification:write", "Send and confirm verification codes; issue and redeem magic sign-in links and codes"),
        ("audit:read", "Read the tenant's audit trail"),
        ("verification:client-ip", "Name the end user's IP (client_ip) in sends: for relays such as the Keycloak provider"),
        ("scim", "Provision users and groups with SCIM 2.0 at /scim/v2 (Okta, Microsoft Entra)"),
    ]

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_clients")
    name = models.CharField(max_length=200)
    key = models.CharField(max_length=32, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="apiclient_name_per_tenant")]

    def __str__(self):
        return f"{self.tenant.slug}/{self.name}"

    @property
    def is_revoked(self):
        return self.revoked_at is not None


class PasswordResetToken(models.Model):
    """A single-use credential-reset intent, stored as a SHA-256 of its random token."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_resets")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class Verification(models.Model):
    """A one-time code sent to a phone number or e-mail address, to prove its holder controls it.

    Only an HMAC of the code is stored (keyed by SECRET_KEY and this row's id: a 6-digit code has
    too few values for a plain hash to resist offline guessing). `attempts` counts wrong guesses,
    incremented in the database so that concurrent guesses cannot exceed the limit.
    """

    SMS = "sms"
    EMAIL = "email"
    CHANNELS = [(SMS, "SMS"), (EMAIL, "E-mail")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="verifications")
    channel = models.CharField(max_length=5, choices=CHANNELS)
    destination = models.CharField(max_length=254, help_text="E.164 number or lower-case address")
    code_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="verification_expires_at")]


class MagicToken(models.Model):
    """A single-use passwordless sign-in: a link token (e-mail) or a 6-digit code (SMS).

    `user` is null for decoy rows written when nobody has the address or number, so that a request
    does the same database work either way; such rows can never be redeemed. Only an HMAC of the
    token or code is stored.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="magic_tokens")
    user = models.ForeignKey(User, on_delete=models.CASCADE, null=True, blank=True, related_name="magic_tokens")
    channel = models.CharField(max_length=5, choices=Verification.CHANNELS)
    destination = models.CharField(max_length=254)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    created_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "channel", "destination", "-created_at"], name="magictoken_destination"),
            models.Index(fields=["expires_at"], name="magictoken_expires_at"),
        ]
