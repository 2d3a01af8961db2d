package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendClient;
import com.identitybackend.keycloak.client.BackendException;
import com.identitybackend.keycloak.client.BackendUser;
import org.keycloak.models.ModelDuplicateException;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;

import static com.identitybackend.keycloak.storage.SessionUsers.lower;

/**
 * {@code UserRegistrationProvider}: a user Keycloak creates gets a client-chosen UUID and its minimal
 * row at once, and reaches the backend at commit, with every field set in the meantime, through the
 * {@link WriteBuffer}. A deletion is sent immediately.
 */
final class UserRegistration {

    private final BackendClient client;
    private final SessionUsers users;
    private final LocalRows rows;
    private final WriteBuffer writes;

    UserRegistration(BackendClient client, SessionUsers users, LocalRows rows, WriteBuffer writes) {
        this.client = client;
        this.users = users;
        this.rows = rows;
        this.writes = writes;
    }

    UserModel addUser(RealmModel realm, String username) {
        String name = lower(username);
        if (users.knowsUsername(name) || client.findByUsername(username).isPresent()) {
            throw new ModelDuplicateException("User exists with same username");
        }
        String id = BackendClient.newUserId();
        if (!rows.freeUsername(realm, name, id)) {
            throw new ModelDuplicateException("User exists with same username");
        }
        UserModel row = rows.create(realm, id, name);
        UserState state = new UserState(BackendUser.blank(id, username));
        state.pendingCreate = true;
        users.addCreated(state);
        writes.changed(state);
        return rows.adapter(realm, row, state);
    }

    boolean removeUser(UserModel user) {
        if (users.isPendingCreate(user.getId())) {
            users.forgetCreated(user.getId());
            return true;
        }
        users.forgetDeleted(user.getId());
        try {
            client.deleteUser(user.getId());
        } catch (BackendException e) {
            throw ModelExceptions.from(e);
        }
        return true;
    }
}
