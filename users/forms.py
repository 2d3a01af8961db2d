from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.core.exceptions import ValidationError

from . import backends, services
from .models import User


class NormalisedFieldsMixin:
    """The admin normalises exactly as the API does, before constraints are validated."""

    def clean_username(self):
        return services.normalise_username(self.cleaned_data.get("username"))

    def clean_email(self):
        return services.normalise_email(self.cleaned_data.get("email"))

    def clean_phone_number(self):
        return services.normalise_phone(self.cleaned_data.get("phone_number"))

    def clean_attributes(self):
        return services.validate_attributes(self.cleaned_data.get("attributes") or {})


class UserCreationForm(NormalisedFieldsMixin, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("tenant", "username", "email")


class UserChangeForm(NormalisedFieldsMixin, DjangoUserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean(self):
        """Staff and superusers belong to the operators' tenant only: a customer's user could never
        sign in with those flags anyway (`users.backends`, `keycloak_bridge.admin_sso`)."""
        cleaned = super().clean()
        tenant = cleaned.get("tenant")
        if tenant is not None and not tenant.is_operators and (cleaned.get("is_staff") or cleaned.get("is_superuser")):
            raise ValidationError("Only users of the operators' tenant can be staff or superusers; "
                                  f"{tenant.slug!r} is a customer's tenant. Clear both flags.")
        return cleaned


class OperatorAuthenticationForm(AdminAuthenticationForm):
    """The admin's password form: says so when the login name or address is locked out
    (`users.backends.OperatorBackend` refuses the password then, right or wrong)."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "locked_out": "Too many failed sign-ins for this account or from your address. Try again in "
                      "%(minutes)s min; until then every password is refused, even the right one.",
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        wait = backends.lockout_remaining(username, self.request) if username else 0
        if wait:
            raise ValidationError(self.error_messages["locked_out"], code="locked_out",
                                  params={"minutes": -(-wait // 60)})
        return super().clean()
