package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendHttp;
import org.keycloak.component.ComponentModel;

import java.net.http.HttpClient;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Process-wide {@link HttpClient}s (one per connect timeout) so that every Keycloak session reuses
 * the same kept-alive connections to the backend.
 */
public final class HttpClients {

    private static final Map<Integer, HttpClient> CLIENTS = new ConcurrentHashMap<>();

    private HttpClients() {
    }

    /** The backend as a {@code identity-backend} component configures it (URL, token, timeouts). */
    public static BackendHttp forComponent(ComponentModel model) {
        int connect = BackendConfig.connectTimeoutMs(model);
        int read = BackendConfig.readTimeoutMs(model);
        HttpClient http = CLIENTS.computeIfAbsent(connect, ms -> BackendHttp.newHttpClient(Duration.ofMillis(ms)));
        return new BackendHttp(http, BackendConfig.baseUrl(model), BackendConfig.apiToken(model), Duration.ofMillis(read));
    }

    static void clear() {
        CLIENTS.clear();
    }
}
