package com.identitybackend.keycloak.client;

import java.util.List;
import java.util.Map;

/**
 * The columns of a user row in Keycloak's own (JPA) storage that its user search looks at.
 * For users imported by this provider these are normally just the username (everything else empty).
 */
public record LocalRow(String username, String email, String firstName, String lastName,
                       boolean enabled, boolean emailVerified, Map<String, List<String>> attributes) {

    public LocalRow {
        attributes = attributes == null ? Map.of() : attributes;
    }

    /** The row this provider keeps for a user: id, username, federation link and Keycloak defaults. */
    public static LocalRow minimal(String username) {
        return new LocalRow(username, null, null, null, true, false, Map.of());
    }
}
