package com.identitybackend.bpm;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The plugin's properties, set as process engine plugin properties (bpm-platform.xml, or
 * {@code plugin-parameters} of CIB Seven Run's YAML). Named after the Keycloak plugin's where they
 * mean the same.
 */
public class BridgeConfiguration {

    /** The backend's origin, e.g. {@code https://identity.example.com}; {@code /v1} is added. */
    protected String baseUrl;
    /** An API client token of the tenant ({@code users:read} and {@code credentials:verify}). */
    protected String token;
    /** The group whose members administer the engine: its name (a top-level group) or its path. */
    protected String administratorGroupName;
    /** A user who administers the engine, as the engine knows users (see {@link #userIdAttribute}). */
    protected String administratorUserId;
    /** What the engine's user id is: the backend's {@code id} (the UUID, default) or {@code username}. */
    protected String userIdAttribute = "id";
    /** What the engine's group id is: the backend's {@code id} (the UUID, default) or {@code path}. */
    protected String groupIdAttribute = "id";
    /** The engine's one tenant (the token's tenant in the backend); none when empty. */
    protected String tenantId;
    /** Its display name; the id when empty. */
    protected String tenantName;
    /** How long an answer of the backend is reused; 0 turns the cache off. */
    protected int cacheTtlSeconds = 30;
    /** How many answers are kept at most. */
    protected int cacheMaxSize = 1000;
    protected int connectTimeoutMillis = 2000;
    protected int requestTimeoutMillis = 5000;
    /**
     * The RabbitMQ node the backend publishes its events to ({@code amqp://user:password@host:5672/vhost});
     * its user and group events then drop what the cache holds about them. Unset: no events, the TTL alone.
     */
    protected String eventsBrokerUrl;
    /** The exchanges whose user and group events count, comma-separated. */
    protected String eventsExchanges = "users";
    /** The engine's queue: empty for a server-named one; either way exclusive and auto-deleted. */
    protected String eventsQueue;
    /** The backend tenant (slug) whose events count; empty: every tenant's (correct, fewer cache hits). */
    protected String eventsTenant;
    /** How long to wait before connecting again after the broker could not be reached or was lost. */
    protected int eventsRetryMillis = 5000;

    public boolean usernameIsUserId() {
        return "username".equals(userIdAttribute);
    }

    public boolean pathIsGroupId() {
        return "path".equals(groupIdAttribute);
    }

    public boolean eventsEnabled() {
        return !blank(eventsBrokerUrl);
    }

    public List<String> eventsExchangeNames() {
        return blank(eventsExchanges) ? List.of()
            : Arrays.stream(eventsExchanges.split(",")).map(String::strip).filter(name -> !name.isEmpty()).toList();
    }

    /** Refuses a configuration the bridge cannot work with, naming every problem. */
    public void validate() {
        StringBuilder problems = new StringBuilder();
        if (blank(baseUrl)) problems.append(" baseUrl is missing;");
        if (blank(token)) problems.append(" token is missing;");
        if (!"id".equals(userIdAttribute) && !"username".equals(userIdAttribute)) {
            problems.append(" userIdAttribute must be id or username;");
        }
        if (!"id".equals(groupIdAttribute) && !"path".equals(groupIdAttribute)) {
            problems.append(" groupIdAttribute must be id or path;");
        }
        if (cacheTtlSeconds < 0 || cacheMaxSize < 0) problems.append(" cache settings must not be negative;");
        if (connectTimeoutMillis <= 0 || requestTimeoutMillis <= 0) problems.append(" timeouts must be positive;");
        if (eventsEnabled()) {
            if (!amqpUrl(eventsBrokerUrl)) problems.append(" eventsBrokerUrl must be an amqp:// or amqps:// URL;");
            if (eventsExchangeNames().isEmpty()) problems.append(" eventsExchanges names no exchange;");
            if (eventsRetryMillis <= 0) problems.append(" eventsRetryMillis must be positive;");
        }
        if (problems.length() > 0) {
            throw new IllegalStateException("Identity backend plugin:" + problems);
        }
    }

    static boolean blank(String value) {
        return value == null || value.isBlank();
    }

    private static boolean amqpUrl(String value) {
        try {
            URI uri = new URI(value.strip());
            return ("amqp".equals(uri.getScheme()) || "amqps".equals(uri.getScheme())) && uri.getHost() != null;
        } catch (URISyntaxException e) {
            return false;
        }
    }

    public String getBaseUrl() { return baseUrl; }
    public void setBaseUrl(String baseUrl) { this.baseUrl = baseUrl; }
    public String getToken() { return token; }
    public void setToken(String token) { this.token = token; }
    public String getAdministratorGroupName() { return administratorGroupName; }
    public void setAdministratorGroupName(String name) { this.administratorGroupName = name; }
    public String getAdministratorUserId() { return administratorUserId; }
    public void setAdministratorUserId(String id) { this.administratorUserId = id; }
    public String getUserIdAttribute() { return userIdAttribute; }
    public void setUserIdAttribute(String value) { this.userIdAttribute = value == null ? null : value.toLowerCase(Locale.ROOT); }
    public String getGroupIdAttribute() { return groupIdAttribute; }
    public void setGroupIdAttribute(String value) { this.groupIdAttribute = value == null ? null : value.toLowerCase(Locale.ROOT); }
    public String getTenantId() { return tenantId; }
    public void setTenantId(String tenantId) { this.tenantId = tenantId; }
    public String getTenantName() { return blank(tenantName) ? tenantId : tenantName; }
    public void setTenantName(String tenantName) { this.tenantName = tenantName; }
    public int getCacheTtlSeconds() { return cacheTtlSeconds; }
    public void setCacheTtlSeconds(int seconds) { this.cacheTtlSeconds = seconds; }
    public int getCacheMaxSize() { return cacheMaxSize; }
    public void setCacheMaxSize(int size) { this.cacheMaxSize = size; }
    public int getConnectTimeoutMillis() { return connectTimeoutMillis; }
    public void setConnectTimeoutMillis(int millis) { this.connectTimeoutMillis = millis; }
    public int getRequestTimeoutMillis() { return requestTimeoutMillis; }
    public void setRequestTimeoutMillis(int millis) { this.requestTimeoutMillis = millis; }
    public String getEventsBrokerUrl() { return eventsBrokerUrl; }
    public void setEventsBrokerUrl(String url) { this.eventsBrokerUrl = url; }
    public String getEventsExchanges() { return eventsExchanges; }
    public void setEventsExchanges(String exchanges) { this.eventsExchanges = exchanges; }
    public String getEventsQueue() { return eventsQueue; }
    public void setEventsQueue(String queue) { this.eventsQueue = queue; }
    public String getEventsTenant() { return eventsTenant; }
    public void setEventsTenant(String tenant) { this.eventsTenant = tenant; }
    public int getEventsRetryMillis() { return eventsRetryMillis; }
    public void setEventsRetryMillis(int millis) { this.eventsRetryMillis = millis; }
}
