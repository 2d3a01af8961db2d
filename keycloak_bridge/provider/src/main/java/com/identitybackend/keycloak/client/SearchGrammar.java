package com.identitybackend.keycloak.client;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Keycloak's user-search grammar, the one place it is written in Java. The backend's
 * {@code users/search.py} implements the same grammar for the same requests, and Keycloak's own
 * database applies it ({@code JpaUserProvider}); matching is case-insensitive everywhere:
 * <ul>
 *   <li>the general search term is words separated by blanks, each of which must match the
 *       username, e-mail, first or last name: {@code "foo"} the whole value, otherwise {@code *} is
 *       any run of characters and the word is a prefix ({@code foo} and {@code foo*} alike,
 *       {@code *foo*} a substring);</li>
 *   <li>a field filter, and a custom attribute with {@code exact=false}, matches a substring; with
 *       {@code exact=true} (the default for attributes) the whole value.</li>
 * </ul>
 * Java evaluates it to tell which rows Keycloak's own query returned ({@link LocalMatcher}), so
 * where the backend departs from Keycloak's database this class follows the database: a quoted
 * phrase with blanks in it, a {@code *} inside a word, {@code %} and {@code _} in a field filter
 * (wildcards in Keycloak's SQL), substrings under three characters (the backend matches them as
 * prefixes, which an index can serve).
 */
final class SearchGrammar {

    private SearchGrammar() {
    }

    /** Does every word of {@code search} match one of {@code columns} (each lower-cased, or null)? */
    static boolean matchesSearch(String search, String... columns) {
        for (String word : search.trim().split("\\s+")) {
            if (!matchesWord(word.toLowerCase(Locale.ROOT), columns)) {
                return false;
            }
        }
        return true;
    }

    private static boolean matchesWord(String word, String... columns) {
        if (word.length() >= 2 && word.charAt(0) == '"' && word.charAt(word.length() - 1) == '"') {
            String whole = word.substring(1, word.length() - 1);
            for (String column : columns) {
                if (whole.equals(column)) {
                    return true;
                }
            }
            return false;
        }
        String pattern = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%");
        if (pattern.isEmpty() || pattern.charAt(pattern.length() - 1) != '%') {
            pattern += "%";
        }
        for (String column : columns) {
            if (like(column, pattern, true)) {
                return true;
            }
        }
        return false;
    }

    /** A field or attribute filter: a substring of {@code column}, or all of it when {@code exact}. */
    static boolean matchesFilter(String column, String value, boolean exact) {
        if (column == null) {
            return false;
        }
        String c = column.toLowerCase(Locale.ROOT);
        String v = value.toLowerCase(Locale.ROOT);
        return exact ? c.equals(v) : like(c, "%" + v + "%", false);
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
