package com.identitybackend.keycloak.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;

/**
 * Client of the backend's {@code /v1} user API. Plain JDK {@link HttpClient} (HTTP/1.1 keep-alive,
 * connections pooled by the shared client) and Jackson; no Keycloak types, so it is unit-tested
 * against a local stub server.
 */
public class BackendClient {

    private static final Pattern UUID_RE =
            Pattern.compile("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http;
    private final String baseUrl;
    private final String token;
    private final Duration readTimeout;

    public BackendClient(HttpClient http, String baseUrl, String token, Duration readTimeout) {
        this.http = http;
        String b = baseUrl == null ? "" : baseUrl.trim();
        while (b.endsWith("/")) {
            b = b.substring(0, b.length() - 1);
        }
        this.baseUrl = b;
        this.token = token;
        this.readTimeout = readTimeout;
    }

    /** A client suitable for sharing: HTTP/1.1 (keep-alive), no redirects, the given connect timeout. */
    public static HttpClient newHttpClient(Duration connectTimeout) {
        return HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(connectTimeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    public static boolean isUuid(String s) {
        return s != null && UUID_RE.matcher(s).matches();
    }

    public String getBaseUrl() {
        return baseUrl;
    }

    // ------------------------------------------------------------------ users

    /** {@code GET /v1/users/{id}}; empty for 404 and for ids that are not UUIDs (no call made). */
    public Optional<BackendUser> getUser(String id) {
        if (!isUuid(id)) {
            return Optional.empty();
        }
        Response r = send("GET", "/v1/users/" + id, null, null);
        if (r.status == 404) {
            return Optional.empty();
        }
        r.expect(200);
        return Optional.of(UserJson.parseUser(r.json()));
    }

    public Optional<BackendUser> findByUsername(String username) {
        return findOne("username", username);
    }

    public Optional<BackendUser> findByEmail(String email) {
        return findOne("email", email);
    }

    private Optional<BackendUser> findOne(String field, String value) {
        if (value == null || value.isEmpty()) {
            return Optional.empty();
        }
        Map<String, String> q = new LinkedHashMap<>();
        q.put(field, value);
        q.put("exact", "true");
        List<BackendUser> results = search(q, 0, 1).results();
        return results.isEmpty() ? Optional.empty() : Optional.of(results.get(0));
    }

    /** {@code GET /v1/users:search?<filters>&first=&max=}. */
    public Page<BackendUser> search(Map<String, String> filters, int first, int max) {
        Map<String, String> q = new LinkedHashMap<>(filters);
        q.put("first", Integer.toString(Math.max(0, first)));
        q.put("max", Integer.toString(Math.max(0, max)));
        Response r = send("GET", "/v1/users:search", q, null);
        r.expect(200);
        return UserJson.parseUserPage(r.json());
    }

    /** {@code GET /v1/users:count?<filters>}; {@code groups} (paths) are sent as repeated {@code group=}. */
    public int count(Map<String, String> filters, List<String> groupPaths) {
        StringBuilder extra = new StringBuilder();
        if (groupPaths != null) {
            for (String p : groupPaths) {
                extra.append(extra.length() == 0 ? "" : "&").append("group=").append(enc(p));
            }
        }
        Response r = send("GET", "/v1/users:count", filters, extra.length() == 0 ? null : extra.toString(), null);
        r.expect(200);
        JsonNode n = r.json().get("count");
        return n == null ? 0 : (int) Math.min(Integer.MAX_VALUE, n.asLong());
    }

    /** {@code POST /v1/users}; 409 becomes a {@link BackendException} with {@code isConflict()}. */
    public BackendUser createUser(Map<String, Object> body) {
        Response r = send("POST", "/v1/users", null, body);
        r.expect(201, 200);
        return UserJson.parseUser(r.json());
    }

    /** {@code PATCH /v1/users/{id}} with only the changed fields. */
    public BackendUser patchUser(String id, Map<String, Object> fields) {
        requireUuid(id);
        Response r = send("PATCH", "/v1/users/" + id, null, fields);
        r.expect(200);
        return UserJson.parseUser(r.json());
    }

    /** {@code DELETE /v1/users/{id}}; false when it was already gone. */
    public boolean deleteUser(String id) {
        if (!isUuid(id)) {
            return false;
        }
        Response r = send("DELETE", "/v1/users/" + id, null, null);
        if (r.status == 404) {
            return false;
        }
        r.expect(204, 200);
        return true;
    }

    public void setPassword(String id, String password) {
        requireUuid(id);
        Response r = send("PUT", "/v1/users/" + id + "/password", null, Map.of("password", password));
        r.expect(204, 200);
    }

    public PasswordCheck verifyPassword(String id, String password) {
        if (!isUuid(id) || password == null) {
            return PasswordCheck.INVALID;
        }
        Response r = send("POST", "/v1/users/" + id + "/credentials:verify", null, Map.of("password", password));
        if (r.status == 429) {
            return PasswordCheck.THROTTLED;
        }
        if (r.status == 404) {
            return PasswordCheck.INVALID;
        }
        r.expect(200);
        JsonNode valid = r.json().get("valid");
        return valid != null && valid.asBoolean(false) ? PasswordCheck.VALID : PasswordCheck.INVALID;
    }

    /** {@code POST /v1/users/{id}:record-login}, asynchronously (a login never waits for it). */
    public CompletableFuture<Integer> recordLoginAsync(String id, String clientId, String ip) {
        if (!isUuid(id)) {
            return CompletableFuture.completedFuture(0);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("client", clientId);
        body.put("ip", ip);
        return http.sendAsync(request("POST", url("/v1/users/" + id + ":record-login", null, null), body),
                        HttpResponse.BodyHandlers.discarding())
                .thenApply(HttpResponse::statusCode);
    }

    // ------------------------------------------------------------------ roles and groups

    public List<String> listRoleNames() {
        List<String> names = new ArrayList<>();
        Response r = send("GET", "/v1/roles", null, null);
        r.expect(200);
        for (JsonNode n : r.json().path("results")) {
            names.add(n.path("name").asText());
        }
        return names;
    }

    public void addRole(String userId, String role) {
        requireUuid(userId);
        send("POST", "/v1/users/" + userId + "/roles/" + encPath(role), null, null).expect(204, 200);
    }

    public void removeRole(String userId, String role) {
        requireUuid(userId);
        Response r = send("DELETE", "/v1/users/" + userId + "/roles/" + encPath(role), null, null);
        if (r.status != 404) {
            r.expect(204, 200);
        }
    }

    public Optional<BackendGroup> findGroupByPath(String path) {
        Response r = send("GET", "/v1/groups", Map.of("path", path), null);
        r.expect(200);
        for (JsonNode n : r.json().path("results")) {
            BackendGroup g = UserJson.parseGroup(n);
            if (path.equals(g.path())) {
                return Optional.of(g);
            }
        }
        return Optional.empty();
    }

    public void addGroup(String userId, String groupId) {
        requireUuid(userId);
        send("POST", "/v1/users/" + userId + "/groups/" + encPath(groupId), null, null).expect(204, 200);
    }

    public void removeGroup(String userId, String groupId) {
        requireUuid(userId);
        Response r = send("DELETE", "/v1/users/" + userId + "/groups/" + encPath(groupId), null, null);
        if (r.status != 404) {
            r.expect(204, 200);
        }
    }

    public Page<BackendUser> groupMembers(String groupId, int first, int max) {
        Map<String, String> q = new LinkedHashMap<>();
        q.put("first", Integer.toString(Math.max(0, first)));
        q.put("max", Integer.toString(Math.max(0, max)));
        Response r = send("GET", "/v1/groups/" + encPath(groupId) + "/members", q, null);
        if (r.status == 404) {
            return new Page<>(List.of(), null);
        }
        r.expect(200);
        return UserJson.parseUserPage(r.json());
    }

    // ------------------------------------------------------------------ verification and magic sign-in

    /** {@code POST /v1/phone-verifications}: texts a code; 400 (bad number), 429 and 503 raise. */
    public Verification startPhoneVerification(String phoneNumber, String clientIp) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("phone_number", phoneNumber);
        body.put("client_ip", clientIp);
        Response r = send("POST", "/v1/phone-verifications", null, body);
        r.expect(201);
        JsonNode n = r.json();
        return new Verification(n.path("id").asText(), n.path("destination").asText());
    }

    /** {@code POST /v1/phone-verifications/{id}:confirm}: the signed proof; a wrong or dead code raises 400. */
    public String confirmPhoneVerification(String verificationId, String code) {
        requireUuid(verificationId);
        Response r = send("POST", "/v1/phone-verifications/" + verificationId + ":confirm", null,
                Map.of("code", code == null ? "" : code));
        r.expect(200);
        return r.json().path("proof").asText();
    }

    /** {@code POST /v1/magic-links}: the same answer whether or not a user has the address. */
    public void requestMagicLink(String email, String state, String clientIp) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("email", email);
        body.put("state", state);
        body.put("client_ip", clientIp);
        send("POST", "/v1/magic-links", null, body).expect(202);
    }

    /** {@code POST /v1/magic-links:redeem}: the user's id, or empty when the link is unknown, used or expired. */
    public Optional<String> redeemMagicLink(String token) {
        return redeemed(send("POST", "/v1/magic-links:redeem", null, Map.of("token", token == null ? "" : token)));
    }

    /** {@code POST /v1/magic-sms}: the same answer whether or not a user has the number. */
    public void requestMagicSms(String phoneNumber, String clientIp) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("phone_number", phoneNumber);
        body.put("client_ip", clientIp);
        send("POST", "/v1/magic-sms", null, body).expect(202);
    }

    /** {@code POST /v1/magic-sms:redeem}: the user's id, or empty when the code is wrong, used, expired or dead. */
    public Optional<String> redeemMagicSms(String phoneNumber, String code) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("phone_number", phoneNumber == null ? "" : phoneNumber);
        body.put("code", code == null ? "" : code);
        return redeemed(send("POST", "/v1/magic-sms:redeem", null, body));
    }

