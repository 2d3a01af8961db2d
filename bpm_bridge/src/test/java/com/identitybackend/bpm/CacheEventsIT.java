package com.identitybackend.bpm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.cibseven.bpm.engine.IdentityService;
import org.cibseven.bpm.engine.ProcessEngine;
import org.junit.jupiter.api.Test;

/**
 * The cache of an engine whose answers live ten minutes follows the backend's own events: a change
 * made through the API reaches the engine's queries through the relay, RabbitMQ and the plugin's
 * listener, while a twin engine without events still answers from its cache. tests/test_bpm_bridge.py
 * seeds tenant {@code bpm-events} (erin; frank in /ops; /temp), runs a relay on the session's node
 * and hands over {@code rabbitmqctl} for it.
 *
 * <p>Waits poll with a generous bound: the machine may be loaded, and nothing here is a timing claim.
 */
class CacheEventsIT {

    static final String BASE_URL = System.getenv("BPM_BRIDGE_BASE_URL");
    static final String BROKER_URL = System.getenv("BPM_BRIDGE_BROKER_URL");
    static final JsonObject SEED = JsonParser.parseString(System.getenv("BPM_BRIDGE_EVENTS_SEED")).getAsJsonObject();
    static final JsonObject CONTROL = JsonParser.parseString(System.getenv("BPM_BRIDGE_BROKER_CONTROL")).getAsJsonObject();
    static final String TOKEN = SEED.get("token").getAsString();
    static final long PATIENCE_MILLIS = TimeUnit.MINUTES.toMillis(3);

    static String user(String name) {
        return SEED.getAsJsonObject("users").get(name).getAsString();
    }

    static String group(String path) {
        return SEED.getAsJsonObject("groups").get(path).getAsString();
    }

    /** A plugin for the tenant whose answers live ten minutes: only an event can refresh them. */
    static BackendIdentityProviderPlugin plugin(String brokerUrl) {
        BackendIdentityProviderPlugin plugin = new BackendIdentityProviderPlugin();
        plugin.setBaseUrl(BASE_URL);
        plugin.setToken(TOKEN);
        plugin.setTenantId(SEED.get("tenant").getAsString());
        plugin.setCacheTtlSeconds(600);
        plugin.setEventsBrokerUrl(brokerUrl);
        plugin.setEventsTenant(SEED.get("tenant").getAsString());
        plugin.setEventsRetryMillis(500);
        return plugin;
    }

    @Test
    void backendChangesReachTheEngineThroughTheirEvents() throws Exception {
        BackendIdentityProviderPlugin listening = plugin(BROKER_URL);
        BackendIdentityProviderPlugin deaf = plugin(null);
        ProcessEngine withEvents = BackendIdentityIT.engine("events", listening, false);
        ProcessEngine withoutEvents = BackendIdentityIT.engine("no-events", deaf, false);
        try {
            await("the listener connects", listening::eventsListening);
            assertFalse(deaf.eventsListening());
            IdentityService events = withEvents.getIdentityService();
            IdentityService ttl = withoutEvents.getIdentityService();
            String erin = user("erin");
            for (IdentityService identity : List.of(events, ttl)) {  // what each engine then keeps
                assertEquals("Erin", firstName(identity, erin));
                assertEquals(List.of(), groupsOf(identity, erin));
                assertEquals(List.of(user("frank")), membersOf(identity, group("/ops")));
                assertEquals(1, identity.createGroupQuery().groupId(group("/temp")).count());
            }

            call("PATCH", "/v1/users/" + erin, "{\"first_name\": \"Erina\"}", 200);
            await("the rename reaches the engine", () -> "Erina".equals(firstName(events, erin)));
            assertEquals(erin, events.createUserQuery().userFirstName("Erina").singleResult().getId());

            call("POST", "/v1/users/" + erin + "/groups/" + group("/ops"), null, 204);
            await("the new member reaches the engine", () -> groupsOf(events, erin).equals(List.of(group("/ops"))));
            assertEquals(List.of(user("erin"), user("frank")).stream().sorted().toList(), membersOf(events, group("/ops")));

            call("DELETE", "/v1/groups/" + group("/temp"), null, 204);
            await("the deleted group leaves the engine", () -> events.createGroupQuery().groupId(group("/temp")).count() == 0);
            assertEquals(0, events.createGroupQuery().groupName("temp").count());

            // The engine without events still has what it read: only the events refreshed the other.
            assertEquals("Erin", firstName(ttl, erin));
            assertEquals(List.of(), groupsOf(ttl, erin));
            assertEquals(1, ttl.createGroupQuery().groupId(group("/temp")).count());
        } finally {
            listening.stopEvents();
            withEvents.close();
            withoutEvents.close();
        }
        assertFalse(listening.eventsListening());
    }

