package com.identitybackend.keycloak.storage;

import org.keycloak.credential.CredentialModel;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.models.cache.UserCache;
import org.keycloak.models.credential.PasswordCredentialModel;
import org.keycloak.storage.UserStorageUtil;

import java.util.List;

/**
 * Turns a Keycloak user whose id the backend holds into this provider's minimal row, in place: the
 * row keeps its id, and with it its sessions, offline tokens, consents, federated identities, client
 * roles, required actions and OTP/WebAuthn credentials. Only its local password goes: the backend
 * checks passwords from now on, and Keycloak would otherwise fall back to the old local hash when
 * the backend refuses one.
 */
public final class Adoption {

    private Adoption() {
    }

    /** Links {@code row} (a local row without a federation link) to the component; evicts it from the user cache. */
    public static void adopt(KeycloakSession session, RealmModel realm, UserModel row, String componentId) {
        // while the row is still local, its credential manager reaches Keycloak's own credential store
        List<String> passwords = row.credentialManager().getStoredCredentialsByTypeStream(PasswordCredentialModel.TYPE)
                .map(CredentialModel::getId).toList();
        passwords.forEach(row.credentialManager()::removeStoredCredentialById);
        row.setFederationLink(componentId);
        UserCache cache = UserStorageUtil.userCache(session);
        if (cache != null) {
            cache.evict(realm, row);
        }
    }
}
