package com.identitybackend.bpm;

import java.util.List;
import java.util.stream.Stream;

/**
 * What one of the backend's events drops from the cache. The names are those of the backend's
 * event catalogue ({@code events/catalogue.py}); each event's {@code ce-subject} is the id (UUID)
 * of the user or group it is about, which the cache's answers are tagged with whatever the engine's
 * ids are. When in doubt it drops everything: a needless miss costs one request, a stale answer
 * lasts the TTL.
 */
final class EventInvalidation {

    /** Changes to a user's fields, state or groups: its answers and every search go. */
    static final List<String> USER_EVENTS = List.of(
        "UserCreated", "UserPiiUpdated", "UserDeactivated", "UserReactivated", "UserDeleted", "UserGroupsChanged");
    /** A new group: its own (cached "not found") answers and every search go. */
    static final List<String> GROUP_CREATED = List.of("GroupCreated");
    /** A renamed or deleted group takes its subgroups' paths or the subgroups with it: everything goes. */
    static final List<String> GROUP_TREE_EVENTS = List.of("GroupUpdated", "GroupDeleted");
    /** The routing keys the engine's queue is bound with (a message's key is its name). */
    static final List<String> ROUTING_KEYS =
        Stream.of(USER_EVENTS, GROUP_CREATED, GROUP_TREE_EVENTS).flatMap(List::stream).toList();

    private final ResponseCache cache;
    private final String tenant;

    EventInvalidation(ResponseCache cache, String tenant) {
        this.cache = cache;
        this.tenant = BridgeConfiguration.blank(tenant) ? null : tenant.strip();
    }

    /**
     * Drops what the event of {@code type} about {@code subject} in {@code eventTenant} makes stale;
     * another tenant's event changes nothing the engine sees. Returns what it did, for the log.
     */
    String apply(String type, String subject, String eventTenant) {
        if (tenant != null && eventTenant != null && !tenant.equals(eventTenant)) {
            return "ignored (tenant " + eventTenant + ")";
        }
        if (BridgeConfiguration.blank(subject) || type == null) {
            cache.invalidateAll();
            return "everything (no type or subject)";
        }
        if (USER_EVENTS.contains(type)) {
            cache.invalidateUser(subject);
            return "user " + subject;
        }
        if (GROUP_CREATED.contains(type)) {
            cache.invalidateGroup(subject);
            return "group " + subject;
        }
        cache.invalidateAll();
        return "everything";
    }
}