    @Test
    void theListenerWaitsForABrokerThatIsDownAndComesBackAfterARestart() throws Exception {
        String erin = user("erin");
        BackendIdentityProviderPlugin plugin = plugin(BROKER_URL);
        ProcessEngine engine = null;
        ctl("stop_app");
        try {
            try {
                engine = BackendIdentityIT.engine("events-later", plugin, false);  // starts with the broker down
                assertFalse(plugin.eventsListening());
                assertEquals(erin, engine.getIdentityService().createUserQuery().userId(erin).singleResult().getId(),
                    "the backend still answers");
            } finally {
                ctl("start_app");
            }
            IdentityService identity = engine.getIdentityService();
            await("the listener connects once the broker is up", plugin::eventsListening);
            assertFalse("Early".equals(lastName(identity, erin)));
            call("PATCH", "/v1/users/" + erin, "{\"last_name\": \"Early\"}", 200);
            await("a change reaches the engine", () -> "Early".equals(lastName(identity, erin)));

            ctl("stop_app");
            try {
                await("the listener notices the broker is gone", () -> !plugin.eventsListening());
                assertEquals("Early", lastName(identity, erin), "the engine goes on from its cache");
            } finally {
                ctl("start_app");
            }
            await("the client recovers the connection by itself", plugin::eventsListening);
            assertEquals("Early", lastName(identity, erin));  // read again after the recovery's drop: cached now
            call("PATCH", "/v1/users/" + erin, "{\"last_name\": \"Recovered\"}", 200);
            await("a change after the restart reaches the engine", () -> "Recovered".equals(lastName(identity, erin)));
        } finally {
            plugin.stopEvents();
            if (engine != null) {
                engine.close();
            }
        }
    }

    static String firstName(IdentityService identity, String userId) {
        return identity.createUserQuery().userId(userId).singleResult().getFirstName();
    }

    static String lastName(IdentityService identity, String userId) {
        return identity.createUserQuery().userId(userId).singleResult().getLastName();
    }

    static List<String> groupsOf(IdentityService identity, String userId) {
        return BackendIdentityIT.ids(identity.createGroupQuery().groupMember(userId).orderByGroupId().asc().list());
    }

    static List<String> membersOf(IdentityService identity, String groupId) {
        return BackendIdentityIT.ids(identity.createUserQuery().memberOfGroup(groupId).orderByUserId().asc().list());
    }

    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(PATIENCE_MILLIS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail(what + ": not within " + PATIENCE_MILLIS / 1000 + " s");
            }
            Thread.sleep(100);
        }
    }

    static void call(String method, String path, String json, int expected) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(BASE_URL + path))
            .header("Authorization", "Bearer " + TOKEN)
            .header("Content-Type", "application/json")
            .method(method, json == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(json, StandardCharsets.UTF_8))
            .build();
        HttpResponse<String> response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
        assertEquals(expected, response.statusCode(), method + " " + path + ": " + response.body());
    }

    /** {@code rabbitmqctl <action>} against the session's node. */
    static void ctl(String action) throws Exception {
        List<String> command = new ArrayList<>();
        for (JsonElement part : CONTROL.getAsJsonArray("command")) {
            command.add(part.getAsString());
        }
        command.add(action);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        for (Map.Entry<String, JsonElement> variable : CONTROL.getAsJsonObject("env").entrySet()) {
            builder.environment().put(variable.getKey(), variable.getValue().getAsString());
        }
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(120, TimeUnit.SECONDS), "rabbitmqctl " + action + " did not finish");
        assertEquals(0, process.exitValue(), "rabbitmqctl " + action + ": " + output);
    }
}
