from django.apps import AppConfig
from django.core import checks


class KeycloakBridgeConfig(AppConfig):
    name = "keycloak_bridge"
    verbose_name = "Keycloak bridge"

    def ready(self):
        from keycloak_bridge.admin_sso import check_operators_realm

        checks.register(check_operators_realm, checks.Tags.database)
