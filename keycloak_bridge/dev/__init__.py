"""Development tooling, never imported by the running backend: the Keycloak runner, realm apply and
`make run`'s dev stack."""