    private static Optional<String> redeemed(Response r) {
        if (r.status == 400) {
            return Optional.empty();
        }
        r.expect(200);
        String id = r.json().path("user_id").asText("");
        return isUuid(id) ? Optional.of(id) : Optional.empty();
    }

    /** A started verification: its id and the number or address as the backend normalised it. */
    public record Verification(String id, String destination) {
    }

    // ------------------------------------------------------------------ transport

    private static void requireUuid(String id) {
        if (!isUuid(id)) {
            throw new BackendException(400, "invalid_id", "not a backend user id: " + id);
        }
    }

    static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    static String encPath(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private URI url(String path, Map<String, String> query, String rawExtra) {
        StringBuilder sb = new StringBuilder(baseUrl).append(path);
        String sep = "?";
        if (query != null) {
            for (Map.Entry<String, String> e : query.entrySet()) {
                sb.append(sep).append(enc(e.getKey())).append('=').append(enc(e.getValue()));
                sep = "&";
            }
        }
        if (rawExtra != null) {
            sb.append(sep).append(rawExtra);
        }
        return URI.create(sb.toString());
    }

    private HttpRequest request(String method, URI uri, Object body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri)
                .timeout(readTimeout)
                .header("Accept", "application/json")
                .header("Authorization", "Bearer " + token);
        if (body != null) {
            byte[] bytes;
            try {
                bytes = JSON.writeValueAsBytes(body);
            } catch (IOException e) {
                throw new BackendException(0, "encode_error", "cannot encode request body", null, e);
            }
            b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofByteArray(bytes));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        return b.build();
    }

