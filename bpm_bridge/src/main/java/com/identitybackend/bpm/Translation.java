package com.identitybackend.bpm;

import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;
import org.cibseven.bpm.engine.impl.Direction;
import org.cibseven.bpm.engine.impl.GroupQueryProperty;
import org.cibseven.bpm.engine.impl.QueryOrderingProperty;
import org.cibseven.bpm.engine.impl.UserQueryProperty;
import org.cibseven.bpm.engine.impl.identity.IdentityProviderException;
import org.cibseven.bpm.engine.query.QueryProperty;

/**
 * Engine queries as the backend's query parameters: {@code /v1/users:search} and
 * {@code /v1/groups}. Empty when the query cannot match anything (another tenant, an id that is
 * not a UUID), so that the backend is not asked at all.
 */
final class Translation {

    /** Keys per request: a hundred UUIDs would pass gunicorn's default 4 KB request line. */
    static final int MAX_KEYS = 50;
    /** The only group type: the backend's groups have none, and the engine's default is this. */
    static final String GROUP_TYPE = "WORKFLOW";

    private Translation() {
    }

    static Optional<QueryString> users(BackendUserQuery query, BridgeConfiguration configuration) {
        if (query.getPotentialStarter() != null) {
            throw new IdentityProviderException("The identity backend does not answer potentialStarter user queries");
        }
        if (!inTenant(query.getTenantId(), configuration)) {
            return Optional.empty();
        }
        QueryString params = new QueryString();
        boolean byUsername = configuration.usernameIsUserId();
        for (String id : keys(query.getId(), query.getIds())) {
            if (!byUsername && !isUuid(id)) {
                return Optional.empty();
            }
            params.add(byUsername ? "username_in" : "id", id);
        }
        field(params, "first_name", query.getFirstName(), query.getFirstNameLike());
        field(params, "last_name", query.getLastName(), query.getLastNameLike());
        field(params, "email", query.getEmail(), query.getEmailLike());
        params.add("like", "true");  // an exact value is a pattern without %
        if (query.getGroupId() != null) {
            if (!configuration.pathIsGroupId() && !isUuid(query.getGroupId())) {
                return Optional.empty();
            }
            params.add(configuration.pathIsGroupId() ? "group" : "group_id", query.getGroupId());
        }
        return Optional.of(params);
    }

    /** {@code order=} of a user query's first ordering, if it has one. */
    static String userOrder(List<QueryOrderingProperty> orderings, BridgeConfiguration configuration) {
        return order(orderings, property -> {
            if (UserQueryProperty.USER_ID.equals(property)) return configuration.usernameIsUserId() ? "username" : "id";
            if (UserQueryProperty.FIRST_NAME.equals(property)) return "first_name";
            if (UserQueryProperty.LAST_NAME.equals(property)) return "last_name";
            if (UserQueryProperty.EMAIL.equals(property)) return "email";
            return null;
        });
    }

    /**
     * Group query parameters; {@code backendUserId} finds the backend's id of an engine user id
     * (null when there is no such user) for {@code groupMember}.
     */
    static Optional<QueryString> groups(BackendGroupQuery query, BridgeConfiguration configuration,
                                        Function<String, String> backendUserId) {
        if (query.getPotentialStarter() != null) {
            throw new IdentityProviderException("The identity backend does not answer potentialStarter group queries");
        }
        if (!inTenant(query.getTenantId(), configuration)
                || (query.getType() != null && !GROUP_TYPE.equals(query.getType()))) {
            return Optional.empty();
        }
        QueryString params = new QueryString();
        boolean byPath = configuration.pathIsGroupId();
        for (String id : keys(query.getId(), query.getIds())) {
            if (!byPath && !isUuid(id)) {
                return Optional.empty();
            }
            params.add(byPath ? "path" : "id", id);
        }
        if (query.getName() != null) {
            params.add("name", query.getName());
        } else if (query.getNameLike() != null) {
            params.add("like", "true").add("name", query.getNameLike());
        }
        if (query.getUserId() != null) {
            String member = backendUserId.apply(query.getUserId());
            if (member == null) {
                return Optional.empty();
            }
            params.add("member", member);
        }
        return Optional.of(params);
    }

    static String groupOrder(List<QueryOrderingProperty> orderings, BridgeConfiguration configuration) {
        return order(orderings, property -> {
            if (GroupQueryProperty.GROUP_ID.equals(property)) return configuration.pathIsGroupId() ? "path" : "id";
            if (GroupQueryProperty.NAME.equals(property)) return "name";
            return null;  // every group has the one type: any order is the type's order
        });
    }

    static boolean inTenant(String tenantId, BridgeConfiguration configuration) {
        return tenantId == null || tenantId.equals(configuration.getTenantId());
    }

    static boolean isUuid(String value) {
        try {
            return value != null && value.length() == 36 && UUID.fromString(value).toString().equalsIgnoreCase(value);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static List<String> keys(String id, String[] ids) {
        List<String> keys = new java.util.ArrayList<>();
        if (id != null) keys.add(id);
        if (ids != null) keys.addAll(List.of(ids));
        if (id != null && ids != null) {
            // both: the one id, if it is among the others
            return List.of(ids).contains(id) ? List.of(id) : List.of("00000000-0000-0000-0000-000000000000");
        }
        if (keys.size() > MAX_KEYS) {
            throw new IdentityProviderException("The identity backend takes at most " + MAX_KEYS
                + " ids in one query; this one has " + keys.size());
        }
        return keys;
    }

    /** A value filter: exact, or a {@code Like} pattern (exact wins when both are given). */
    private static void field(QueryString params, String name, String exact, String like) {
        params.add(name, exact != null ? exact : like);
    }

    private static String order(List<QueryOrderingProperty> orderings, Function<QueryProperty, String> column) {
        if (orderings == null || orderings.isEmpty()) {
            return null;
        }
        QueryOrderingProperty first = orderings.get(0);
        String name = column.apply(first.getQueryProperty());
        if (name == null) {
            return null;
        }
        return (Direction.DESCENDING.equals(first.getDirection()) ? "-" : "") + name;
    }
}
