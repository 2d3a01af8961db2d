package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendClient;
import com.identitybackend.keycloak.client.LocalMatcher;
import com.identitybackend.keycloak.client.SearchParams;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.models.utils.KeycloakModelUtils;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * {@code UserCountMethodsProvider}: every count is the backend's {@code GET /v1/users:count} and
 * never fetches users. Keycloak adds its own count for the same query; where that count includes
 * the minimal rows standing for backend users, it is subtracted, so the total is the backend's.
 */
final class UserCounts {

    private final BackendClient client;
    private final LocalRows rows;

    UserCounts(BackendClient client, LocalRows rows) {
        this.client = client;
        this.rows = rows;
    }

    int all(RealmModel realm) {
        int backend = client.count(Map.of(), null);
        return Math.max(0, backend - rows.local().getUsersCount(realm, false));
    }

    int matching(RealmModel realm, Map<String, String> params) {
        Map<String, String> filters = SearchParams.toBackendFilters(params);
        if (filters == null) {
            return 0;
        }
        int backend = client.count(filters, null);
        if (!LocalMatcher.mayMatchMinimalRows(params)) {
            return backend;
        }
        return Math.max(0, backend - rows.local().getUsersCount(realm, params));
    }

    int inGroups(RealmModel realm, Map<String, String> params, Set<String> groupIds) {
        if (groupIds == null || groupIds.isEmpty()) {
            return 0;
        }
        Map<String, String> filters = SearchParams.toBackendFilters(params);
        if (filters == null) {
            return 0;
        }
        // group memberships of backend users live only in the backend: Keycloak's own count is 0 for them
        List<String> paths = groupIds.stream().map(realm::getGroupById).filter(Objects::nonNull)
                .map(KeycloakModelUtils::buildGroupPath).toList();
        return client.count(filters, paths);
    }

    /** Keycloak's parameter map for a free-text count. */
    static Map<String, String> searchParams(String search) {
        Map<String, String> params = new HashMap<>();
        params.put(UserModel.SEARCH, search == null ? "" : search);
        return params;
    }
}