    private Response send(String method, String path, Map<String, String> query, Object body) {
        return send(method, path, query, null, body);
    }

    private Response send(String method, String path, Map<String, String> query, String rawExtra, Object body) {
        HttpRequest req = request(method, url(path, query, rawExtra), body);
        try {
            HttpResponse<byte[]> resp = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
            return new Response(method, path, resp.statusCode(), resp.body());
        } catch (IOException e) {
            throw new BackendException(0, "unavailable", method + " " + path + ": " + e, null, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BackendException(0, "interrupted", method + " " + path + " interrupted", null, e);
        }
    }

    private static final class Response {
        final String method;
        final String path;
        final int status;
        final byte[] body;

        Response(String method, String path, int status, byte[] body) {
            this.method = method;
            this.path = path;
            this.status = status;
            this.body = body;
        }

        JsonNode json() {
            try {
                return body == null || body.length == 0 ? JSON.createObjectNode() : JSON.readTree(body);
            } catch (IOException e) {
                throw new BackendException(status, "bad_json", method + " " + path + ": invalid JSON", null, e);
            }
        }

        void expect(int... ok) {
            for (int s : ok) {
                if (status == s) {
                    return;
                }
            }
            String code = "http_" + status;
            String message = method + " " + path + " -> " + status;
            Map<String, List<String>> fields = null;
            try {
                JsonNode err = body == null || body.length == 0 ? null : JSON.readTree(body);
                if (err != null && err.isObject()) {
                    code = err.path("code").asText(code);
                    message = message + ": " + err.path("message").asText("");
                    JsonNode f = err.get("fields");
                    if (f != null && f.isObject()) {
                        fields = new LinkedHashMap<>();
                        for (Iterator<Map.Entry<String, JsonNode>> it = f.fields(); it.hasNext(); ) {
                            Map.Entry<String, JsonNode> e = it.next();
                            List<String> msgs = new ArrayList<>();
                            if (e.getValue().isArray()) {
                                e.getValue().forEach(m -> msgs.add(m.asText()));
                            } else {
                                msgs.add(e.getValue().asText());
                            }
                            fields.put(e.getKey(), msgs);
                        }
                    }
                }
            } catch (IOException ignored) {
                // not JSON: keep the generic message
            }
            throw new BackendException(status, code, message, fields, null);
        }
    }

    /** A random UUID for users Keycloak creates (the backend accepts a client-chosen id). */
    public static String newUserId() {
        return UUID.randomUUID().toString();
    }
}
