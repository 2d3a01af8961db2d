package com.identitybackend.keycloak.client;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The one table between Keycloak's names for a user's built-in fields and the backend's. Every
 * class that turns one into the other reads it from here: the backend's JSON ({@link UserJson}),
 * Keycloak's attribute view ({@link AttributeMapping}), search filters ({@link SearchParams}),
 * changes ({@link UserPatch}) and the prediction of Keycloak's own search ({@link LocalMatcher}).
 * Any other name is a backend custom attribute ({@code attributes} in the JSON, {@code attr.<name>}
 * as a search filter).
 *
 * <p>{@code phone_number} and {@code phone_verified} have no column in Keycloak's user table: they
 * reach Keycloak as attributes, so the user profile, mappers and the admin console see them.
 */
public enum UserField {

    // Keycloak name, backend name, kind, shown as a Keycloak attribute, Keycloak's own column
    USERNAME("username", "username", Kind.REQUIRED_TEXT, Shown.ALWAYS, LocalRow::username),
    EMAIL("email", "email", Kind.OPTIONAL_TEXT, Shown.IF_SET, LocalRow::email),
    EMAIL_VERIFIED("emailVerified", "email_verified", Kind.FLAG, Shown.NEVER, LocalRow::emailVerified),
    FIRST_NAME("firstName", "first_name", Kind.TEXT, Shown.IF_SET, LocalRow::firstName),
    LAST_NAME("lastName", "last_name", Kind.TEXT, Shown.IF_SET, LocalRow::lastName),
    ENABLED("enabled", "enabled", Kind.FLAG, Shown.NEVER, LocalRow::enabled),
    PHONE_NUMBER("phone_number", "phone_number", Kind.OPTIONAL_TEXT, Shown.IF_SET, null),
    PHONE_VERIFIED("phone_verified", "phone_verified", Kind.FLAG, Shown.ALWAYS, null);

    /** The backend's JSON field holding the custom attributes (a map of name to list of values). */
    public static final String ATTRIBUTES = "attributes";
    /** The backend's search filter for custom attribute {@code name} is {@code attr.<name>}. */
    public static final String ATTRIBUTE_FILTER_PREFIX = "attr.";

    /** How a field's value is stored, and what an empty value from Keycloak means. */
    public enum Kind {
        /** Never cleared: a missing value from Keycloak changes nothing. */
        REQUIRED_TEXT,
        /** Stored as "" when empty (the backend's names are never null). */
        TEXT,
        /** Stored as null when empty (an e-mail address or phone number is there or not). */
        OPTIONAL_TEXT,
        FLAG
    }

    /** Whether Keycloak's attribute map carries the field. */
    enum Shown { ALWAYS, IF_SET, NEVER }

    private static final Map<String, UserField> BY_KEYCLOAK_NAME =
            Arrays.stream(values()).collect(Collectors.toUnmodifiableMap(UserField::keycloakName, f -> f));

    /** Keycloak names of the fields that are columns of Keycloak's own user table. */
    public static final Set<String> KEYCLOAK_COLUMNS = Arrays.stream(values())
            .filter(UserField::isKeycloakColumn).map(UserField::keycloakName).collect(Collectors.toUnmodifiableSet());

    private final String keycloakName;
    private final String backendName;
    private final Kind kind;
    private final Shown shown;
    private final Function<LocalRow, Object> localColumn;

    UserField(String keycloakName, String backendName, Kind kind, Shown shown, Function<LocalRow, Object> localColumn) {
        this.keycloakName = keycloakName;
        this.backendName = backendName;
        this.kind = kind;
        this.shown = shown;
        this.localColumn = localColumn;
    }

    /** The field Keycloak calls {@code name}, or null for a custom attribute. */
    public static UserField byKeycloakName(String name) {
        return name == null ? null : BY_KEYCLOAK_NAME.get(name);
    }

    public String keycloakName() {
        return keycloakName;
    }

    public String backendName() {
        return backendName;
    }

    public Kind kind() {
        return kind;
    }

    Shown shown() {
        return shown;
    }

    /** Does Keycloak's own user table have a column for it (else Keycloak keeps it as an attribute)? */
    public boolean isKeycloakColumn() {
        return localColumn != null;
    }

    /** The value of this field's column in a Keycloak user row. */
    Object localColumn(LocalRow row) {
        return localColumn.apply(row);
    }

    /** What a user nobody has set this field on holds (also what missing JSON becomes). */
    Object blank() {
        return switch (kind) {
            case REQUIRED_TEXT, OPTIONAL_TEXT -> null;
            case TEXT -> "";
            case FLAG -> this == ENABLED; // a user is enabled unless told otherwise; nothing is verified
        };
    }

    /**
     * The stored value for Keycloak's (first) attribute value {@code value}: "" or null for an empty
     * text as the kind says, a boolean for a flag. A missing username stays missing (null).
     */
    public Object fromKeycloak(String value) {
        return switch (kind) {
            case REQUIRED_TEXT -> value;
            case TEXT -> value == null ? "" : value;
            case OPTIONAL_TEXT -> value == null || value.isEmpty() ? null : value;
            case FLAG -> Boolean.parseBoolean(value);
        };
    }

    /** A stored value as Keycloak's attribute value (flags as "true"/"false"). */
    static String toKeycloak(Object value) {
        return value == null ? null : value.toString();
    }

    /** A search filter value as the backend expects it (flags normalised to "true"/"false"). */
    public String toFilter(String value) {
        return kind == Kind.FLAG ? Boolean.toString(Boolean.parseBoolean(value)) : value;
    }
}
