package com.identitybackend.keycloak.client;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Keycloak's attribute view of a backend user, both ways: the built-in fields of {@link UserField}
 * under their Keycloak names, every other name a backend custom attribute.
 */
public final class AttributeMapping {

    private AttributeMapping() {
    }

    /** The attribute map Keycloak sees (same shape as Keycloak's own user adapter: built-ins included). */
    public static Map<String, List<String>> toKeycloakAttributes(BackendUser u) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        u.getAttributes().forEach((k, v) -> {
            if (UserField.byKeycloakName(k) == null) {
                out.put(k, new ArrayList<>(v));
            }
        });
        for (UserField f : UserField.values()) {
            String value = UserField.toKeycloak(u.get(f));
            switch (f.shown()) {
                case ALWAYS -> out.put(f.keycloakName(), List.of(value));
                case IF_SET -> {
                    if (value != null && !value.isEmpty()) {
                        out.put(f.keycloakName(), List.of(value));
                    }
                }
                case NEVER -> {
                }
            }
        }
        return out;
    }

    /** Values of one attribute as Keycloak sees it (empty list when absent). */
    public static List<String> getAttribute(BackendUser u, String name) {
        List<String> values = toKeycloakAttributes(u).get(name);
        return values == null ? List.of() : values;
    }

    /**
     * Records {@code name = values} (Keycloak naming) into {@code patch}, given the user as currently
     * seen (base plus earlier changes of the same transaction). Returns false when nothing changes.
     * An empty list clears a built-in (e-mail and phone become null, names "") and drops a custom
     * attribute; the username is never cleared.
     */
    public static boolean setAttribute(UserPatch patch, BackendUser current, String name, List<String> values) {
        List<String> clean = values == null ? List.of() : values.stream().filter(Objects::nonNull).toList();
        UserField field = UserField.byKeycloakName(name);
        if (field != null) {
            Object value = field.fromKeycloak(clean.isEmpty() ? null : clean.get(0));
            Object now = field.fromKeycloak(UserField.toKeycloak(current.get(field)));
            if (value == null && field.kind() == UserField.Kind.REQUIRED_TEXT || Objects.equals(now, value)) {
                return false;
            }
            patch.set(field, value);
            return true;
        }
        Map<String, List<String>> attrs = new LinkedHashMap<>(current.getAttributes());
        if (clean.isEmpty()) {
            if (!attrs.containsKey(name)) {
                return false;
            }
            attrs.remove(name);
        } else {
            if (clean.equals(attrs.get(name))) {
                return false;
            }
            attrs.put(name, clean);
        }
        patch.setAttributes(attrs);
        return true;
    }
}
