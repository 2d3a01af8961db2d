package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendUser;
import com.identitybackend.keycloak.client.UserPatch;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One backend user as known inside one Keycloak session: the last backend answer plus the changes
 * made during the current transaction (sent once by the {@link WriteBuffer}). Every
 * adapter of the same user in the session shares this object.
 */
final class UserState {

    BackendUser base;
    final UserPatch patch = new UserPatch();
    /** Created by Keycloak in this transaction; POSTed (with every field set so far) at commit. */
    boolean pendingCreate;
    /** Password given before the pending create was sent; travels in the POST body. */
    String pendingPassword;
    final Set<String> rolesToAdd = new LinkedHashSet<>();
    final Set<String> rolesToRemove = new LinkedHashSet<>();
    final Set<String> groupsToAdd = new LinkedHashSet<>();
    final Set<String> groupsToRemove = new LinkedHashSet<>();

    UserState(BackendUser base) {
        this.base = base;
    }

    String id() {
        return base.getId();
    }

    boolean isDirty() {
        return pendingCreate || !patch.isEmpty() || !rolesToAdd.isEmpty() || !rolesToRemove.isEmpty()
                || !groupsToAdd.isEmpty() || !groupsToRemove.isEmpty();
    }

    /** The user as Keycloak should see it now: backend state plus this transaction's changes. */
    BackendUser view() {
        BackendUser v = patch.applyTo(base);
        if (rolesToAdd.isEmpty() && rolesToRemove.isEmpty() && groupsToAdd.isEmpty() && groupsToRemove.isEmpty()) {
            return v;
        }
        List<String> roles = new ArrayList<>(new LinkedHashSet<>(v.getRoles()));
        roles.removeAll(rolesToRemove);
        rolesToAdd.stream().filter(r -> !roles.contains(r)).forEach(roles::add);
        List<String> groups = new ArrayList<>(new LinkedHashSet<>(v.getGroups()));
        groups.removeAll(groupsToRemove);
        groupsToAdd.stream().filter(g -> !groups.contains(g)).forEach(groups::add);
        return v.withMemberships(roles, groups);
    }

    void clearChanges() {
        patch.clear();
        pendingCreate = false;
        pendingPassword = null;
        rolesToAdd.clear();
        rolesToRemove.clear();
        groupsToAdd.clear();
        groupsToRemove.clear();
    }
}
