from django.conf import settings
from django.contrib.auth.backends import ModelBackend

from .models import User


class OperatorBackend(ModelBackend):
    """Password sign-in to the admin. Usernames are unique per tenant, so the login name is
    `tenant/username`, or a bare username in the default tenant (see `get_by_natural_key`).

    Users of the operators' realm (the tenant whose issuer is ADMIN_OIDC_ISSUER) are refused here,
    and so are their sessions from this form: their staff rights come from backend roles, read at
    each Keycloak sign-in, and a password would both outlive a role taken away and skip Keycloak's
    MFA. The password form is the fallback for operators of other tenants (`createsuperuser`'s).
    """

    def user_can_authenticate(self, user):
        return super().user_can_authenticate(user) and not signs_in_with_keycloak(user)

    def get_user(self, user_id):
        user = User._default_manager.select_related("tenant").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None


def signs_in_with_keycloak(user) -> bool:
    """Whether `user` belongs to the operators' realm, whose users sign in to the admin through it."""
    return bool(settings.ADMIN_OIDC_ISSUER) and user.tenant.oidc_issuer == settings.ADMIN_OIDC_ISSUER
