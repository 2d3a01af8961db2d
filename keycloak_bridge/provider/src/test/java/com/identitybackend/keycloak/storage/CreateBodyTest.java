package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendException;
import com.identitybackend.keycloak.client.BackendUser;
import com.identitybackend.keycloak.client.UserField;
import org.junit.jupiter.api.Test;
import org.keycloak.models.ModelDuplicateException;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CreateBodyTest {

    @Test
    void createBodyCarriesIdFieldsAndPassword() {
        BackendUser v = BackendUser.blank("5b0f6f8e-3c1a-4f7e-9d2b-0a1b2c3d4e5f", "alice").with(
                Map.of(UserField.EMAIL, "a@example.com", UserField.FIRST_NAME, "Alice"), Map.of("tier", List.of("gold")));
        Map<String, Object> body = WriteBuffer.createBody(v, "pw");
        assertEquals("5b0f6f8e-3c1a-4f7e-9d2b-0a1b2c3d4e5f", body.get("id"));
        assertEquals("alice", body.get("username"));
        assertEquals("a@example.com", body.get("email"));
        assertEquals("Alice", body.get("first_name"));
        assertEquals("", body.get("last_name"));
        assertEquals(true, body.get("enabled"));
        assertEquals(false, body.get("email_verified"));
        assertEquals(false, body.get("phone_verified"));
        assertEquals(Map.of("tier", List.of("gold")), body.get("attributes"));
        assertEquals("pw", body.get("password"));
        assertFalse(body.containsKey("phone_number"));
    }

    @Test
    void conflictsMapToDuplicateExceptions() {
        BackendException conflict = new BackendException(409, "conflict", "dup",
                Map.of("email", List.of("taken")), null);
        assertInstanceOf(ModelDuplicateException.class, ModelExceptions.from(conflict));
        assertTrue(ModelExceptions.from(conflict).getMessage().contains("email"));
    }

    @Test
    void validationErrorsBecomeReadableMessagesWithoutFormatCharacters() {
        BackendException invalid = new BackendException(400, "invalid", "PUT /v1/users/x/password -> 400: Invalid input.",
                Map.of("password", List.of("too short", "can't be common")), null);
        String message = ModelExceptions.from(invalid).getMessage();
        assertEquals("Identity backend refused the change: password too short, cant be common", message);
    }

    @Test
    void configDefaults() {
        assertEquals(5, BackendConfig.positiveInt("5", 1));
        assertEquals(1, BackendConfig.positiveInt("-5", 1));
        assertEquals(1, BackendConfig.positiveInt("x", 1));
        assertEquals(1, BackendConfig.positiveInt(null, 1));
    }
}
