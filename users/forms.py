from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm

from . import services
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
