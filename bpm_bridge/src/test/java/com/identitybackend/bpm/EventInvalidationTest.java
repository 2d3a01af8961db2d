package com.identitybackend.bpm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class EventInvalidationTest {

    static final String ANN = "0b0e7c59-3c39-4a4e-9d39-2a3f5b6c7d01";
    static final String BOB = "0b0e7c59-3c39-4a4e-9d39-2a3f5b6c7d02";
    static final String SALES = "0b0e7c59-3c39-4a4e-9d39-2a3f5b6c7d03";
    static final String NORTH = "0b0e7c59-3c39-4a4e-9d39-2a3f5b6c7d04";

    private final ResponseCache cache = new ResponseCache(600, 100, System::nanoTime);
    private final EventInvalidation events = new EventInvalidation(cache, "acme");

    @BeforeEach
    void fill() {
        cache.put("/users/" + ANN, "ann", Set.of(ResponseCache.userTag(ANN), ResponseCache.userTag("ann")));
        cache.put("/users/" + BOB, "bob", Set.of(ResponseCache.userTag(BOB), ResponseCache.userTag("bob")));
        cache.put("/groups/" + SALES, "sales", Set.of(ResponseCache.groupTag(SALES), ResponseCache.groupTag("/sales")));
        cache.put("/groups/" + NORTH, "north", Set.of(ResponseCache.groupTag(NORTH), ResponseCache.groupTag("/sales/north")));
        cache.put("/groups?member=" + ANN, "page", Set.of(ResponseCache.SEARCH, ResponseCache.groupTag(SALES)));
    }

    @Test
    void aUsersEventDropsThatUserAndEverySearch() {
        for (String type : EventInvalidation.USER_EVENTS) {
            fill();
            events.apply(type, ANN, "acme");
            assertNull(cache.get("/users/" + ANN), type);
            assertNull(cache.get("/groups?member=" + ANN), type + ": a membership is a search");
            assertNotNull(cache.get("/users/" + BOB), type);
            assertNotNull(cache.get("/groups/" + SALES), type);
        }
    }

    @Test
    void aNewGroupDropsItsOwnAnswersAndEverySearch() {
        cache.put("/groups/" + "0b0e7c59-3c39-4a4e-9d39-2a3f5b6c7d05", null, Set.of(ResponseCache.SEARCH));  // a 404
        events.apply("GroupCreated", "0b0e7c59-3c39-4a4e-9d39-2a3f5b6c7d05", "acme");
        assertNull(cache.get("/groups/0b0e7c59-3c39-4a4e-9d39-2a3f5b6c7d05"));
        assertNull(cache.get("/groups?member=" + ANN));
        assertNotNull(cache.get("/groups/" + SALES));
        assertNotNull(cache.get("/users/" + ANN));
    }

    @Test
    void aRenamedOrDeletedGroupDropsEverything() {
        for (String type : EventInvalidation.GROUP_TREE_EVENTS) {
            fill();
            events.apply(type, SALES, "acme");
            assertNull(cache.get("/groups/" + NORTH), type + ": the subgroup's path changed, or it is gone");
            assertEquals(0, cache.size(), type);
        }
    }

    @Test
    void whatItCannotPlaceDropsEverything() {
        events.apply("SomethingNew", ANN, "acme");
        assertEquals(0, cache.size());
        fill();
        events.apply("UserPiiUpdated", null, "acme");
        assertEquals(0, cache.size());
        fill();
        events.apply(null, ANN, "acme");
        assertEquals(0, cache.size());
    }

    @Test
    void anotherTenantsEventChangesNothing() {
        events.apply("GroupDeleted", SALES, "globex");
        assertEquals(5, cache.size());
        new EventInvalidation(cache, "").apply("UserDeleted", ANN, "globex");  // no tenant configured: every event counts
        assertNull(cache.get("/users/" + ANN));
        events.apply("UserDeleted", BOB, null);  // an event without its tenant counts
        assertNull(cache.get("/users/" + BOB));
    }

    @Test
    void theBrokerUrlIsCheckedAndItsPasswordNeverLogged() {
        BridgeConfiguration configuration = new BridgeConfiguration();
        configuration.setBaseUrl("http://127.0.0.1:8000");
        configuration.setToken("t");
        configuration.setEventsBrokerUrl("http://127.0.0.1:5672");
        configuration.setEventsExchanges(" , ");
        IllegalStateException refused = assertThrows(IllegalStateException.class, configuration::validate);
        assertTrue(refused.getMessage().contains("eventsBrokerUrl") && refused.getMessage().contains("eventsExchanges"),
            refused.getMessage());
        configuration.setEventsBrokerUrl("amqp://cache:secret@broker.internal:5672/%2F");
        configuration.setEventsExchanges("users, more");
        configuration.validate();
        assertEquals(java.util.List.of("users", "more"), configuration.eventsExchangeNames());
        assertEquals("amqp://cache:***@broker.internal:5672/%2F",
            CacheEvents.withoutPassword(configuration.getEventsBrokerUrl()));
    }
}
