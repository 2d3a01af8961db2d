package com.identitybackend.keycloak.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.identitybackend.keycloak.client.BackendHttp.Response;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * The backend's {@code /v1} user API as the user storage provider and the event listener call it:
 * users, passwords, logins, role and group memberships. The calls of the sign-in authenticators are
 * {@link VerificationClient}'s.
 */
public class BackendClient {

    /** Ids one {@link #getUsers} call may ask for (the backend's limit for repeated keys). */
    public static final int MAX_IDS = 100;

    private final BackendHttp http;

    public BackendClient(BackendHttp http) {
        this.http = http;
    }

    /** A random UUID for users Keycloak creates (the backend accepts a client-chosen id). */
    public static String newUserId() {
        return UUID.randomUUID().toString();
    }

    // ------------------------------------------------------------------ users

    /** {@code GET /v1/users/{id}}; empty for 404 and for ids that are not UUIDs (no call made). */
    public Optional<BackendUser> getUser(String id) {
        if (!BackendHttp.isUuid(id)) {
            return Optional.empty();
        }
        Response r = http.send("GET", "/v1/users/" + id, null, null);
        if (r.status == 404) {
            return Optional.empty();
        }
        return Optional.of(UserJson.parseUser(r.expect(200).json()));
    }

    /**
     * {@code GET /v1/users:search?id=…&id=…}: the users among these ids (at most {@link #MAX_IDS})
     * that exist, in one call; ids that are not UUIDs are not sent.
     */
    public List<BackendUser> getUsers(Collection<String> ids) {
        List<String> wanted = ids.stream().filter(BackendHttp::isUuid).distinct().toList();
        if (wanted.isEmpty()) {
            return List.of();
        }
        if (wanted.size() > MAX_IDS) {
            throw new IllegalArgumentException("at most " + MAX_IDS + " ids per call, got " + wanted.size());
        }
        Map<String, Object> q = new LinkedHashMap<>();
        q.put("id", wanted);
        q.put("first", "0");
        q.put("max", Integer.toString(wanted.size()));
        return UserJson.parseUserPage(http.send("GET", "/v1/users:search", q, null).expect(200).json()).results();
    }

    public Optional<BackendUser> findByUsername(String username) {
        return findOne(UserField.USERNAME, username);
    }

    public Optional<BackendUser> findByEmail(String email) {
        return findOne(UserField.EMAIL, email);
    }

    private Optional<BackendUser> findOne(UserField field, String value) {
        if (value == null || value.isEmpty()) {
            return Optional.empty();
        }
        Map<String, String> q = new LinkedHashMap<>();
        q.put(field.backendName(), value);
        q.put(SearchParams.EXACT, "true");
        return search(q, 0, 1).results().stream().findFirst();
    }

    /** {@code GET /v1/users:search?<filters>&first=&max=}. */
    public Page<BackendUser> search(Map<String, String> filters, int first, int max) {
        Response r = http.send("GET", "/v1/users:search", paged(filters, first, max), null);
        return UserJson.parseUserPage(r.expect(200).json());
    }

    /** {@code GET /v1/users:count?<filters>}; {@code groupPaths} are sent as repeated {@code group=}. */
    public int count(Map<String, String> filters, List<String> groupPaths) {
        Map<String, Object> q = new LinkedHashMap<>(filters);
        if (groupPaths != null && !groupPaths.isEmpty()) {
            q.put("group", groupPaths);
        }
        JsonNode n = http.send("GET", "/v1/users:count", q, null).expect(200).json().get("count");
        return n == null ? 0 : (int) Math.min(Integer.MAX_VALUE, n.asLong());
    }

    /** {@code POST /v1/users}; 409 becomes a {@link BackendException} with {@code isConflict()}. */
    public BackendUser createUser(Map<String, Object> body) {
        return UserJson.parseUser(http.send("POST", "/v1/users", null, body).expect(201, 200).json());
    }

    /** {@code PATCH /v1/users/{id}} with only the changed fields. */
    public BackendUser patchUser(String id, Map<String, Object> fields) {
        BackendHttp.requireUuid(id);
        return UserJson.parseUser(http.send("PATCH", "/v1/users/" + id, null, fields).expect(200).json());
    }

