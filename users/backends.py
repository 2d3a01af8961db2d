from django.contrib.auth.backends import ModelBackend


class OperatorBackend(ModelBackend):
    """Password sign-in to the admin. Usernames are unique per tenant, so the login name is
    `tenant/username`, or a bare username in the default tenant (see `get_by_natural_key`)."""
