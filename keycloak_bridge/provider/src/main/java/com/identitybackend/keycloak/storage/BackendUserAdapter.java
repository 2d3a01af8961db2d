package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.AttributeMapping;
import com.identitybackend.keycloak.client.BackendUser;
import com.identitybackend.keycloak.client.UserField;
import org.keycloak.models.ClientModel;
import org.keycloak.models.GroupModel;
import org.keycloak.models.RealmModel;
import org.keycloak.models.RoleModel;
import org.keycloak.models.UserModel;
import org.keycloak.models.utils.KeycloakModelUtils;
import org.keycloak.models.utils.RoleUtils;
import org.keycloak.models.utils.UserModelDelegate;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * Keycloak's view of a backend user. Wraps the minimal local row (which supplies the id, the
 * federation link, required actions and client-role mappings) and proxies every profile field,
 * realm roles and group memberships to the backend. Setters only record changes in the shared
 * {@link UserState}; the {@link WriteBuffer} sends them once, at the end of the Keycloak transaction.
 *
 * <p>Realm roles: each backend role name is looked up among the realm's roles; a name without a
 * realm role is skipped (roles are declared by the realm configuration, never created on read).
 * The realm's default role ({@code default-roles-<realm>}) is always granted.
 */
public class BackendUserAdapter extends UserModelDelegate {

    private final LocalRows rows;
    private final WriteBuffer writes;
    private final RealmModel realm;
    private final UserState state;

    BackendUserAdapter(LocalRows rows, WriteBuffer writes, RealmModel realm, UserModel local, UserState state) {
        super(local);
        this.rows = rows;
        this.writes = writes;
        this.realm = realm;
        this.state = state;
    }

    private BackendUser view() {
        return state.view();
    }

    /** The backend representation as Keycloak currently sees it (for tests and mappers). */
    public BackendUser getBackendUser() {
        return view();
    }

    /** Every setter: records the change, if any; a new username also renames the local row. */
    private void set(String kcAttribute, List<String> values) {
        if (AttributeMapping.setAttribute(state.patch, view(), kcAttribute, values)) {
            writes.changed(state);
            if (UserField.USERNAME.keycloakName().equals(kcAttribute)) {
                rows.syncUsername(realm, delegate, SessionUsers.lower(getUsername()));
            }
        }
    }

    private void set(UserField field, Object value) {
        set(field.keycloakName(), value == null ? List.of() : List.of(value.toString()));
    }

    // ------------------------------------------------------------------ identity

    @Override
    public String getUsername() {
        return view().getUsername();
    }

    @Override
    public void setUsername(String username) {
        set(UserField.USERNAME, username);
    }

    @Override
    public Long getCreatedTimestamp() {
        Long ts = view().getCreatedTimestamp();
        return ts != null ? ts : delegate.getCreatedTimestamp();
    }

    @Override
    public void setCreatedTimestamp(Long timestamp) {
        // the backend owns created_at
    }

    @Override
    public boolean isEnabled() {
        return view().isActive();
    }

    @Override
    public void setEnabled(boolean enabled) {
        set(UserField.ENABLED, enabled);
    }

    // ------------------------------------------------------------------ profile fields

    @Override
    public String getEmail() {
        return view().getEmail();
    }

    @Override
    public void setEmail(String email) {
        set(UserField.EMAIL, email);
    }

    @Override
    public boolean isEmailVerified() {
        return view().isEmailVerified();
    }

    @Override
    public void setEmailVerified(boolean verified) {
        set(UserField.EMAIL_VERIFIED, verified);
    }

    @Override
    public String getFirstName() {
        return view().getFirstName();
    }

    @Override
    public void setFirstName(String firstName) {
        set(UserField.FIRST_NAME, firstName);
    }

    @Override
    public String getLastName() {
        return view().getLastName();
    }

    @Override
    public void setLastName(String lastName) {
        set(UserField.LAST_NAME, lastName);
    }

    // ------------------------------------------------------------------ attributes

    @Override
    public void setSingleAttribute(String name, String value) {
        set(name, value == null ? List.of() : List.of(value));
    }

