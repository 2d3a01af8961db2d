"""Everything Keycloak-facing: runtime token checks and admin SSO here, the Java provider in
`provider/`, the realm as code in `realm/`, development tooling in `dev/`."""

# The name of the API client Keycloak's provider calls the backend with, in each realm's tenant.
PROVIDER_CLIENT_NAME = "keycloak"
