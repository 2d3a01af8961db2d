package com.identitybackend.keycloak.client;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static com.identitybackend.keycloak.client.Fixtures.ALICE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MappingTest {

    private static BackendUser alice() throws Exception {
        return UserJson.parseUser(new ObjectMapper().readTree(ALICE));
    }

    @Test
    void keycloakAttributesIncludeBuiltInsAndPhone() throws Exception {
        Map<String, List<String>> a = AttributeMapping.toKeycloakAttributes(alice());
        assertEquals(List.of("alice"), a.get("username"));
        assertEquals(List.of("alice@example.com"), a.get("email"));
        assertEquals(List.of("Alice"), a.get("firstName"));
        assertEquals(List.of("Liddell"), a.get("lastName"));
        assertEquals(List.of("+15551234567"), a.get("phone_number"));
        assertEquals(List.of("false"), a.get("phone_verified"));
        assertEquals(List.of("a", "b"), a.get("tags"));
        assertEquals(List.of("en"), a.get("locale"));
    }

    @Test
    void severalSettersMakeOnePatch() throws Exception {
        BackendUser base = alice();
        UserPatch p = new UserPatch();
        assertTrue(AttributeMapping.setAttribute(p, p.applyTo(base), "firstName", List.of("Al")));
        assertTrue(AttributeMapping.setAttribute(p, p.applyTo(base), "email", List.of("al@example.com")));
        assertTrue(AttributeMapping.setAttribute(p, p.applyTo(base), "phone_verified", List.of("true")));
        assertTrue(AttributeMapping.setAttribute(p, p.applyTo(base), "tier", List.of("gold")));
        assertTrue(AttributeMapping.setAttribute(p, p.applyTo(base), "firstName", List.of("Ally")));
        // unchanged values are not sent
        assertFalse(AttributeMapping.setAttribute(p, p.applyTo(base), "lastName", List.of("Liddell")));
        assertFalse(AttributeMapping.setAttribute(p, p.applyTo(base), "tags", List.of("a", "b")));

        Map<String, Object> body = p.toBody();
        assertEquals(List.of("first_name", "email", "phone_verified", "attributes"), List.copyOf(body.keySet()));
        assertEquals("Ally", body.get("first_name"));
        assertEquals(true, body.get("phone_verified"));
        Map<String, List<String>> attrs = new LinkedHashMap<>();
        attrs.put("locale", List.of("en"));
        attrs.put("tags", List.of("a", "b"));
        attrs.put("tier", List.of("gold"));
        assertEquals(attrs, body.get("attributes"));

        BackendUser after = p.applyTo(base);
        assertEquals("Ally", after.getFirstName());
        assertEquals("al@example.com", after.getEmail());
        assertTrue(after.isPhoneVerified());
        assertEquals(List.of("gold"), after.getAttributes().get("tier"));
        assertEquals(base.getRoles(), after.getRoles());
    }

    @Test
    void removingBuiltInsClearsThem() throws Exception {
        BackendUser base = alice();
        UserPatch p = new UserPatch();
        assertTrue(AttributeMapping.setAttribute(p, base, "email", List.of()));
        assertTrue(AttributeMapping.setAttribute(p, p.applyTo(base), "phone_number", List.of()));
        assertTrue(AttributeMapping.setAttribute(p, p.applyTo(base), "lastName", List.of()));
        assertTrue(AttributeMapping.setAttribute(p, p.applyTo(base), "tags", List.of()));
        assertFalse(AttributeMapping.setAttribute(p, p.applyTo(base), "username", List.of()), "never cleared");
        assertFalse(AttributeMapping.setAttribute(p, p.applyTo(base), "nope", List.of()));
        Map<String, Object> body = p.toBody();
        assertTrue(body.containsKey("email"));
        assertNull(body.get("email"));
        assertNull(body.get("phone_number"));
        assertEquals("", body.get("last_name"));
        assertEquals(Map.of("locale", List.of("en")), body.get("attributes"));
    }

    @Test
    void searchParamsTranslateToBackendFilters() {
        Map<String, String> kc = new LinkedHashMap<>();
        kc.put(SearchParams.KC_SEARCH, " ali* ");
        kc.put(SearchParams.KC_EXACT, "false");
        kc.put(SearchParams.KC_INCLUDE_SERVICE_ACCOUNT, "false");
        kc.put("username", "alice");
        kc.put("email", "a@x");
        kc.put("firstName", "Al");
        kc.put("lastName", "Li");
        kc.put("emailVerified", "true");
        kc.put("enabled", "TRUE");
        kc.put("phone_number", "+1555");
        kc.put("phone_verified", "false");
        kc.put("tier", "gold");
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("search", "ali*");
        expected.put("exact", "false");
        expected.put("username", "alice");
        expected.put("email", "a@x");
        expected.put("first_name", "Al");
        expected.put("last_name", "Li");
        expected.put("email_verified", "true");
        expected.put("enabled", "true");
        expected.put("phone_number", "+1555");
        expected.put("phone_verified", "false");
        expected.put("attr.tier", "gold");
        assertEquals(expected, SearchParams.toBackendFilters(kc));

        assertNull(SearchParams.toBackendFilters(Map.of(SearchParams.KC_IDP_ALIAS, "google")));
        assertEquals(Map.of(), SearchParams.toBackendFilters(Map.of(SearchParams.KC_SEARCH, "  ")));
        assertEquals(Map.of("attr.tier", "gold", "exact", "true"), SearchParams.forAttribute("tier", "gold"));
        assertEquals(Map.of("phone_number", "+1", "exact", "true"), SearchParams.forAttribute("phone_number", "+1"));
    }
}
