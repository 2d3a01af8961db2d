package com.identitybackend.bpm;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The backend's answers, kept for a short time (least recently used first out).
 *
 * <p>Each answer is tagged with the users and groups it holds. {@link #invalidateUser} and
 * {@link #invalidateGroup} drop the answers naming that user or group, and every search (a
 * change can bring a user into a search that did not hold it); {@link #invalidateAll} drops
 * everything. The backend's user and group events call these; the TTL bounds staleness without
 * them.
 */
public class ResponseCache {

    static final String SEARCH = "search";

    record Entry(Object value, Set<String> tags, long expiresAt) {}

    private final long ttlNanos;
    private final int maxSize;
    private final LongSupplier clock;
    private final LinkedHashMap<String, Entry> entries;

    public ResponseCache(int ttlSeconds, int maxSize, LongSupplier clock) {
        this.ttlNanos = TimeUnit.SECONDS.toNanos(ttlSeconds);
        this.maxSize = maxSize;
        this.clock = clock;
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Entry> eldest) {
                return size() > ResponseCache.this.maxSize;
            }
        };
    }

    public boolean enabled() {
        return ttlNanos > 0 && maxSize > 0;
    }

    /** The answer kept under {@code key}, or {@code null} when there is none or it expired. */
    public synchronized Entry get(String key) {
        Entry entry = entries.get(key);
        if (entry != null && clock.getAsLong() - entry.expiresAt() >= 0) {
            entries.remove(key);
            return null;
        }
        return entry;
    }

    public synchronized void put(String key, Object value, Set<String> tags) {
        if (enabled()) {
            entries.put(key, new Entry(value, Set.copyOf(tags), clock.getAsLong() + ttlNanos));
        }
    }

    public synchronized void invalidateUser(String userId) {
        drop("user:" + userId);
    }

    public synchronized void invalidateGroup(String groupId) {
        drop("group:" + groupId);
    }

    public synchronized void invalidateAll() {
        entries.clear();
    }

    public synchronized int size() {
        return entries.size();
    }

    private void drop(String tag) {
        entries.values().removeIf(entry -> entry.tags().contains(tag) || entry.tags().contains(SEARCH));
    }

    static String userTag(String key) {
        return "user:" + key;
    }

    static String groupTag(String key) {
        return "group:" + key;
    }
}
