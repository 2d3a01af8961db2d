package com.identitybackend.keycloak.client;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Translates the parameter map Keycloak hands to {@code UserQueryProvider.searchForUserStream} /
 * {@code getUsersCount} into the backend's {@code /v1/users:search} and {@code :count} filters.
 */
public final class SearchParams {

    // Keys as defined by org.keycloak.models.UserModel (duplicated so this class stays plain Java).
    public static final String KC_SEARCH = "keycloak.session.realm.users.query.search";
    public static final String KC_EXACT = "keycloak.session.realm.users.query.exact";
    public static final String KC_INCLUDE_SERVICE_ACCOUNT = "keycloak.session.realm.users.query.include_service_account";
    public static final String KC_IDP_ALIAS = "keycloak.session.realm.users.query.idp_alias";
    public static final String KC_IDP_USER_ID = "keycloak.session.realm.users.query.idp_user_id";
    public static final String KC_GROUPS = "keycloak.session.realm.users.query.groups";
    private static final String KC_INTERNAL_PREFIX = "keycloak.session.";

    /** The backend's filters for the general search term and for whole-value matching. */
    public static final String SEARCH = "search";
    public static final String EXACT = "exact";

    private SearchParams() {
    }

    /** Keycloak's own query keys (search, exact, paging hints...), as opposed to field or attribute filters. */
    public static boolean isKeycloakKey(String key) {
        return key.startsWith(KC_INTERNAL_PREFIX);
    }

    /**
     * Backend filters for a Keycloak parameter map, or null when the query can only be answered by
     * Keycloak's own storage (identity-provider links live in Keycloak, not in the backend).
     */
    public static Map<String, String> toBackendFilters(Map<String, String> params) {
        Map<String, String> out = new LinkedHashMap<>();
        if (params == null) {
            return out;
        }
        for (Map.Entry<String, String> e : params.entrySet()) {
            String key = e.getKey();
            String value = e.getValue();
            if (value == null) {
                continue;
            }
            switch (key) {
                case KC_SEARCH -> {
                    String v = value.trim();
                    if (!v.isEmpty()) {
                        out.put(SEARCH, v);
                    }
                }
                case KC_EXACT, EXACT -> out.put(EXACT, Boolean.toString(Boolean.parseBoolean(value)));
                case KC_IDP_ALIAS, KC_IDP_USER_ID -> {
                    return null;
                }
                default -> {
                    // Keycloak's other keys are no filters: service accounts are Keycloak-local, and
                    // group filters arrive as group ids through the group-aware methods
                    UserField field = UserField.byKeycloakName(key);
                    if (field != null) {
                        out.put(field.backendName(), field.toFilter(value));
                    } else if (!isKeycloakKey(key)) {
                        out.put(UserField.ATTRIBUTE_FILTER_PREFIX + key, value);
                    }
                }
            }
        }
        return out;
    }

    /** Filters for {@code searchForUserByUserAttributeStream(name, value)}. */
    public static Map<String, String> forAttribute(String name, String value) {
        Map<String, String> kc = new LinkedHashMap<>();
        kc.put(name, value);
        kc.put(KC_EXACT, "true");
        Map<String, String> out = toBackendFilters(kc);
        return out == null ? Map.of() : out;
    }
}
