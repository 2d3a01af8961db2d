package com.identitybackend.keycloak.client;

/** Result of {@code POST /v1/users/{id}/credentials:verify}. */
public enum PasswordCheck {
    VALID,
    INVALID,
    /** The backend answered 429: too many attempts; treated as a failed attempt. */
    THROTTLED
}
