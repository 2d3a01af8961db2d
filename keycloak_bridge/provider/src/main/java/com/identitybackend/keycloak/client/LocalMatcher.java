package com.identitybackend.keycloak.client;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Re-evaluates, in memory, the predicate Keycloak's JPA user store ({@code JpaUserProvider.predicates})
 * applies for a search parameter map. Keycloak's {@code UserStorageManager} first returns the matches
 * of its own database and then appends the provider's results without removing duplicates, so the
 * provider drops every backend user whose local row the database query already returned.
 */
public final class LocalMatcher {

    private LocalMatcher() {
    }

    /** Would Keycloak's database search with {@code params} return {@code row}? */
    public static boolean matches(Map<String, String> params, LocalRow row) {
        if (row == null) {
            return false;
        }
        boolean exact = Boolean.parseBoolean(params.get(SearchParams.KC_EXACT));
        for (Map.Entry<String, String> e : params.entrySet()) {
            String key = e.getKey();
            String value = e.getValue();
            if (value == null) {
                continue;
            }
            boolean ok;
            switch (key) {
                case SearchParams.KC_SEARCH -> ok = matchesSearch(value, row);
                case AttributeMapping.KC_FIRST_NAME, AttributeMapping.KC_LAST_NAME -> {
                    String col = AttributeMapping.KC_FIRST_NAME.equals(key) ? row.firstName() : row.lastName();
                    String v = value.toLowerCase(Locale.ROOT);
                    ok = col != null && (exact ? lower(col).equals(v) : like(lower(col), "%" + v + "%", false));
                }
                case AttributeMapping.KC_USERNAME, AttributeMapping.KC_EMAIL -> {
                    String col = AttributeMapping.KC_USERNAME.equals(key) ? row.username() : row.email();
                    String v = value.toLowerCase(Locale.ROOT);
                    ok = col != null && (exact ? col.equals(v) : like(col, "%" + v + "%", false));
                }
                case AttributeMapping.KC_EMAIL_VERIFIED ->
                        ok = row.emailVerified() == Boolean.parseBoolean(value.toLowerCase(Locale.ROOT));
                case AttributeMapping.KC_ENABLED -> ok = row.enabled() == Boolean.parseBoolean(value);
                case SearchParams.KC_IDP_ALIAS, SearchParams.KC_IDP_USER_ID ->
                        ok = true; // not answered by the backend at all, so nothing to de-duplicate
                case SearchParams.KC_EXACT, SearchParams.KC_INCLUDE_SERVICE_ACCOUNT, SearchParams.KC_GROUPS -> ok = true;
                default -> {
                    if (key.startsWith("keycloak.session.")) {
                        ok = true;
                    } else {
                        boolean attrExact = Boolean.parseBoolean(params.getOrDefault(SearchParams.KC_EXACT, "true"));
                        ok = matchesAttribute(row.attributes(), key, value, attrExact);
                    }
                }
            }
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /**
     * Could the database return any row this provider keeps ({@link LocalRow#minimal}) for these params?
     * When not, backend results need no de-duplication and offsets pass straight through.
     */
    public static boolean mayMatchMinimalRows(Map<String, String> params) {
        for (Map.Entry<String, String> e : params.entrySet()) {
            String key = e.getKey();
            String value = e.getValue();
            if (value == null) {
                continue;
            }
            switch (key) {
                case SearchParams.KC_SEARCH, AttributeMapping.KC_USERNAME, SearchParams.KC_EXACT,
                     SearchParams.KC_INCLUDE_SERVICE_ACCOUNT, SearchParams.KC_GROUPS,
                     SearchParams.KC_IDP_ALIAS, SearchParams.KC_IDP_USER_ID -> {
                }
                case AttributeMapping.KC_EMAIL, AttributeMapping.KC_FIRST_NAME, AttributeMapping.KC_LAST_NAME -> {
                    return false;
                }
                case AttributeMapping.KC_EMAIL_VERIFIED -> {
                    if (Boolean.parseBoolean(value.toLowerCase(Locale.ROOT))) {
                        return false;
                    }
                }
                case AttributeMapping.KC_ENABLED -> {
                    if (!Boolean.parseBoolean(value)) {
                        return false;
                    }
                }
                default -> {
                    if (!key.startsWith("keycloak.session.")) {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    private static boolean matchesSearch(String search, LocalRow row) {
        for (String token : search.trim().split("\\s+")) {
            if (!matchesSearchToken(token, row)) {
                return false;
            }
        }
        return true;
    }

    private static boolean matchesSearchToken(String token, LocalRow row) {
        String v = token.toLowerCase(Locale.ROOT);
        if (v.length() >= 2 && v.charAt(0) == '"' && v.charAt(v.length() - 1) == '"') {
            v = v.substring(1, v.length() - 1);
            return v.equals(row.username()) || v.equals(row.email())
                    || v.equals(lower(row.firstName())) || v.equals(lower(row.lastName()));
        }
        v = v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_");
        v = v.replace("*", "%");
        if (v.isEmpty() || v.charAt(v.length() - 1) != '%') {
            v += "%";
        }
        return like(row.username(), v, true) || like(row.email(), v, true)
                || like(lower(row.firstName()), v, true) || like(lower(row.lastName()), v, true);
    }

    private static boolean matchesAttribute(Map<String, List<String>> attrs, String name, String value, boolean exact) {
        if (attrs == null) {
            return false;
        }
        List<String> values = attrs.get(name);
        if (values == null) {
            return false;
        }
        String v = value.toLowerCase(Locale.ROOT);
        for (String candidate : values) {
            if (candidate == null) {
                continue;
            }
            String c = candidate.toLowerCase(Locale.ROOT);
            if (exact ? c.equals(v) : like(c, "%" + v + "%", false)) {
                return true;
            }
        }
        return false;
    }

    private static String lower(String s) {
        return s == null ? null : s.toLowerCase(Locale.ROOT);
    }

    /** SQL LIKE ({@code %} any run, {@code _} one char), optionally with backslash as the escape character. */
    static boolean like(String value, String pattern, boolean backslashEscape) {
        if (value == null) {
            return false;
        }
        StringBuilder re = new StringBuilder();
        StringBuilder literal = new StringBuilder();
        for (int i = 0; i < pattern.length(); i++) {
            char c = pattern.charAt(i);
            if (backslashEscape && c == '\\' && i + 1 < pattern.length()) {
                literal.append(pattern.charAt(++i));
            } else if (c == '%' || c == '_') {
                if (literal.length() > 0) {
                    re.append(Pattern.quote(literal.toString()));
                    literal.setLength(0);
                }
                re.append(c == '%' ? ".*" : ".");
            } else {
                literal.append(c);
            }
        }
        if (literal.length() > 0) {
            re.append(Pattern.quote(literal.toString()));
        }
        return Pattern.compile(re.toString(), Pattern.DOTALL).matcher(value).matches();
    }
}
