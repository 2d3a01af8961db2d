"""Everything Keycloak-facing: runtime token checks and admin SSO here, the Java provider in
`provider/`, the realm as code in `realm/`, development tooling in `dev/`."""
