"""Everything Keycloak-facing: the Java provider, realm configuration as code, the Keycloak runner."""
