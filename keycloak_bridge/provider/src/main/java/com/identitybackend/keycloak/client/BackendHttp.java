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
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;

/**
 * The HTTP plumbing every backend call shares: base URL, service token, read timeout, JSON bodies,
 * and the backend's error shape ({@code {"code", "message", "fields"}}) turned into
 * {@link BackendException}. Plain JDK {@link HttpClient} (HTTP/1.1 keep-alive, connections pooled
 * by the shared client) and Jackson; no Keycloak types, so it is unit-tested against a local stub.
 */
public final class BackendHttp {

    private static final Pattern UUID_RE =
            Pattern.compile("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http;
    private final String baseUrl;
    private final String token;
    private final Duration readTimeout;

    public BackendHttp(HttpClient http, String baseUrl, String token, Duration readTimeout) {
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

    /** Backend ids are UUIDs; nothing else is ever put into a URL path as an id. */
    public static boolean isUuid(String s) {
        return s != null && UUID_RE.matcher(s).matches();
    }

    static void requireUuid(String id) {
        if (!isUuid(id)) {
            throw new BackendException(400, "invalid_id", "not a backend id: " + id);
        }
    }

    /** One path segment (a role name, a group id), with blanks as {@code %20}. */
    static String segment(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    public String getBaseUrl() {
        return baseUrl;
    }

    /**
     * Sends one request and returns the answer, whatever its status. A query value that is a
     * collection repeats its key ({@code group=a&group=b}); {@code body} is sent as JSON.
     */
    Response send(String method, String path, Map<String, ?> query, Object body) {
        HttpRequest req = request(method, url(path, query), body);
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

    /** Sends without waiting; the future completes with the status (the body is discarded). */
    CompletableFuture<Integer> sendAsync(String method, String path, Object body) {
        return http.sendAsync(request(method, url(path, null), body), HttpResponse.BodyHandlers.discarding())
                .thenApply(HttpResponse::statusCode);
    }

    private URI url(String path, Map<String, ?> query) {
        StringBuilder sb = new StringBuilder(baseUrl).append(path);
        String sep = "?";
        if (query != null) {
            for (Map.Entry<String, ?> e : query.entrySet()) {
                Collection<?> values = e.getValue() instanceof Collection<?> c ? c : List.of(e.getValue());
                for (Object v : values) {
                    sb.append(sep).append(enc(e.getKey())).append('=').append(enc(String.valueOf(v)));
                    sep = "&";
                }
            }
        }
        return URI.create(sb.toString());
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
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

    /** One answer of the backend. */
    static final class Response {
        private final String method;
        private final String path;
        final int status;
        private final byte[] body;

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

        /** Returns this answer when its status is one of {@code ok}; else raises the backend's error. */
        Response expect(int... ok) {
            for (int s : ok) {
                if (status == s) {
                    return this;
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
                    fields = fieldMessages(err.get("fields"));
                }
            } catch (IOException ignored) {
                // not JSON: keep the generic message
            }
            throw new BackendException(status, code, message, fields, null);
        }

        private static Map<String, List<String>> fieldMessages(JsonNode f) {
            if (f == null || !f.isObject()) {
                return null;
            }
            Map<String, List<String>> fields = new LinkedHashMap<>();
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
            return fields;
        }
    }
}
