from django.apps import AppConfig


class KeycloakBridgeConfig(AppConfig):
    name = "keycloak_bridge"
    verbose_name = "Keycloak bridge"
