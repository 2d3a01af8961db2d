package com.identitybackend.keycloak.client;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Maps between Keycloak's user attribute view ({@code username}, {@code email}, {@code firstName},
 * {@code lastName}, custom attributes) and the backend user's fields. {@code phone_number} and
 * {@code phone_verified} are backend fields exposed to Keycloak as attributes (so the user profile,
 * mappers and the admin console see them); every other name is a backend custom attribute.
 */
public final class AttributeMapping {

    public static final String KC_USERNAME = "username";
    public static final String KC_EMAIL = "email";
    public static final String KC_FIRST_NAME = "firstName";
    public static final String KC_LAST_NAME = "lastName";
    public static final String KC_EMAIL_VERIFIED = "emailVerified";
    public static final String KC_ENABLED = "enabled";
    public static final String PHONE_NUMBER = "phone_number";
    public static final String PHONE_VERIFIED = "phone_verified";

    /** Keycloak attribute names that are backend fields rather than custom attributes. */
    public static final Set<String> BUILT_IN = Set.of(KC_USERNAME, KC_EMAIL, KC_FIRST_NAME, KC_LAST_NAME,
            KC_EMAIL_VERIFIED, KC_ENABLED, PHONE_NUMBER, PHONE_VERIFIED);

    private AttributeMapping() {
    }

    /** The attribute map Keycloak sees (same shape as Keycloak's own user adapter: built-ins included). */
    public static Map<String, List<String>> toKeycloakAttributes(BackendUser u) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        u.getAttributes().forEach((k, v) -> {
            if (!BUILT_IN.contains(k)) {
                out.put(k, new ArrayList<>(v));
            }
        });
        out.put(KC_USERNAME, List.of(u.getUsername()));
        putIfPresent(out, KC_EMAIL, u.getEmail());
        putIfPresent(out, KC_FIRST_NAME, u.getFirstName());
        putIfPresent(out, KC_LAST_NAME, u.getLastName());
        putIfPresent(out, PHONE_NUMBER, u.getPhoneNumber());
        out.put(PHONE_VERIFIED, List.of(Boolean.toString(u.isPhoneVerified())));
        return out;
    }

    private static void putIfPresent(Map<String, List<String>> out, String key, String value) {
        if (value != null && !value.isEmpty()) {
            out.put(key, List.of(value));
        }
    }

    /** Values of one attribute as Keycloak sees it (empty list when absent). */
    public static List<String> getAttribute(BackendUser u, String name) {
        List<String> values = toKeycloakAttributes(u).get(name);
        return values == null ? List.of() : values;
    }

    /**
     * Records {@code name = values} (Keycloak naming) into {@code patch}, given the user as currently
     * seen (base plus earlier changes of the same transaction). Returns false when nothing changes.
     */
    public static boolean setAttribute(UserPatch patch, BackendUser current, String name, List<String> values) {
        List<String> clean = values == null ? List.of() : values.stream().filter(v -> v != null).toList();
        String first = clean.isEmpty() ? null : clean.get(0);
        switch (name) {
            case KC_USERNAME:
                if (first == null || first.equals(current.getUsername())) {
                    return false;
                }
                patch.set(UserPatch.USERNAME, first);
                return true;
            case KC_EMAIL:
                return setString(patch, UserPatch.EMAIL, current.getEmail(), emptyToNull(first), true);
            case KC_FIRST_NAME:
                return setString(patch, UserPatch.FIRST_NAME, current.getFirstName(), first == null ? "" : first, false);
            case KC_LAST_NAME:
                return setString(patch, UserPatch.LAST_NAME, current.getLastName(), first == null ? "" : first, false);
            case PHONE_NUMBER:
                return setString(patch, UserPatch.PHONE_NUMBER, current.getPhoneNumber(), emptyToNull(first), true);
            case PHONE_VERIFIED:
                return setBoolean(patch, UserPatch.PHONE_VERIFIED, current.isPhoneVerified(), Boolean.parseBoolean(first));
            case KC_EMAIL_VERIFIED:
                return setBoolean(patch, UserPatch.EMAIL_VERIFIED, current.isEmailVerified(), Boolean.parseBoolean(first));
            case KC_ENABLED:
                return setBoolean(patch, UserPatch.ENABLED, current.isEnabled(), Boolean.parseBoolean(first));
            default:
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

    /** Removing a built-in clears it (email/phone become null, names become ""); a custom attribute is dropped. */
    public static boolean removeAttribute(UserPatch patch, BackendUser current, String name) {
        if (KC_USERNAME.equals(name)) {
            return false;
        }
        return setAttribute(patch, current, name, List.of());
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    private static boolean setString(UserPatch patch, String field, String current, String value, boolean nullable) {
        String cur = nullable ? emptyToNull(current) : (current == null ? "" : current);
        if (java.util.Objects.equals(cur, value)) {
            return false;
        }
        patch.set(field, value);
        return true;
    }

    private static boolean setBoolean(UserPatch patch, String field, boolean current, boolean value) {
        if (current == value) {
            return false;
        }
        patch.set(field, value);
        return true;
    }
}
