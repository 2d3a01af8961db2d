package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendClient;
import com.identitybackend.keycloak.client.BackendGroup;
import com.identitybackend.keycloak.client.BackendHttp;
import com.identitybackend.keycloak.client.BackendUser;
import com.identitybackend.keycloak.client.SearchParams;
import com.identitybackend.keycloak.client.UserField;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * The backend users one Keycloak session (request) has seen, by id and by username and e-mail, the
 * ids the backend answered 404 for, and group ids by path: the same user is fetched at most once
 * per request. Each user is one shared {@link UserState}, so changes made through any adapter of it
 * are seen by all.
 */
final class SessionUsers {

    private final BackendClient client;
    private final Map<String, UserState> byId = new HashMap<>();
    private final Set<String> missingIds = new HashSet<>();
    private final Map<String, String> idByUsername = new HashMap<>();
    private final Map<String, String> idByEmail = new HashMap<>();
    private final Map<String, Optional<BackendGroup>> groupsByPath = new HashMap<>();

    SessionUsers(BackendClient client) {
        this.client = client;
    }

    /** The backend user with this id, fetched at most once per session; null when there is none. */
    UserState byId(String id) {
        UserState s = byId.get(id);
        if (s != null) {
            return s;
        }
        if (missingIds.contains(id) || !BackendHttp.isUuid(id)) {
            return null;
        }
        Optional<BackendUser> u = client.getUser(id);
        if (u.isEmpty()) {
            missingIds.add(id);
            return null;
        }
        return remember(u.get());
    }

    /**
     * Fetches the users of these ids that this session has not seen, {@link BackendClient#MAX_IDS}
     * per call; the ids the backend does not have are remembered as missing. Later {@link #byId}
     * calls for any of them make no call.
     */
    void preload(Collection<String> ids) {
        List<String> unknown = ids.stream()
                .filter(id -> BackendHttp.isUuid(id) && !byId.containsKey(id) && !missingIds.contains(id))
                .distinct().toList();
        for (int from = 0; from < unknown.size(); from += BackendClient.MAX_IDS) {
            List<String> chunk = unknown.subList(from, Math.min(unknown.size(), from + BackendClient.MAX_IDS));
            client.getUsers(chunk).forEach(this::remember);
            chunk.stream().filter(id -> !byId.containsKey(id)).forEach(missingIds::add);
        }
    }

    UserState byUsername(String username) {
        return byUnique(idByUsername, username, client::findByUsername);
    }

    UserState byEmail(String email) {
        return byUnique(idByEmail, email, client::findByEmail);
    }

    private UserState byUnique(Map<String, String> index, String value, Function<String, Optional<BackendUser>> fetch) {
        if (value == null || value.isEmpty()) {
            return null;
        }
        String cachedId = index.get(lower(value));
        UserState s = cachedId == null ? null : byId.get(cachedId);
        return s != null ? s : fetch.apply(value).map(this::remember).orElse(null);
    }

    /** Is this username held by a user of this session (created or fetched)? */
    boolean knowsUsername(String username) {
        return idByUsername.containsKey(lower(username));
    }

    /** The user already seen in this session, without asking the backend; null when none. */
    UserState seen(String id) {
        return byId.get(id);
    }

    boolean isPendingCreate(String id) {
        UserState s = byId.get(id);
        return s != null && s.pendingCreate;
    }

    /** Records a backend answer (keeping this transaction's pending changes of the user). */
    UserState remember(BackendUser u) {
        UserState s = byId.get(u.getId());
        if (s == null) {
            s = new UserState(u);
            byId.put(u.getId(), s);
        } else if (!s.pendingCreate) {
            s.base = u;
        }
        missingIds.remove(u.getId());
        index(s);
        return s;
    }

    /** Adds a user Keycloak is creating in this transaction. */
    void addCreated(UserState state) {
        byId.put(state.id(), state);
        index(state);
    }

    /** Keeps the username and e-mail indexes in step with the user as Keycloak now sees it. */
    void index(UserState state) {
        BackendUser v = state.view();
        if (v.getUsername() != null) {
            idByUsername.put(lower(v.getUsername()), v.getId());
        }
        if (v.getEmail() != null) {
            idByEmail.put(lower(v.getEmail()), v.getId());
        }
    }

    /** Forgets a user deleted in this session (a later lookup answers "none" without a call). */
    void forgetDeleted(String id) {
        byId.remove(id);
        missingIds.add(id);
    }

    /** Forgets a user created in this transaction and never sent to the backend. */
    void forgetCreated(String id) {
        byId.remove(id);
    }

    List<UserState> all() {
        return new ArrayList<>(byId.values());
    }

    /** Drops every change of the transaction (rollback): created users vanish, the rest revert. */
    void discardChanges() {
        byId.values().removeIf(s -> s.pendingCreate);
        byId.values().forEach(UserState::clearChanges);
    }

    /**
     * The user this session already knows for an exact username or e-mail lookup, if any:
     * usernames and e-mails are unique in the backend, so nobody else can match.
     */
    UserState knownExactMatch(Map<String, String> filters) {
        if (filters.size() != 2 || !"true".equals(filters.get(SearchParams.EXACT))) {
            return null;
        }
        UserField field = filters.containsKey(UserField.USERNAME.backendName()) ? UserField.USERNAME
                : filters.containsKey(UserField.EMAIL.backendName()) ? UserField.EMAIL : null;
        if (field == null) {
            return null;
        }
        String value = lower(filters.get(field.backendName()));
        String id = (field == UserField.USERNAME ? idByUsername : idByEmail).get(value);
        UserState s = id == null ? null : byId.get(id);
        if (s == null || s.pendingCreate) {
            return null;
        }
        return value.equals(lower((String) s.view().get(field))) ? s : null;
    }

    Optional<BackendGroup> groupByPath(String path) {
        return groupsByPath.computeIfAbsent(path, client::findGroupByPath);
    }

    static String lower(String s) {
        return s == null ? null : s.toLowerCase(Locale.ROOT);
    }
}
