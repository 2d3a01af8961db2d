package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendUser;
import com.identitybackend.keycloak.client.LocalMatcher;
import com.identitybackend.keycloak.client.LocalRow;
import com.identitybackend.keycloak.client.SearchParams;
import com.identitybackend.keycloak.client.UserField;
import org.jboss.logging.Logger;
import org.keycloak.component.ComponentModel;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.models.UserProvider;
import org.keycloak.storage.UserStoragePrivateUtil;

import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static com.identitybackend.keycloak.storage.SessionUsers.lower;

/**
 * The minimal rows Keycloak keeps in its own database for backend users (id = backend UUID,
 * username, federation link): finding or creating them, adopting rows of Keycloak users migrated
 * to the backend, keeping their usernames in step, and wrapping them as {@link BackendUserAdapter}s.
 * It also remembers each row as it was before this request changed it, which is what Keycloak's
 * own search (run before the provider's) saw. A page of backend users is looked up in one query
 * ({@link #preload}); a row that exists and is in step is only read, never written.
 */
final class LocalRows {

    private static final Logger LOG = Logger.getLogger(LocalRows.class);

    private final KeycloakSession session;
    private final ComponentModel model;
    private final SessionUsers users;
    private final WriteBuffer writes;
    private final PageRows page;
    private final Map<String, LocalRow> before = new HashMap<>();

    LocalRows(KeycloakSession session, ComponentModel model, SessionUsers users, WriteBuffer writes) {
        this.session = session;
        this.model = model;
        this.users = users;
        this.writes = writes;
        this.page = new PageRows(session);
    }

    KeycloakSession session() {
        return session;
    }

    UserProvider local() {
        return UserStoragePrivateUtil.userLocalStorage(session);
    }

    /**
     * Looks up the rows of these backend users, and the holders of their usernames, in one query;
     * the backend users behind this provider's holders (renamed or deleted since Keycloak saw them)
     * in one call, so that {@link #freeUsername} moves them aside without a call per row.
     */
    void preload(RealmModel realm, Collection<BackendUser> backendUsers) {
        if (backendUsers.isEmpty()) {
            return;
        }
        List<String> stale = page.load(realm, backendUsers).entrySet().stream()
                .filter(e -> model.getId().equals(e.getValue())).map(Map.Entry::getKey).toList();
        users.preload(stale);
    }

    /**
     * The Keycloak view of a backend user: finds or creates its minimal local row and wraps it.
     * Null when the id or username is taken by a local user this provider does not own.
     */
    UserModel imported(RealmModel realm, UserState state) {
        BackendUser v = state.view();
        UserModel row = page.isAbsent(v.getId()) ? null : local().getUserById(realm, v.getId());
        String username = lower(v.getUsername());
        if (row == null) {
            if (!freeUsername(realm, username, v.getId())) {
                return null;
            }
            row = create(realm, v.getId(), username);
            row.setEnabled(true);
            LOG.debugf("imported backend user %s (%s)", v.getId(), username);
        } else {
            String link = row.getFederationLink();
            if (link == null) {
                // a Keycloak user migrated to the backend with its id: adopt it
                remember(row);
                Adoption.adopt(session, realm, row, model.getId());
            } else if (!link.equals(model.getId())) {
                LOG.warnf("backend user %s exists in Keycloak linked to another storage (%s); skipped", v.getId(), link);
                return null;
            }
            syncUsername(realm, row, username);
        }
        return adapter(realm, row, state);
    }

    /** A row Keycloak validates: in step with the backend user, wrapped. */
    UserModel validated(RealmModel realm, UserModel row, UserState state) {
        syncUsername(realm, row, lower(state.view().getUsername()));
        return adapter(realm, row, state);
    }

    /** A new minimal row for a backend user (or one Keycloak is creating). */
    UserModel create(RealmModel realm, String id, String username) {
        UserModel row = local().addUser(realm, id, username, false, false);
        row.setFederationLink(model.getId());
        page.taken(id, lower(username));
        return row;
    }

    BackendUserAdapter adapter(RealmModel realm, UserModel row, UserState state) {
        return new BackendUserAdapter(this, writes, realm, row, state);
    }

    /** Keeps the local username equal to the backend's (Keycloak's local-first lookups use it). */
    void syncUsername(RealmModel realm, UserModel row, String username) {
        if (username == null || username.equals(row.getUsername()) || !freeUsername(realm, username, row.getId())) {
            return;
        }
        remember(row);
        row.setUsername(username);
        page.taken(row.getId(), username);
    }

    /**
     * Makes sure no other local row holds {@code username}: a stale row of ours is renamed to its
     * current backend username or removed when the backend no longer has it.
     */
    boolean freeUsername(RealmModel realm, String username, String ownerId) {
        if (page.isFree(username)) {
            return true;
        }
        UserModel other = local().getUserByUsername(realm, username);
        if (other == null || other.getId().equals(ownerId)) {
            return true;
        }
        if (!model.getId().equals(other.getFederationLink())) {
            LOG.warnf("username '%s' of backend user %s is used by Keycloak user %s not managed by this provider",
                    username, ownerId, other.getId());
            return false;
        }
        UserState otherState = users.byId(other.getId());
        if (otherState == null) {
            LOG.debugf("removing local row of deleted backend user %s", other.getId());
            local().removeUser(realm, other);
            return true;
        }
        String otherName = lower(otherState.view().getUsername());
        if (otherName == null || otherName.equals(username)) {
            LOG.warnf("backend users %s and %s both claim username '%s'", ownerId, other.getId(), username);
            return false;
        }
        if (local().getUserByUsername(realm, otherName) != null) {
            return false;
        }
        remember(other);
        other.setUsername(otherName);
        page.taken(other.getId(), otherName);
        return true;
    }

    /** Did Keycloak's own database search (run before this provider's) return this user? */
    boolean returnedByLocalSearch(RealmModel realm, Map<String, String> params, String id) {
        LocalRow row = before.get(id);
        if (row == null) {
            if (page.isAbsent(id)) {
                return false;
            }
            UserModel local = local().getUserById(realm, id);
            if (local == null) {
                return false;
            }
            boolean needsAttributes = params.keySet().stream()
                    .anyMatch(k -> !SearchParams.isKeycloakKey(k) && UserField.byKeycloakName(k) == null);
            row = toLocalRow(local, needsAttributes);
        }
        return LocalMatcher.matches(params, row);
    }

    private void remember(UserModel row) {
        before.computeIfAbsent(row.getId(), id -> toLocalRow(row, true));
    }

    private static LocalRow toLocalRow(UserModel row, boolean withAttributes) {
        Map<String, List<String>> attrs = Map.of();
        if (withAttributes) {
            // Keycloak's attribute map repeats its columns; the search reads those from the columns
            attrs = new LinkedHashMap<>(row.getAttributes());
            attrs.keySet().removeAll(UserField.KEYCLOAK_COLUMNS);
        }
        return new LocalRow(row.getUsername(), row.getEmail(), row.getFirstName(), row.getLastName(),
                row.isEnabled(), row.isEmailVerified(), attrs);
    }
}