    @Override
    public void setAttribute(String name, List<String> values) {
        set(name, values);
    }

    @Override
    public void removeAttribute(String name) {
        set(name, List.of());
    }

    @Override
    public String getFirstAttribute(String name) {
        List<String> values = AttributeMapping.getAttribute(view(), name);
        return values.isEmpty() ? null : values.get(0);
    }

    @Override
    public Stream<String> getAttributeStream(String name) {
        return AttributeMapping.getAttribute(view(), name).stream();
    }

    @Override
    public Map<String, List<String>> getAttributes() {
        return AttributeMapping.toKeycloakAttributes(view());
    }

    // ------------------------------------------------------------------ realm roles (backend) + client roles (local)

    @Override
    public Stream<RoleModel> getRealmRoleMappingsStream() {
        Stream<RoleModel> backendRoles = view().getRoles().stream().map(realm::getRole).filter(Objects::nonNull);
        RoleModel defaultRole = realm.getDefaultRole();
        return (defaultRole == null ? backendRoles : Stream.concat(Stream.of(defaultRole), backendRoles)).distinct();
    }

    @Override
    public Stream<RoleModel> getClientRoleMappingsStream(ClientModel app) {
        return delegate.getClientRoleMappingsStream(app);
    }

    @Override
    public Stream<RoleModel> getRoleMappingsStream() {
        return Stream.concat(getRealmRoleMappingsStream(),
                delegate.getRoleMappingsStream().filter(RoleModel::isClientRole)).distinct();
    }

    @Override
    public boolean hasRole(RoleModel role) {
        return RoleUtils.hasRole(getRoleMappingsStream(), role)
                || RoleUtils.hasRoleFromGroup(getGroupsStream(), role, true);
    }

    @Override
    public void grantRole(RoleModel role) {
        if (role.isClientRole()) {
            delegate.grantRole(role);
            return;
        }
        if (isDefaultRole(role) || view().getRoles().contains(role.getName())) {
            return;
        }
        state.rolesToRemove.remove(role.getName());
        state.rolesToAdd.add(role.getName());
        writes.changed(state);
    }

    @Override
    public void deleteRoleMapping(RoleModel role) {
        if (role.isClientRole()) {
            delegate.deleteRoleMapping(role);
            return;
        }
        if (isDefaultRole(role) || !view().getRoles().contains(role.getName())) {
            return;
        }
        state.rolesToAdd.remove(role.getName());
        state.rolesToRemove.add(role.getName());
        writes.changed(state);
    }

    private boolean isDefaultRole(RoleModel role) {
        RoleModel d = realm.getDefaultRole();
        return d != null && d.getId().equals(role.getId());
    }

    // ------------------------------------------------------------------ groups (backend, by path)

    @Override
    public Stream<GroupModel> getGroupsStream() {
        return view().getGroups().stream()
                .map(path -> KeycloakModelUtils.findGroupByPath(rows.session(), realm, path))
                .filter(Objects::nonNull);
    }

    @Override
    public long getGroupsCount() {
        return getGroupsStream().count();
    }

    @Override
    public void joinGroup(GroupModel group) {
        String path = KeycloakModelUtils.buildGroupPath(group);
        if (view().getGroups().contains(path)) {
            return;
        }
        state.groupsToRemove.remove(path);
        state.groupsToAdd.add(path);
        writes.changed(state);
    }

    @Override
    public void leaveGroup(GroupModel group) {
        String path = KeycloakModelUtils.buildGroupPath(group);
        if (!view().getGroups().contains(path)) {
            return;
        }
        state.groupsToAdd.remove(path);
        state.groupsToRemove.add(path);
        writes.changed(state);
    }

    @Override
    public boolean isMemberOf(GroupModel group) {
        return RoleUtils.isMember(getGroupsStream(), group);
    }

    // ------------------------------------------------------------------ identity of the model

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof UserModel)) {
            return false;
        }
        return getId().equals(((UserModel) o).getId());
    }

    @Override
    public int hashCode() {
        return getId().hashCode();
    }
}
