import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identity.settings")
application = get_wsgi_application()

# Refuses to serve when the admin's single sign-on would trust a customer's realm.
from keycloak_bridge.admin_sso import refuse_unsafe_operators_realm  # noqa: E402 (needs setup)

refuse_unsafe_operators_realm()
