package com.identitybackend.keycloak.storage;

import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.storage.StorageId;

import java.util.List;

/**
 * {@code UserLookupProvider} and {@code ImportedUserValidation}: one backend user by id, username or
 * e-mail, imported as its minimal local row; and the check Keycloak makes of a row it found itself.
 */
final class UserLookups {

    private final SessionUsers users;
    private final LocalRows rows;

    UserLookups(SessionUsers users, LocalRows rows) {
        this.users = users;
        this.rows = rows;
    }

    /** A local row Keycloak found: the backend user it stands for, or null when the backend has none. */
    UserModel validate(RealmModel realm, UserModel local) {
        if (local instanceof BackendUserAdapter adapter) {
            return adapter; // already validated in this session (Keycloak validates search results twice)
        }
        UserState state = users.byId(local.getId());
        return state == null ? null : rows.validated(realm, local, state); // null: Keycloak removes the row
    }

    UserModel getUserById(RealmModel realm, String id) {
        return imported(realm, users.byId(StorageId.externalId(id)));
    }

    UserModel getUserByUsername(RealmModel realm, String username) {
        return imported(realm, users.byUsername(username));
    }

    UserModel getUserByEmail(RealmModel realm, String email) {
        return imported(realm, users.byEmail(email));
    }

    private UserModel imported(RealmModel realm, UserState state) {
        if (state == null) {
            return null;
        }
        rows.preload(realm, List.of(state.view()));
        return rows.imported(realm, state);
    }
}
