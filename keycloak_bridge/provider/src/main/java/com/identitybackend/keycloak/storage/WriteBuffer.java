package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendClient;
import com.identitybackend.keycloak.client.BackendException;
import com.identitybackend.keycloak.client.BackendGroup;
import com.identitybackend.keycloak.client.BackendUser;
import com.identitybackend.keycloak.client.UserField;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.ModelException;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Writes collected over one Keycloak transaction and sent once: setters only record changes in the
 * user's {@link UserState}; the first change enlists {@link BackendFlushTransaction}, which at commit
 * sends one POST (a user created in this transaction) or one PATCH (only the changed fields) per
 * user, then its role and group membership calls. A backend refusal aborts the Keycloak transaction.
 */
final class WriteBuffer {

    private final KeycloakSession session;
    private final BackendClient client;
    private final SessionUsers users;
    private boolean flushEnlisted;

    WriteBuffer(KeycloakSession session, BackendClient client, SessionUsers users) {
        this.session = session;
        this.client = client;
        this.users = users;
    }

    /** Called whenever a user changes; enlists the single end-of-transaction flush. */
    void changed(UserState state) {
        users.index(state);
        if (!flushEnlisted) {
            flushEnlisted = true;
            session.getTransactionManager().enlistPrepare(new BackendFlushTransaction(this));
        }
    }

    /** Sends every pending change: one POST or PATCH per user, then role and group membership calls. */
    void flush() {
        try {
            for (UserState s : users.all()) {
                if (s.isDirty()) {
                    send(s);
                }
            }
        } catch (BackendException e) {
            throw ModelExceptions.from(e);
        } finally {
            flushEnlisted = false;
        }
    }

    private void send(UserState s) {
        BackendUser v = s.view();
        BackendUser saved;
        if (s.pendingCreate) {
            saved = client.createUser(createBody(v, s.pendingPassword));
        } else if (!s.patch.isEmpty()) {
            saved = client.patchUser(s.id(), s.patch.toBody());
        } else {
            saved = s.base;
        }
        for (String role : s.rolesToRemove) {
            client.removeRole(s.id(), role);
        }
        for (String role : s.rolesToAdd) {
            client.addRole(s.id(), role);
        }
        for (String path : s.groupsToRemove) {
            Optional<BackendGroup> g = users.groupByPath(path);
            if (g.isPresent()) {
                client.removeGroup(s.id(), g.get().id());
            }
        }
        for (String path : s.groupsToAdd) {
            BackendGroup g = users.groupByPath(path).orElseThrow(() ->
                    new ModelException("Group " + path + " does not exist in the identity backend"));
            client.addGroup(s.id(), g.id());
        }
        s.clearChanges();
        s.base = saved.withMemberships(v.getRoles(), v.getGroups());
    }

    /** Rollback: nothing of this transaction reaches the backend. */
    void discardChanges() {
        users.discardChanges();
        flushEnlisted = false;
    }

    /** The {@code POST /v1/users} body of a user Keycloak created: its id, every field set, the password. */
    static Map<String, Object> createBody(BackendUser v, String password) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", v.getId());
        for (UserField f : UserField.values()) {
            if (v.get(f) != null) {
                body.put(f.backendName(), v.get(f));
            }
        }
        if (!v.getAttributes().isEmpty()) {
            body.put(UserField.ATTRIBUTES, v.getAttributes());
        }
        if (password != null) {
            body.put("password", password);
        }
        return body;
    }
}
