package com.identitybackend.keycloak.client;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LocalMatcherTest {

    private static Map<String, String> p(String... kv) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    private static final String S = SearchParams.KC_SEARCH;
    private static final String EXACT = SearchParams.KC_EXACT;
    private static final LocalRow ALICE = LocalRow.minimal("alice");

    @Test
    void searchFollowsKeycloakDatabaseSemantics() {
        assertTrue(LocalMatcher.matches(p(S, "ali"), ALICE), "prefix");
        assertTrue(LocalMatcher.matches(p(S, "ALI*"), ALICE), "case-insensitive, explicit wildcard");
        assertTrue(LocalMatcher.matches(p(S, "*lic*"), ALICE), "infix");
        assertFalse(LocalMatcher.matches(p(S, "lic"), ALICE), "no implicit leading wildcard");
        assertTrue(LocalMatcher.matches(p(S, "*"), ALICE), "everyone");
        assertTrue(LocalMatcher.matches(p(S, "\"alice\""), ALICE), "quoted exact");
        assertFalse(LocalMatcher.matches(p(S, "\"ali\""), ALICE));
        assertFalse(LocalMatcher.matches(p(S, "a_ice"), ALICE), "underscore is literal in search");
        assertTrue(LocalMatcher.matches(p(S, "al ali"), ALICE), "tokens are ANDed");
        assertFalse(LocalMatcher.matches(p(S, "al bob"), ALICE));
        assertFalse(LocalMatcher.matches(p(S, "alice@example.com"), ALICE), "minimal rows have no e-mail");
    }

    @Test
    void fieldFilters() {
        assertTrue(LocalMatcher.matches(p("username", "LIC"), ALICE), "substring by default");
        assertFalse(LocalMatcher.matches(p("username", "lic", EXACT, "true"), ALICE));
        assertTrue(LocalMatcher.matches(p("username", "Alice", EXACT, "true"), ALICE));
        assertTrue(LocalMatcher.matches(p("username", "a_ice"), ALICE), "_ is a wildcard in a field filter, as in SQL");
        assertFalse(LocalMatcher.matches(p("email", "a"), ALICE));
        assertFalse(LocalMatcher.matches(p("firstName", "a"), ALICE));
        assertTrue(LocalMatcher.matches(p("enabled", "true"), ALICE));
        assertFalse(LocalMatcher.matches(p("enabled", "false"), ALICE));
        assertTrue(LocalMatcher.matches(p("emailVerified", "false"), ALICE));
        assertFalse(LocalMatcher.matches(p("emailVerified", "true"), ALICE));
        assertFalse(LocalMatcher.matches(p("tier", "gold"), ALICE));
        assertTrue(LocalMatcher.matches(p(SearchParams.KC_INCLUDE_SERVICE_ACCOUNT, "false"), ALICE), "list everyone");
    }

    @Test
    void fullRowsOfMigratedUsers() {
        LocalRow full = new LocalRow("bob", "bob@example.com", "Bob", "Builder", true, true,
                Map.of("tier", List.of("Gold")));
        assertTrue(LocalMatcher.matches(p(S, "bob@"), full));
        assertTrue(LocalMatcher.matches(p(S, "build"), full));
        assertTrue(LocalMatcher.matches(p("tier", "gold"), full), "attribute equality is case-insensitive");
        assertFalse(LocalMatcher.matches(p("tier", "gol"), full));
        assertTrue(LocalMatcher.matches(p("tier", "gol", EXACT, "false"), full));
        assertTrue(LocalMatcher.matches(p("firstName", "bob", EXACT, "true"), full));
    }

    @Test
    void whichQueriesCanReturnMinimalRows() {
        assertTrue(LocalMatcher.mayMatchMinimalRows(p(S, "ali")));
        assertTrue(LocalMatcher.mayMatchMinimalRows(p("username", "ali", "enabled", "true")));
        assertTrue(LocalMatcher.mayMatchMinimalRows(p(SearchParams.KC_INCLUDE_SERVICE_ACCOUNT, "false")));
        assertFalse(LocalMatcher.mayMatchMinimalRows(p("email", "a@x")));
        assertFalse(LocalMatcher.mayMatchMinimalRows(p("firstName", "a")));
        assertFalse(LocalMatcher.mayMatchMinimalRows(p("phone_number", "+1")));
        assertFalse(LocalMatcher.mayMatchMinimalRows(p("emailVerified", "true")));
        assertFalse(LocalMatcher.mayMatchMinimalRows(p("enabled", "false")));
    }

    @Test
    void likeHelper() {
        assertTrue(SearchGrammar.like("a.b", "a.b", false), "regex metacharacters are literal");
        assertFalse(SearchGrammar.like("axb", "a.b", false));
        assertTrue(SearchGrammar.like("a%b", "a\\%b", true));
        assertFalse(SearchGrammar.like("axb", "a\\%b", true));
        assertFalse(SearchGrammar.like(null, "%", false));
    }
}
