package com.identitybackend.bpm;

import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.function.Function;
import org.cibseven.bpm.engine.impl.identity.IdentityProviderException;

/**
 * Calls to the backend's {@code /v1} API with the client token. Every failure is an
 * {@link IdentityProviderException} naming the backend's URL; short timeouts keep a backend that
 * is down from holding engine threads.
 */
public class BackendHttp {

    private final String base;
    private final String token;
    private final Duration requestTimeout;
    private final HttpClient client;
    private final ResponseCache cache;

    public BackendHttp(BridgeConfiguration configuration, ResponseCache cache) {
        String url = configuration.getBaseUrl().strip();
        this.base = (url.endsWith("/") ? url.substring(0, url.length() - 1) : url) + "/v1";
        this.token = configuration.getToken().strip();
        this.requestTimeout = Duration.ofMillis(configuration.getRequestTimeoutMillis());
        this.client = HttpClient.newBuilder()
            .connectTimeout(Duration.ofMillis(configuration.getConnectTimeoutMillis()))
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();
        this.cache = cache;
    }

    public String base() {
        return base;
    }

    /**
     * The body of {@code GET /v1<pathAndQuery>}, or {@code null} for a 404, from the cache when
     * it is fresh. {@code tags} names the users and groups of a body (see {@link ResponseCache}).
     */
    public JsonObject get(String pathAndQuery, Function<JsonObject, Set<String>> tags) {
        ResponseCache.Entry kept = cache.get(pathAndQuery);
        if (kept != null) {
            return kept.value() == JsonNull.INSTANCE ? null : (JsonObject) kept.value();
        }
        HttpRequest request = request(pathAndQuery).GET().build();
        JsonObject body = send(request, pathAndQuery);
        cache.put(pathAndQuery, body == null ? JsonNull.INSTANCE : body,
            body == null ? Set.of(ResponseCache.SEARCH) : tags.apply(body));
        return body;
    }

    /** {@code POST /v1<path>} with a JSON body, never cached; {@code null} for a 404. */
    public JsonObject post(String path, JsonObject json) {
        HttpRequest request = request(path)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json.toString(), StandardCharsets.UTF_8))
            .build();
        return send(request, path);
    }

    private HttpRequest.Builder request(String pathAndQuery) {
        try {
            return HttpRequest.newBuilder(URI.create(base + pathAndQuery))
                .timeout(requestTimeout)
                .header("Authorization", "Bearer " + token)
                .header("Accept", "application/json");
        } catch (IllegalArgumentException e) {
            throw new IdentityProviderException("Identity backend at " + base + ": bad request URL " + pathAndQuery, e);
        }
    }

    private JsonObject send(HttpRequest request, String what) {
        String call = request.method() + " " + base + what;
        HttpResponse<String> response;
        try {
            response = client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IdentityProviderException("Identity backend at " + base + " is unreachable (" + call + "): " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IdentityProviderException("Interrupted while calling the identity backend (" + call + ")", e);
        }
        int status = response.statusCode();
        if (status == 404) {
            return null;
        }
        JsonElement body;
        try {
            body = JsonParser.parseString(response.body());
        } catch (JsonParseException e) {
            body = null;
        }
        if (status >= 200 && status < 300 && body != null && body.isJsonObject()) {
            return body.getAsJsonObject();
        }
        String detail = body != null && body.isJsonObject() ? body.toString() : "no JSON body";
        throw new IdentityProviderException("Identity backend at " + base + " answered " + status + " to " + call + ": " + detail);
    }
}
