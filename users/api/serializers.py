"""Payloads of the users API. Validation and normalisation are the services' rules."""

from rest_framework import serializers

from identity.api.serializers import StrictSerializer

from users import services, verification
from users.models import Group, Role, User


_DATETIME_FIELD = serializers.DateTimeField()


def _datetime(value):
    return None if value is None else _DATETIME_FIELD.to_representation(value)


class UserSerializer(StrictSerializer, serializers.ModelSerializer):
    enabled = serializers.BooleanField(source="is_active", required=False)
    roles = serializers.SerializerMethodField()
    groups = serializers.SerializerMethodField()
    email = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=254)
    phone_number = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=40)
    attributes = serializers.JSONField(required=False)
    pending_email = serializers.CharField(
        read_only=True, allow_null=True,
        help_text="The person's new address (PATCH /v1/me), not in use until a proof of it promotes it.")
    pending_phone_number = serializers.CharField(
        read_only=True, allow_null=True,
        help_text="The person's new number (PATCH /v1/me), not in use until a proof of it promotes it.")
    email_verification_proof = serializers.CharField(
        write_only=True, required=False, max_length=2000,
        help_text="From POST /v1/email-verifications/{id}:confirm: sets `email_verified` if the address is the "
                  "proven one, or makes a proven `pending_email` the address.")
    phone_verification_proof = serializers.CharField(
        write_only=True, required=False, max_length=2000,
        help_text="From POST /v1/phone-verifications/{id}:confirm: sets `phone_verified` if the number is the "
                  "proven one, or makes a proven `pending_phone_number` the number.")

    class Meta:
        model = User
        fields = [
            "id", "username", "email", "email_verified", "pending_email", "phone_number", "phone_verified",
            "pending_phone_number", "first_name", "last_name", "enabled", "deactivated_at", "attributes", "roles",
            "groups", "created_at", "updated_at", "email_verification_proof", "phone_verification_proof",
        ]
        read_only_fields = ["id", "deactivated_at", "created_at", "updated_at"]
        extra_kwargs = {"username": {"validators": []}}
        validators = []  # uniqueness is the database's job (409), not a racy pre-check (400)

    def to_representation(self, user):
        """What DRF renders for these fields, without building the serializer's 19 field objects
        for every instance: on a lookup that costs more than the database does. The test
        `test_fast_representation_matches_drf` holds the two equal."""
        return {
            "id": str(user.pk),
            "username": user.username,
            "email": user.email,
            "email_verified": user.email_verified,
            "pending_email": user.pending_email,
            "phone_number": user.phone_number,
            "phone_verified": user.phone_verified,
            "pending_phone_number": user.pending_phone_number,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "enabled": user.is_active,
            "deactivated_at": _datetime(user.deactivated_at),
            "attributes": user.attributes,
            "roles": self.get_roles(user),
            "groups": self.get_groups(user),
            "created_at": _datetime(user.created_at),
            "updated_at": _datetime(user.updated_at),
        }

    def get_roles(self, user) -> list[str]:
        if hasattr(user, "role_names"):  # annotated by users.queries
            return user.role_names
        return sorted(role.name for role in user.roles.all())

    def get_groups(self, user) -> list[str]:
        if hasattr(user, "group_paths"):
            return user.group_paths
        return sorted(group.path for group in user.identity_groups.all())

    def validate_username(self, value):
        return services.normalise_username(value)

    def validate_email(self, value):
        return services.normalise_email(value)

    def validate_phone_number(self, value):
        return services.normalise_phone(value)

    def validate_attributes(self, value):
        return services.validate_attributes(value)

    def proven_values(self, attrs) -> dict[str, str]:
        """Takes the proofs out of `attrs`: the value each vouches for, by the field it is about."""
        proven = {}
        for field, proof_field in services.PROOF_FIELDS.items():
            proof = attrs.pop(proof_field, None)
            if proof:
                channel = "email" if field == "email" else "sms"
                proven[field] = verification.check_proof(self.context["tenant"], channel, proof, proof_field)
        return proven

    def validate(self, attrs):
        return services.apply_proofs(self.instance, attrs, self.proven_values(attrs))

    def update(self, instance, validated_data):
        return services.update_user(instance, validated_data, replace=not self.partial)


class UserCreateSerializer(UserSerializer):
    id = serializers.UUIDField(required=False, help_text="Keep an existing (Keycloak) UUID; new users get one.")
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"})

    class Meta(UserSerializer.Meta):
        fields = UserSerializer.Meta.fields + ["password"]
        read_only_fields = ["deactivated_at", "created_at", "updated_at"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs.get("password"):
            services.check_password_strength(attrs["password"], User(**{k: v for k, v in attrs.items()
                                                                         if k != "password"}))
        return attrs

    def create(self, validated_data):
        return services.create_user(self.context["tenant"], **validated_data)


class PasswordSerializer(StrictSerializer):
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class VerifyResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()


class ResetPasswordRequestSerializer(StrictSerializer):
    ttl_seconds = serializers.IntegerField(required=False, help_text="Time to live: 60 s to 24 h, 1 h by default.")


class ResetTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Shown once; only its hash is stored.")
    expires_at = serializers.DateTimeField()


class RedeemResetSerializer(StrictSerializer):
    token = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class RecordLoginSerializer(StrictSerializer):
    client = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    ip = serializers.IPAddressField(required=False, allow_null=True, default=None)


class UserLoginSerializer(serializers.Serializer):
    last_login_at = serializers.DateTimeField()
    login_count = serializers.IntegerField()
    last_client = serializers.CharField()
    last_ip = serializers.IPAddressField(allow_null=True)


class RoleSerializer(StrictSerializer, serializers.ModelSerializer):
    class Meta:
        model = Role
        fields = ["name", "description"]
        extra_kwargs = {"name": {"validators": []}}
        validators = []

    def validate_name(self, value):
        return services.validate_name(value, "role")

    def create(self, validated_data):
        return services.create_role(self.context["tenant"], **validated_data)


class GroupSerializer(StrictSerializer, serializers.ModelSerializer):
    parent = serializers.UUIDField(source="parent_id", required=False, allow_null=True,
                                   help_text="The id of the parent group; none for a top-level group.")

    class Meta:
        model = Group
        fields = ["id", "name", "path", "parent"]
        read_only_fields = ["id", "path"]
        validators = []

    def validate_name(self, value):
        return services.validate_name(value, "group")

    def validate(self, attrs):
        parent_id = attrs.pop("parent_id", None)
        if parent_id is not None:
            parent = Group.objects.filter(tenant=self.context["tenant"], pk=parent_id).first()
            if parent is None:
                raise serializers.ValidationError({"parent": ["No such group in this tenant."]})
            attrs["parent"] = parent
        return attrs

    def create(self, validated_data):
        return services.create_group(self.context["tenant"], **validated_data)


class RoleNamesSerializer(StrictSerializer):
    roles = serializers.ListField(child=serializers.CharField(), max_length=1000)


class GroupPathsSerializer(StrictSerializer):
    groups = serializers.ListField(child=serializers.CharField(), max_length=1000)
