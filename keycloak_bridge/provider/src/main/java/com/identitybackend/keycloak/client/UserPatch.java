package com.identitybackend.keycloak.client;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Fields changed on a user during one Keycloak transaction, keyed by the backend's JSON field
 * names. Setting the same field twice keeps the last value, so a whole admin "Save" becomes one
 * {@code PATCH /v1/users/{id}} body.
 */
public final class UserPatch {

    public static final String USERNAME = "username";
    public static final String EMAIL = "email";
    public static final String EMAIL_VERIFIED = "email_verified";
    public static final String PHONE_NUMBER = "phone_number";
    public static final String PHONE_VERIFIED = "phone_verified";
    public static final String FIRST_NAME = "first_name";
    public static final String LAST_NAME = "last_name";
    public static final String ENABLED = "enabled";
    public static final String ATTRIBUTES = "attributes";

    private final Map<String, Object> fields = new LinkedHashMap<>();

    public UserPatch set(String field, Object value) {
        if (ATTRIBUTES.equals(field)) {
            throw new IllegalArgumentException("use setAttributes");
        }
        fields.put(field, value);
        return this;
    }

    /** Replaces the whole custom-attribute map (the backend's PATCH semantics for {@code attributes}). */
    public UserPatch setAttributes(Map<String, List<String>> attributes) {
        Map<String, List<String>> copy = new LinkedHashMap<>();
        attributes.forEach((k, v) -> copy.put(k, new ArrayList<>(v)));
        fields.put(ATTRIBUTES, copy);
        return this;
    }

    public boolean isEmpty() {
        return fields.isEmpty();
    }

    public boolean contains(String field) {
        return fields.containsKey(field);
    }

    public void clear() {
        fields.clear();
    }

    /** The JSON body (field name to value), in the order fields were first set. */
    public Map<String, Object> toBody() {
        return Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    /** What the user will look like once the backend has applied this patch (used for reads before the flush). */
    @SuppressWarnings("unchecked")
    public BackendUser applyTo(BackendUser u) {
        if (fields.isEmpty()) {
            return u;
        }
        return new BackendUser(
                u.getId(),
                (String) fields.getOrDefault(USERNAME, u.getUsername()),
                (String) fields.getOrDefault(EMAIL, u.getEmail()),
                (Boolean) fields.getOrDefault(EMAIL_VERIFIED, u.isEmailVerified()),
                (String) fields.getOrDefault(PHONE_NUMBER, u.getPhoneNumber()),
                (Boolean) fields.getOrDefault(PHONE_VERIFIED, u.isPhoneVerified()),
                (String) fields.getOrDefault(FIRST_NAME, u.getFirstName()),
                (String) fields.getOrDefault(LAST_NAME, u.getLastName()),
                (Boolean) fields.getOrDefault(ENABLED, u.isEnabled()),
                u.getDeactivatedAt(),
                (Map<String, List<String>>) fields.getOrDefault(ATTRIBUTES, u.getAttributes()),
                u.getRoles(),
                u.getGroups(),
                u.getCreatedAt(),
                u.getUpdatedAt());
    }
}
