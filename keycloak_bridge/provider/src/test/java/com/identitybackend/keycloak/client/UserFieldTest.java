package com.identitybackend.keycloak.client;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static com.identitybackend.keycloak.client.Fixtures.ALICE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

/** The mapping table, and that every translation reads it. */
class UserFieldTest {

    @Test
    void keycloakNamesPairWithBackendNames() {
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("username", "username");
        expected.put("email", "email");
        expected.put("emailVerified", "email_verified");
        expected.put("firstName", "first_name");
        expected.put("lastName", "last_name");
        expected.put("enabled", "enabled");
        expected.put("phone_number", "phone_number");
        expected.put("phone_verified", "phone_verified");
        Map<String, String> table = new LinkedHashMap<>();
        for (UserField f : UserField.values()) {
            table.put(f.keycloakName(), f.backendName());
            assertSame(f, UserField.byKeycloakName(f.keycloakName()));
        }
        assertEquals(expected, table);
        assertNull(UserField.byKeycloakName("first_name"), "Keycloak says firstName; first_name is a custom attribute");
        assertNull(UserField.byKeycloakName("tier"));
        assertEquals(Set.of("username", "email", "emailVerified", "firstName", "lastName", "enabled"),
                UserField.KEYCLOAK_COLUMNS, "the phone fields are attributes in Keycloak's own tables");
    }

    @Test
    void backendJsonIsReadByBackendName() throws Exception {
        BackendUser u = UserJson.parseUser(new ObjectMapper().readTree(ALICE));
        Map<UserField, Object> expected = Map.of(UserField.USERNAME, "alice", UserField.EMAIL, "alice@example.com",
                UserField.EMAIL_VERIFIED, true, UserField.FIRST_NAME, "Alice", UserField.LAST_NAME, "Liddell",
                UserField.ENABLED, true, UserField.PHONE_NUMBER, "+15551234567", UserField.PHONE_VERIFIED, false);
        for (UserField f : UserField.values()) {
            assertEquals(expected.get(f), u.get(f), f.name());
        }
        BackendUser empty = UserJson.parseUser(new ObjectMapper().readTree("{\"id\": \"x\", \"first_name\": null}"));
        assertEquals("", empty.getFirstName(), "names are never null");
        assertNull(empty.getEmail());
        assertEquals(true, empty.isEnabled(), "a user is enabled unless the backend says otherwise");
        assertEquals(false, empty.isEmailVerified());
    }

    @Test
    void emptyValuesFromKeycloakFollowTheFieldsKind() {
        assertNull(UserField.EMAIL.fromKeycloak(""));
        assertNull(UserField.PHONE_NUMBER.fromKeycloak(null));
        assertEquals("", UserField.FIRST_NAME.fromKeycloak(null));
        assertNull(UserField.USERNAME.fromKeycloak(null));
        assertEquals(true, UserField.ENABLED.fromKeycloak("TRUE"));
        assertEquals(false, UserField.EMAIL_VERIFIED.fromKeycloak(null));
    }

    @Test
    void everyFieldFiltersSearchesUnderItsBackendName() {
        for (UserField f : UserField.values()) {
            Map<String, String> filters = SearchParams.toBackendFilters(Map.of(f.keycloakName(), "True"));
            String value = f.kind() == UserField.Kind.FLAG ? "true" : "True";
            assertEquals(Map.of(f.backendName(), value), filters, f.name());
        }
    }

    @Test
    void keycloakSeesTheShownFieldsAsAttributes() {
        BackendUser u = BackendUser.blank("x", "bob").with(Map.of(UserField.PHONE_NUMBER, "+1555"), Map.of("tier", List.of("a")));
        Set<String> builtIns = Arrays.stream(UserField.values()).map(UserField::keycloakName).collect(Collectors.toSet());
        Map<String, List<String>> attrs = AttributeMapping.toKeycloakAttributes(u);
        assertEquals(Set.of("username", "phone_number", "phone_verified"),
                attrs.keySet().stream().filter(builtIns::contains).collect(Collectors.toSet()),
                "empty e-mail and names are left out; flags other than phone_verified are not attributes");
        assertEquals(List.of("false"), attrs.get("phone_verified"));
        assertEquals(List.of("a"), attrs.get("tier"));
    }
}
