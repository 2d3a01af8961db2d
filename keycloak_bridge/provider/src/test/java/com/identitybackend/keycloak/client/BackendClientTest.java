package com.identitybackend.keycloak.client;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static com.identitybackend.keycloak.client.Fixtures.ALICE;
import static com.identitybackend.keycloak.client.Fixtures.ALICE_ID;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BackendClientTest {

    private StubBackend stub;
    private BackendClient client;

    @BeforeEach
    void setUp() throws Exception {
        stub = new StubBackend();
        client = new BackendClient(new BackendHttp(BackendHttp.newHttpClient(Duration.ofSeconds(10)),
                stub.baseUrl() + "/", "tok-123", Duration.ofSeconds(10)));
    }

    @AfterEach
    void tearDown() {
        stub.close();
    }

    @Test
    void getUserSendsBearerTokenAndParsesEveryField() {
        stub.on("GET", "/v1/users/" + ALICE_ID, 200, ALICE);
        BackendUser u = client.getUser(ALICE_ID).orElseThrow();
        assertEquals("Bearer tok-123", stub.last().authorization());
        assertEquals("alice", u.getUsername());
        assertEquals("alice@example.com", u.getEmail());
        assertTrue(u.isEmailVerified());
        assertEquals("+15551234567", u.getPhoneNumber());
        assertFalse(u.isPhoneVerified());
        assertEquals("Alice", u.getFirstName());
        assertEquals("Liddell", u.getLastName());
        assertTrue(u.isActive());
        assertEquals(List.of("a", "b"), u.getAttributes().get("tags"));
        assertEquals(List.of("admin", "editor"), u.getRoles());
        assertEquals(List.of("/brand/admins"), u.getGroups());
        assertEquals(1714557600000L, u.getCreatedTimestamp());
    }

    @Test
    void unknownAndNonUuidIds() {
        assertTrue(client.getUser(ALICE_ID).isEmpty());
        assertEquals(1, stub.requests.size());
        assertTrue(client.getUser("f:abc:alice").isEmpty());
        assertTrue(client.getUser("not-a-uuid").isEmpty());
        assertEquals(1, stub.requests.size(), "no call for ids that are not UUIDs");
    }

    @Test
    void lookupByUsernameAndEmailUseExactSearchWithMaxOne() {
        stub.on("GET", "/v1/users:search", 200, "{\"results\": [" + ALICE + "], \"next\": null}");
        assertEquals(ALICE_ID, client.findByUsername("Alice").orElseThrow().getId());
        assertEquals("username=Alice&exact=true&first=0&max=1", stub.last().rawQuery());
        client.findByEmail("a+b@example.com");
        assertEquals("email=a%2Bb%40example.com&exact=true&first=0&max=1", stub.last().rawQuery());
    }

    @Test
    void searchPassesFiltersAndPaging() {
        stub.on("GET", "/v1/users:search", 200, "{\"results\": [" + ALICE + "], \"next\": \"http://x/next\"}");
        Map<String, String> f = new LinkedHashMap<>();
        f.put("search", "*ali ce*");
        f.put("attr.tier", "gold");
        Page<BackendUser> p = client.search(f, 20, 10);
        assertEquals(1, p.results().size());
        assertTrue(p.hasNext());
        assertEquals("search=*ali+ce*&attr.tier=gold&first=20&max=10", stub.last().rawQuery());
    }

    @Test
    void severalUsersByIdAreOneSearchWithRepeatedIds() {
        stub.on("GET", "/v1/users:search", 200, "{\"results\": [" + ALICE + "], \"next\": null}");
        String other = "00000000-0000-4000-8000-000000000002";
        List<BackendUser> found = client.getUsers(List.of(ALICE_ID, other, ALICE_ID, "f:abc:alice"));
        assertEquals(List.of(ALICE_ID), found.stream().map(BackendUser::getId).toList());
        assertEquals(1, stub.requests.size());
        assertEquals("id=" + ALICE_ID + "&id=" + other + "&first=0&max=2", stub.last().rawQuery());
        assertTrue(client.getUsers(List.of("not-a-uuid")).isEmpty());
        assertEquals(1, stub.requests.size(), "no call when no id is a UUID");
        List<String> tooMany = java.util.stream.IntStream.rangeClosed(1, BackendClient.MAX_IDS + 1)
                .mapToObj(i -> String.format("00000000-0000-4000-8000-%012d", i)).toList();
        assertThrows(IllegalArgumentException.class, () -> client.getUsers(tooMany));
    }

    @Test
    void countUsesCountEndpointWithGroupPaths() {
        stub.on("GET", "/v1/users:count", 200, "{\"count\": 42}");
        assertEquals(42, client.count(Map.of("enabled", "true"), List.of("/brand/admins")));
        assertEquals("enabled=true&group=%2Fbrand%2Fadmins", stub.last().rawQuery());
    }

    @Test
    void createConflictBecomesConflictException() {
        stub.on("POST", "/v1/users", 409,
                "{\"code\": \"conflict\", \"message\": \"taken\", \"fields\": {\"username\": [\"already exists\"]}}");
        BackendException e = assertThrows(BackendException.class,
                () -> client.createUser(Map.of("username", "alice", "password", "pw")));
        assertTrue(e.isConflict());
        assertEquals("conflict", e.getCode());
        assertEquals(List.of("already exists"), e.getFields().get("username"));
        assertTrue(stub.last().body().contains("\"password\":\"pw\""));
    }

    @Test
    void patchSendsOnlyGivenFields() {
        stub.on("PATCH", "/v1/users/" + ALICE_ID, 200, ALICE);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("email", null);
        body.put("first_name", "Al");
        client.patchUser(ALICE_ID, body);
        assertEquals("{\"email\":null,\"first_name\":\"Al\"}", stub.last().body());
    }

    @Test
    void passwordVerifyAndThrottle() {
        stub.on("POST", "/v1/users/" + ALICE_ID + "/credentials:verify", 200, "{\"valid\": true}");
        assertEquals(PasswordCheck.VALID, client.verifyPassword(ALICE_ID, "pw"));
        assertEquals("{\"password\":\"pw\"}", stub.last().body());
        stub.on("POST", "/v1/users/" + ALICE_ID + "/credentials:verify", 200, "{\"valid\": false}");
        assertEquals(PasswordCheck.INVALID, client.verifyPassword(ALICE_ID, "pw"));
        stub.on("POST", "/v1/users/" + ALICE_ID + "/credentials:verify", 429, "{\"code\": \"throttled\"}");
        assertEquals(PasswordCheck.THROTTLED, client.verifyPassword(ALICE_ID, "pw"));
    }

    @Test
    void setPasswordAndDelete() {
        stub.on("PUT", "/v1/users/" + ALICE_ID + "/password", 204, null);
        client.setPassword(ALICE_ID, "s3cret");
        assertEquals("PUT", stub.last().method());
        stub.on("DELETE", "/v1/users/" + ALICE_ID, 204, null);
        assertTrue(client.deleteUser(ALICE_ID));
        stub.on("DELETE", "/v1/users/" + ALICE_ID, 404, "{}");
        assertFalse(client.deleteUser(ALICE_ID));
    }

    @Test
    void validationErrorCarriesFieldMessages() {
        stub.on("PUT", "/v1/users/" + ALICE_ID + "/password", 400,
                "{\"code\": \"invalid\", \"message\": \"Invalid input.\", \"fields\": {\"password\": [\"too short\"]}}");
        BackendException e = assertThrows(BackendException.class, () -> client.setPassword(ALICE_ID, "x"));
        assertEquals(400, e.getStatus());
        assertEquals(List.of("too short"), e.getFields().get("password"));
    }

    @Test
    void recordLoginIsAsync() throws Exception {
        stub.on("POST", "/v1/users/" + ALICE_ID + ":record-login", 204, null);
        int status = client.recordLoginAsync(ALICE_ID, "identity-frontend", "10.0.0.1").get(5, TimeUnit.SECONDS);
        assertEquals(204, status);
        assertEquals("{\"client\":\"identity-frontend\",\"ip\":\"10.0.0.1\"}", stub.last().body());
    }

    @Test
    void recordRegistrationIsAsync() throws Exception {
        stub.on("POST", "/v1/users/" + ALICE_ID + ":record-registration", 204, null);
        int status = client.recordRegistrationAsync(ALICE_ID, "account", "10.0.0.2").get(5, TimeUnit.SECONDS);
        assertEquals(204, status);
        assertEquals("{\"client\":\"account\",\"ip\":\"10.0.0.2\"}", stub.last().body());
    }

    @Test
    void rolesAndGroups() {
        stub.on("GET", "/v1/roles", 200, "{\"results\": [{\"name\": \"admin\", \"description\": \"\"}], \"next\": null}");
        assertEquals(List.of("admin"), client.listRoleNames());
        stub.on("POST", "/v1/users/" + ALICE_ID + "/roles/power%20user", 204, null);
        client.addRole(ALICE_ID, "power user");
        stub.on("GET", "/v1/groups", 200,
                "{\"results\": [{\"id\": \"11111111-1111-1111-1111-111111111111\", \"name\": \"admins\", \"path\": \"/brand/admins\", \"parent\": null}], \"next\": null}");
        Optional<BackendGroup> g = client.findGroupByPath("/brand/admins");
        assertEquals("path=%2Fbrand%2Fadmins", stub.last().rawQuery());
        assertEquals("11111111-1111-1111-1111-111111111111", g.orElseThrow().id());
        assertTrue(client.findGroupByPath("/other").isEmpty());
        stub.on("GET", "/v1/groups/11111111-1111-1111-1111-111111111111/members", 200,
                "{\"results\": [" + ALICE + "], \"next\": null}");
        assertEquals(1, client.groupMembers(g.get().id(), 0, 5).results().size());
        assertEquals("first=0&max=5", stub.last().rawQuery());
    }

    @Test
    void connectionsAreReused() {
        stub.on("GET", "/v1/users/" + ALICE_ID, 200, ALICE);
        for (int i = 0; i < 5; i++) {
            client.getUser(ALICE_ID);
        }
        long ports = stub.requests.stream().map(StubBackend.Recorded::remotePort).distinct().count();
        assertEquals(1, ports, "all requests over one kept-alive connection");
    }

    @Test
    void readTimeoutAndUnreachableBackendAreUnavailable() {
        stub.onSlow("GET", "/v1/users/" + ALICE_ID, 3000);
        BackendClient fast = new BackendClient(new BackendHttp(BackendHttp.newHttpClient(Duration.ofSeconds(1)),
                stub.baseUrl(), "t", Duration.ofMillis(200)));
        BackendException e = assertThrows(BackendException.class, () -> fast.getUser(ALICE_ID));
        assertTrue(e.isUnavailable());
        BackendClient down = new BackendClient(new BackendHttp(BackendHttp.newHttpClient(Duration.ofMillis(500)),
                "http://127.0.0.1:1", "t", Duration.ofMillis(500)));
        assertEquals(0, assertThrows(BackendException.class, () -> down.getUser(ALICE_ID)).getStatus());
    }

    @Test
    void deactivatedUserIsNotActive() {
        stub.on("GET", "/v1/users/" + ALICE_ID, 200,
                ALICE.replace("\"deactivated_at\": null", "\"deactivated_at\": \"2024-06-01T00:00:00Z\""));
        BackendUser u = client.getUser(ALICE_ID).orElseThrow();
        assertTrue(u.isEnabled());
        assertFalse(u.isActive());
        assertNull(new BackendUser("x", Map.of(UserField.USERNAME, "u"), null, null, null, null, "garbage", null)
                .getCreatedTimestamp());
    }
}
