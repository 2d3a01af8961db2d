package com.identitybackend.keycloak.client;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Parses the backend's user / group JSON (tolerant of missing and extra fields). */
public final class UserJson {

    private UserJson() {
    }

    public static BackendUser parseUser(JsonNode n) {
        Map<UserField, Object> fields = new EnumMap<>(UserField.class);
        for (UserField f : UserField.values()) {
            fields.put(f, f.kind() == UserField.Kind.FLAG
                    ? n.path(f.backendName()).asBoolean((Boolean) f.blank())
                    : text(n, f.backendName()));
        }
        Map<String, List<String>> attributes = new LinkedHashMap<>();
        JsonNode a = n.get(UserField.ATTRIBUTES);
        if (a != null && a.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = a.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                attributes.put(e.getKey(), strings(e.getValue()));
            }
        }
        return new BackendUser(text(n, "id"), fields, attributes, strings(n.get("roles")), strings(n.get("groups")),
                text(n, "deactivated_at"), text(n, "created_at"), text(n, "updated_at"));
    }

    public static Page<BackendUser> parseUserPage(JsonNode n) {
        List<BackendUser> users = new ArrayList<>();
        for (JsonNode u : n.path("results")) {
            users.add(parseUser(u));
        }
        return new Page<>(users, text(n, "next"));
    }

    public static BackendGroup parseGroup(JsonNode n) {
        return new BackendGroup(text(n, "id"), text(n, "name"), text(n, "path"), text(n, "parent"));
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    private static List<String> strings(JsonNode n) {
        List<String> out = new ArrayList<>();
        if (n == null || n.isNull()) {
            return out;
        }
        if (n.isArray()) {
            n.forEach(v -> {
                if (!v.isNull()) {
                    out.add(v.asText());
                }
            });
        } else {
            out.add(n.asText());
        }
        return out;
    }
}
