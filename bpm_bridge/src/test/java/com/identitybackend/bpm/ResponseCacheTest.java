package com.identitybackend.bpm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ResponseCacheTest {

    private final AtomicLong now = new AtomicLong(1_000);
    private final ResponseCache cache = new ResponseCache(30, 3, now::get);

    @Test
    void anAnswerLivesForTheTtl() {
        cache.put("/users/1", "alice", Set.of("user:1"));
        now.addAndGet(TimeUnit.SECONDS.toNanos(29));
        assertEquals("alice", cache.get("/users/1").value());
        now.addAndGet(TimeUnit.SECONDS.toNanos(1));
        assertNull(cache.get("/users/1"));
    }

    @Test
    void invalidatingAUserDropsItsAnswersAndEverySearch() {
        cache.put("/users/1", "alice", Set.of("user:1", "user:alice"));
        cache.put("/users/2", "bob", Set.of("user:2"));
        cache.put("/users:search?x", "page", Set.of(ResponseCache.SEARCH, "user:2"));
        cache.invalidateUser("alice");
        assertNull(cache.get("/users/1"));
        assertNull(cache.get("/users:search?x"));
        assertNotNull(cache.get("/users/2"));
        cache.put("/groups/9", "g", Set.of("group:9"));
        cache.invalidateGroup("9");
        assertNull(cache.get("/groups/9"));
        assertNotNull(cache.get("/users/2"));
        cache.invalidateAll();
        assertEquals(0, cache.size());
    }

    @Test
    void theLeastRecentlyUsedGoesFirst() {
        cache.put("a", 1, Set.of());
        cache.put("b", 2, Set.of());
        cache.put("c", 3, Set.of());
        cache.get("a");
        cache.put("d", 4, Set.of());
        assertNull(cache.get("b"));
        assertNotNull(cache.get("a"));
        assertEquals(3, cache.size());
    }

    @Test
    void aZeroTtlKeepsNothing() {
        ResponseCache off = new ResponseCache(0, 100, now::get);
        off.put("a", 1, Set.of());
        assertFalse(off.enabled());
        assertNull(off.get("a"));
    }
}
