package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendClient;
import com.identitybackend.keycloak.client.BackendGroup;
import com.identitybackend.keycloak.client.BackendUser;
import com.identitybackend.keycloak.client.LocalMatcher;
import com.identitybackend.keycloak.client.Page;
import com.identitybackend.keycloak.client.ResultPager;
import com.identitybackend.keycloak.client.SearchParams;
import org.keycloak.models.GroupModel;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.models.utils.KeycloakModelUtils;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * {@code UserQueryMethodsProvider}: searches, group members and attribute lookups, answered by the
 * backend and imported as minimal rows. Keycloak lists its own matches first and appends ours
 * without removing duplicates, so a search leaves out the users its database query already
 * returned ({@link LocalRows#returnedByLocalSearch}) and pages with {@link ResultPager}. The local
 * rows of each backend page are looked up in one query ({@link LocalRows#preload}).
 */
final class UserQueries {

    /** Page size used when walking backend results that must be de-duplicated against local rows. */
    static final int SCAN_BATCH = 100;
    /** Upper bound on results for calls without a maximum (Keycloak passes null for "all"). */
    static final int UNBOUNDED_CAP = 10_000;

    private final BackendClient client;
    private final SessionUsers users;
    private final LocalRows rows;

    UserQueries(BackendClient client, SessionUsers users, LocalRows rows) {
        this.client = client;
        this.users = users;
        this.rows = rows;
    }

    Stream<UserModel> search(RealmModel realm, Map<String, String> params, Integer firstResult, Integer maxResults) {
        Map<String, String> filters = SearchParams.toBackendFilters(params);
        int first = first(firstResult);
        int max = max(maxResults);
        if (filters == null || max == 0) {
            return Stream.empty();
        }
        UserState known = first == 0 ? users.knownExactMatch(filters) : null;
        if (known != null) {
            // validating the local row's match fetched this user in this request: no second call
            return rows.returnedByLocalSearch(realm, params, known.id()) ? Stream.empty()
                    : Stream.ofNullable(rows.imported(realm, known));
        }
        List<BackendUser> page = ResultPager.collect(
                withLocalRows(realm, (offset, want) -> client.search(filters, offset, want)),
                u -> rows.returnedByLocalSearch(realm, params, u.getId()),
                first, max, !LocalMatcher.mayMatchMinimalRows(params), SCAN_BATCH);
        List<UserModel> out = new ArrayList<>();
        page.forEach(u -> addImported(realm, u, out));
        return out.stream();
    }

    Stream<UserModel> groupMembers(RealmModel realm, GroupModel group, Integer firstResult, Integer maxResults) {
        Optional<BackendGroup> g = users.groupByPath(KeycloakModelUtils.buildGroupPath(group));
        if (g.isEmpty()) {
            return Stream.empty();
        }
        return importPages(realm, withLocalRows(realm, (offset, want) -> client.groupMembers(g.get().id(), offset, want)),
                first(firstResult), max(maxResults), 0);
    }

    Stream<UserModel> byAttribute(RealmModel realm, String name, String value) {
        if (name == null || value == null) {
            return Stream.empty();
        }
        Map<String, String> filters = SearchParams.forAttribute(name, value);
        return importPages(realm, withLocalRows(realm, (offset, want) -> client.search(filters, offset, want)), 0,
                UNBOUNDED_CAP, SCAN_BATCH);
    }

    /** Each page fetched, with its users' local rows looked up in one query before they are used. */
    private ResultPager.PageSource withLocalRows(RealmModel realm, ResultPager.PageSource source) {
        return (offset, want) -> {
            Page<BackendUser> page = source.fetch(offset, want);
            rows.preload(realm, page.results());
            return page;
        };
    }

    /**
     * Imports backend pages from {@code first} until {@code max} users are imported or the pages end;
     * each page asks for {@code batch} users, or for the number still missing when {@code batch} is 0.
     */
    private Stream<UserModel> importPages(RealmModel realm, ResultPager.PageSource source, int first, int max, int batch) {
        List<UserModel> out = new ArrayList<>();
        int offset = first;
        while (out.size() < max) {
            Page<BackendUser> page = source.fetch(offset, batch > 0 ? batch : max - out.size());
            page.results().forEach(u -> addImported(realm, u, out));
            if (page.results().isEmpty() || !page.hasNext()) {
                break;
            }
            offset += page.results().size();
        }
        return out.stream();
    }

    private void addImported(RealmModel realm, BackendUser u, List<UserModel> out) {
        UserModel m = rows.imported(realm, users.remember(u));
        if (m != null) {
            out.add(m);
        }
    }

    private static int first(Integer firstResult) {
        return firstResult == null || firstResult < 0 ? 0 : firstResult;
    }

    private static int max(Integer maxResults) {
        return maxResults == null || maxResults < 0 ? UNBOUNDED_CAP : Math.min(maxResults, UNBOUNDED_CAP);
    }
}
