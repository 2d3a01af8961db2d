package com.identitybackend.keycloak.client;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Re-evaluates, in memory, the predicate Keycloak's JPA user store ({@code JpaUserProvider.predicates})
 * applies for a search parameter map. Keycloak's {@code UserStorageManager} first returns the matches
 * of its own database and then appends the provider's results without removing duplicates, so the
 * provider drops every backend user whose local row the database query already returned. How a term
 * matches a value is {@link SearchGrammar}'s; this class says which parameter looks at which column.
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
        boolean attributeExact = Boolean.parseBoolean(params.getOrDefault(SearchParams.KC_EXACT, "true"));
        for (Map.Entry<String, String> e : params.entrySet()) {
            String key = e.getKey();
            String value = e.getValue();
            if (value == null) {
                continue;
            }
            boolean ok;
            UserField field = UserField.byKeycloakName(key);
            if (SearchParams.KC_SEARCH.equals(key)) {
                ok = SearchGrammar.matchesSearch(value, lower(row.username()), lower(row.email()),
                        lower(row.firstName()), lower(row.lastName()));
            } else if (SearchParams.isKeycloakKey(key)) {
                ok = true; // exact, service accounts, groups; identity-provider links the backend never answers
            } else if (field != null && field.isKeycloakColumn()) {
                Object column = field.localColumn(row);
                ok = field.kind() == UserField.Kind.FLAG
                        ? column.equals(Boolean.parseBoolean(value))
                        : SearchGrammar.matchesFilter((String) column, value, exact);
            } else {
                ok = matchesAttribute(row.attributes().get(key), value, attributeExact);
            }
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /**
     * Could the database return any row this provider keeps ({@link LocalRow#minimal}) for these params?
     * When not, backend results need no de-duplication and offsets pass straight through. A minimal
     * row has some username and nothing else, so only the other filters can rule it out.
     */
    public static boolean mayMatchMinimalRows(Map<String, String> params) {
        Map<String, String> rest = new HashMap<>(params);
        rest.remove(SearchParams.KC_SEARCH);
        rest.remove(UserField.USERNAME.keycloakName());
        return matches(rest, LocalRow.minimal(null));
    }

    private static boolean matchesAttribute(List<String> values, String value, boolean exact) {
        if (values == null) {
            return false;
        }
        for (String candidate : values) {
            if (SearchGrammar.matchesFilter(candidate, value, exact)) {
                return true;
            }
        }
        return false;
    }

    private static String lower(String s) {
        return s == null ? null : s.toLowerCase(Locale.ROOT);
    }
}
