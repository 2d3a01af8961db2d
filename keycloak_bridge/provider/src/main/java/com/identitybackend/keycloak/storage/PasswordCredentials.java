package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendClient;
import com.identitybackend.keycloak.client.BackendException;
import com.identitybackend.keycloak.client.PasswordCheck;
import org.jboss.logging.Logger;
import org.keycloak.credential.CredentialInput;
import org.keycloak.models.UserModel;
import org.keycloak.models.credential.PasswordCredentialModel;

/**
 * {@code CredentialInputValidator} and {@code CredentialInputUpdater} for passwords, which only the
 * backend verifies and stores; Keycloak keeps no credential. A 429 from the backend counts as a
 * failed attempt. A new user's password travels in its create body; a changed password is sent at
 * once, so that a refusal by the backend's password policy reaches the admin as a 400.
 */
final class PasswordCredentials {

    private static final Logger LOG = Logger.getLogger(PasswordCredentials.class);

    private final BackendClient client;
    private final SessionUsers users;

    PasswordCredentials(BackendClient client, SessionUsers users) {
        this.client = client;
        this.users = users;
    }

    static boolean supports(String credentialType) {
        return PasswordCredentialModel.TYPE.equals(credentialType);
    }

    boolean isValid(UserModel user, CredentialInput input) {
        if (!supports(input.getType()) || input.getChallengeResponse() == null || users.isPendingCreate(user.getId())) {
            return false;
        }
        try {
            PasswordCheck r = client.verifyPassword(user.getId(), input.getChallengeResponse());
            if (r == PasswordCheck.THROTTLED) {
                LOG.infof("password check for user %s throttled by the backend", user.getId());
            }
            return r == PasswordCheck.VALID;
        } catch (BackendException e) {
            LOG.warnf("password check for user %s failed: %s", user.getId(), e);
            return false;
        }
    }

    boolean update(UserModel user, CredentialInput input) {
        if (!supports(input.getType())) {
            return false;
        }
        String password = input.getChallengeResponse();
        if (users.isPendingCreate(user.getId())) {
            users.seen(user.getId()).pendingPassword = password;
            return true;
        }
        try {
            client.setPassword(user.getId(), password);
        } catch (BackendException e) {
            throw ModelExceptions.from(e);
        }
        return true;
    }
}
