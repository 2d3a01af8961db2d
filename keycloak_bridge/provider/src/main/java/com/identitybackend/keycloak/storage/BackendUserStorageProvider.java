package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendClient;
import org.keycloak.component.ComponentModel;
import org.keycloak.credential.CredentialInput;
import org.keycloak.credential.CredentialInputUpdater;
import org.keycloak.credential.CredentialInputValidator;
import org.keycloak.models.GroupModel;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.storage.UserStorageProvider;
import org.keycloak.storage.user.ImportedUserValidation;
import org.keycloak.storage.user.UserLookupProvider;
import org.keycloak.storage.user.UserQueryProvider;
import org.keycloak.storage.user.UserRegistrationProvider;

import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * User storage backed by the backend's {@code /v1} API, in import mode: Keycloak keeps, per user, a
 * minimal local row (id = backend UUID, username, federation link) so that the Keycloak user id,
 * and therefore every token's {@code sub}, is the backend UUID. See README.md for the design.
 *
 * <p>Keycloak wants one object implementing every SPI interface; this one only hands each call to
 * the class of its role. One instance, and the state its role classes share ({@link SessionUsers},
 * {@link LocalRows}, {@link WriteBuffer}), lives for one Keycloak session (request).
 */
public class BackendUserStorageProvider implements UserStorageProvider, UserLookupProvider, UserQueryProvider,
        UserRegistrationProvider, CredentialInputValidator, CredentialInputUpdater, ImportedUserValidation {

    private final UserLookups lookups;
    private final UserQueries queries;
    private final UserCounts counts;
    private final UserRegistration registration;
    private final PasswordCredentials passwords;

    public BackendUserStorageProvider(KeycloakSession session, ComponentModel model, BackendClient client) {
        SessionUsers users = new SessionUsers(client);
        WriteBuffer writes = new WriteBuffer(session, client, users);
        LocalRows rows = new LocalRows(session, model, users, writes);
        this.lookups = new UserLookups(users, rows);
        this.queries = new UserQueries(client, users, rows);
        this.counts = new UserCounts(client, rows);
        this.registration = new UserRegistration(client, users, rows, writes);
        this.passwords = new PasswordCredentials(client, users);
    }

    @Override
    public void close() {
    }

    // ------------------------------------------------------------------ lookups

    @Override
    public UserModel validate(RealmModel realm, UserModel local) {
        return lookups.validate(realm, local);
    }

    @Override
    public UserModel getUserById(RealmModel realm, String id) {
        return lookups.getUserById(realm, id);
    }

    @Override
    public UserModel getUserByUsername(RealmModel realm, String username) {
        return lookups.getUserByUsername(realm, username);
    }

    @Override
    public UserModel getUserByEmail(RealmModel realm, String email) {
        return lookups.getUserByEmail(realm, email);
    }

    // ------------------------------------------------------------------ queries

    @Override
    public Stream<UserModel> searchForUserStream(RealmModel realm, Map<String, String> params, Integer firstResult,
                                                 Integer maxResults) {
        return queries.search(realm, params, firstResult, maxResults);
    }

    @Override
    public Stream<UserModel> getGroupMembersStream(RealmModel realm, GroupModel group, Integer firstResult,
                                                   Integer maxResults) {
        return queries.groupMembers(realm, group, firstResult, maxResults);
    }

    @Override
    public Stream<UserModel> searchForUserByUserAttributeStream(RealmModel realm, String attrName, String attrValue) {
        return queries.byAttribute(realm, attrName, attrValue);
    }

    // ------------------------------------------------------------------ counts

    @Override
    public int getUsersCount(RealmModel realm, boolean includeServiceAccount) {
        return counts.all(realm);
    }

    @Override
    public int getUsersCount(RealmModel realm) {
        return counts.all(realm);
    }

    @Override
    public int getUsersCount(RealmModel realm, Map<String, String> params) {
        return counts.matching(realm, params);
    }

    @Override
    public int getUsersCount(RealmModel realm, String search) {
        return counts.matching(realm, UserCounts.searchParams(search));
    }

    @Override
    public int getUsersCount(RealmModel realm, Map<String, String> params, Set<String> groupIds) {
        return counts.inGroups(realm, params, groupIds);
    }

    @Override
    public int getUsersCount(RealmModel realm, Set<String> groupIds) {
        return counts.inGroups(realm, Map.of(), groupIds);
    }

    @Override
    public int getUsersCount(RealmModel realm, String search, Set<String> groupIds) {
        return counts.inGroups(realm, UserCounts.searchParams(search), groupIds);
    }

    // ------------------------------------------------------------------ registration

    @Override
    public UserModel addUser(RealmModel realm, String username) {
        return registration.addUser(realm, username);
    }

    @Override
    public boolean removeUser(RealmModel realm, UserModel user) {
        return registration.removeUser(user);
    }

    // ------------------------------------------------------------------ passwords

    @Override
    public boolean supportsCredentialType(String credentialType) {
        return PasswordCredentials.supports(credentialType);
    }

    @Override
    public boolean isConfiguredFor(RealmModel realm, UserModel user, String credentialType) {
        return PasswordCredentials.supports(credentialType);
    }

    @Override
    public boolean isValid(RealmModel realm, UserModel user, CredentialInput input) {
        return passwords.isValid(user, input);
    }

    @Override
    public boolean updateCredential(RealmModel realm, UserModel user, CredentialInput input) {
        return passwords.update(user, input);
    }

    @Override
    public void disableCredentialType(RealmModel realm, UserModel user, String credentialType) {
        // passwords cannot be disabled from Keycloak; the backend owns them
    }

    @Override
    public Stream<String> getDisableableCredentialTypesStream(RealmModel realm, UserModel user) {
        return Stream.empty();
    }
}
