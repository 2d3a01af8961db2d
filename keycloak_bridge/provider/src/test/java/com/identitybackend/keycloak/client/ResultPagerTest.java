package com.identitybackend.keycloak.client;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ResultPagerTest {

    private static BackendUser user(int i) {
        return BackendUser.blank(String.format("00000000-0000-0000-0000-%012d", i), String.format("u%02d", i));
    }

    private static final List<BackendUser> ALL = IntStream.range(0, 50).mapToObj(ResultPagerTest::user).toList();

    /** A backend that caps pages at 20 and records the calls. */
    private static final class Backend implements ResultPager.PageSource {
        final List<int[]> calls = new ArrayList<>();

        @Override
        public Page<BackendUser> fetch(int offset, int max) {
            calls.add(new int[] {offset, max});
            int end = Math.min(ALL.size(), offset + Math.min(max, 20));
            List<BackendUser> slice = offset >= ALL.size() ? List.of() : ALL.subList(offset, end);
            return new Page<>(slice, end < ALL.size() ? "next" : null);
        }
    }

    private static Set<String> ids(List<BackendUser> users) {
        return users.stream().map(BackendUser::getId).collect(Collectors.toSet());
    }

    @Test
    void passThroughUsesBackendOffsets() {
        Backend b = new Backend();
        List<BackendUser> page = ResultPager.collect(b, u -> false, 10, 5, true, 100);
        assertEquals(ALL.subList(10, 15), page);
        assertEquals(1, b.calls.size());
        assertEquals(10, b.calls.get(0)[0]);
    }

    @Test
    void passThroughFollowsCappedPages() {
        Backend b = new Backend();
        List<BackendUser> page = ResultPager.collect(b, u -> false, 0, 45, true, 100);
        assertEquals(ALL.subList(0, 45), page);
        assertEquals(3, b.calls.size());
    }

    @Test
    void pagesOverLocalAndBackendResultsCoverEveryoneOnce() {
        // Keycloak's database already holds every third user (as the local search would return them)
        Predicate<BackendUser> local = u -> Integer.parseInt(u.getUsername().substring(1)) % 3 == 0;
        List<BackendUser> localUsers = ALL.stream().filter(local).toList();
        List<BackendUser> seen = new ArrayList<>();
        int pageSize = 7;
        for (int first = 0; first < ALL.size() + pageSize; first += pageSize) {
            // what UserStorageManager does: local matches first, then the provider with a net offset
            int localCount = localUsers.size();
            List<BackendUser> page = new ArrayList<>();
            if (first < localCount) {
                page.addAll(localUsers.subList(first, Math.min(localCount, first + pageSize)));
            }
            int remaining = pageSize - page.size();
            int providerFirst = Math.max(0, first - localCount);
            if (remaining > 0) {
                page.addAll(ResultPager.collect(new Backend(), local, providerFirst, remaining, false, 100));
            }
            seen.addAll(page);
        }
        assertEquals(ALL.size(), seen.size(), "no duplicates, nobody missing");
        assertEquals(ids(ALL), ids(seen));
    }

    @Test
    void zeroMaxMakesNoCall() {
        Backend b = new Backend();
        assertTrue(ResultPager.collect(b, u -> false, 0, 0, true, 100).isEmpty());
        assertTrue(b.calls.isEmpty());
    }
}
