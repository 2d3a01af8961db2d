package com.identitybackend.keycloak.client;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * Pages through backend search results for one Keycloak {@code (first, max)} request, leaving out
 * users Keycloak's own database already returned for the same query.
 *
 * <p>Keycloak lists its local matches first and then asks the provider with an offset that is net of
 * them. When no local row can match ({@code passThrough}), that offset is the backend's offset. When
 * some can, the offset counts only backend users that are not local matches, so the pager walks the
 * backend results from the start, skipping local matches, until it has skipped {@code first} others.
 */
public final class ResultPager {

    /** One backend page: {@code (offset, max) -> page}. */
    @FunctionalInterface
    public interface PageSource {
        Page<BackendUser> fetch(int offset, int max);
    }

    private ResultPager() {
    }

    public static List<BackendUser> collect(PageSource source, Predicate<BackendUser> returnedLocally,
                                            int first, int max, boolean passThrough, int batch) {
        List<BackendUser> out = new ArrayList<>();
        if (max <= 0) {
            return out;
        }
        int offset = passThrough ? Math.max(0, first) : 0;
        int skip = passThrough ? 0 : Math.max(0, first);
        while (out.size() < max) {
            int want = passThrough ? max - out.size() : Math.max(batch, max - out.size());
            Page<BackendUser> page = source.fetch(offset, want);
            for (BackendUser u : page.results()) {
                if (out.size() >= max) {
                    break;
                }
                if (returnedLocally.test(u)) {
                    continue;
                }
                if (skip > 0) {
                    skip--;
                    continue;
                }
                out.add(u);
            }
            if (page.results().isEmpty() || !page.hasNext()) {
                break;
            }
            offset += page.results().size();
        }
        return out;
    }
}
