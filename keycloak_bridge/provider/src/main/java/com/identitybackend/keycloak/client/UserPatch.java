package com.identitybackend.keycloak.client;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Fields changed on a user during one Keycloak transaction, as the backend's JSON body. Setting the
 * same field twice keeps the last value, so a whole admin "Save" becomes one
 * {@code PATCH /v1/users/{id}} body.
 */
public final class UserPatch {

    private final Map<String, Object> body = new LinkedHashMap<>();

    public UserPatch set(UserField field, Object value) {
        body.put(field.backendName(), value);
        return this;
    }

    /** Replaces the whole custom-attribute map (the backend's PATCH semantics for {@code attributes}). */
    public UserPatch setAttributes(Map<String, List<String>> attributes) {
        Map<String, List<String>> copy = new LinkedHashMap<>();
        attributes.forEach((k, v) -> copy.put(k, new ArrayList<>(v)));
        body.put(UserField.ATTRIBUTES, copy);
        return this;
    }

    public boolean isEmpty() {
        return body.isEmpty();
    }

    public void clear() {
        body.clear();
    }

    /** The JSON body (field name to value), in the order fields were first set. */
    public Map<String, Object> toBody() {
        return Collections.unmodifiableMap(new LinkedHashMap<>(body));
    }

    /** What the user will look like once the backend has applied this patch (used for reads before the flush). */
    @SuppressWarnings("unchecked")
    public BackendUser applyTo(BackendUser u) {
        if (body.isEmpty()) {
            return u;
        }
        Map<UserField, Object> changes = new EnumMap<>(UserField.class);
        for (UserField f : UserField.values()) {
            if (body.containsKey(f.backendName())) {
                changes.put(f, body.get(f.backendName()));
            }
        }
        return u.with(changes, (Map<String, List<String>>) body.getOrDefault(UserField.ATTRIBUTES, u.getAttributes()));
    }
}