    /** {@code DELETE /v1/users/{id}}; false when it was already gone. */
    public boolean deleteUser(String id) {
        if (!BackendHttp.isUuid(id)) {
            return false;
        }
        Response r = http.send("DELETE", "/v1/users/" + id, null, null);
        if (r.status == 404) {
            return false;
        }
        r.expect(204, 200);
        return true;
    }

    public void setPassword(String id, String password) {
        BackendHttp.requireUuid(id);
        http.send("PUT", "/v1/users/" + id + "/password", null, Map.of("password", password)).expect(204, 200);
    }

    public PasswordCheck verifyPassword(String id, String password) {
        if (!BackendHttp.isUuid(id) || password == null) {
            return PasswordCheck.INVALID;
        }
        Response r = http.send("POST", "/v1/users/" + id + "/credentials:verify", null, Map.of("password", password));
        if (r.status == 429) {
            return PasswordCheck.THROTTLED;
        }
        if (r.status == 404) {
            return PasswordCheck.INVALID;
        }
        JsonNode valid = r.expect(200).json().get("valid");
        return valid != null && valid.asBoolean(false) ? PasswordCheck.VALID : PasswordCheck.INVALID;
    }

    /** {@code POST /v1/users/{id}:record-login}, asynchronously (a login never waits for it). */
    public CompletableFuture<Integer> recordLoginAsync(String id, String clientId, String ip) {
        return recordAsync(id, "record-login", clientId, ip);
    }

    /** {@code POST /v1/users/{id}:record-registration}: Keycloak's REGISTER event, asynchronously. */
    public CompletableFuture<Integer> recordRegistrationAsync(String id, String clientId, String ip) {
        return recordAsync(id, "record-registration", clientId, ip);
    }

    private CompletableFuture<Integer> recordAsync(String id, String verb, String clientId, String ip) {
        if (!BackendHttp.isUuid(id)) {
            return CompletableFuture.completedFuture(0);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("client", clientId);
        body.put("ip", ip);
        return http.sendAsync("POST", "/v1/users/" + id + ":" + verb, body);
    }

    // ------------------------------------------------------------------ roles and groups

    public List<String> listRoleNames() {
        List<String> names = new ArrayList<>();
        for (JsonNode n : http.send("GET", "/v1/roles", null, null).expect(200).json().path("results")) {
            names.add(n.path("name").asText());
        }
        return names;
    }

    public void addRole(String userId, String role) {
        membership("POST", userId, "roles", role);
    }

    public void removeRole(String userId, String role) {
        membership("DELETE", userId, "roles", role);
    }

    public void addGroup(String userId, String groupId) {
        membership("POST", userId, "groups", groupId);
    }

    public void removeGroup(String userId, String groupId) {
        membership("DELETE", userId, "groups", groupId);
    }

    /** {@code POST|DELETE /v1/users/{id}/{kind}/{name}}; removing a membership that is gone is fine. */
    private void membership(String method, String userId, String kind, String name) {
        BackendHttp.requireUuid(userId);
        Response r = http.send(method, "/v1/users/" + userId + "/" + kind + "/" + BackendHttp.segment(name), null, null);
        if (!("DELETE".equals(method) && r.status == 404)) {
            r.expect(204, 200);
        }
    }

    public Optional<BackendGroup> findGroupByPath(String path) {
        for (JsonNode n : http.send("GET", "/v1/groups", Map.of("path", path), null).expect(200).json().path("results")) {
            BackendGroup g = UserJson.parseGroup(n);
            if (path.equals(g.path())) {
                return Optional.of(g);
            }
        }
        return Optional.empty();
    }

    public Page<BackendUser> groupMembers(String groupId, int first, int max) {
        Response r = http.send("GET", "/v1/groups/" + BackendHttp.segment(groupId) + "/members",
                paged(Map.of(), first, max), null);
        if (r.status == 404) {
            return new Page<>(List.of(), null);
        }
        return UserJson.parseUserPage(r.expect(200).json());
    }

    private static Map<String, String> paged(Map<String, String> filters, int first, int max) {
        Map<String, String> q = new LinkedHashMap<>(filters);
        q.put("first", Integer.toString(Math.max(0, first)));
        q.put("max", Integer.toString(Math.max(0, max)));
        return q;
    }
}
