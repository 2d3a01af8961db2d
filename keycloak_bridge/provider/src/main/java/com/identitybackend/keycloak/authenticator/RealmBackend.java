package com.identitybackend.keycloak.authenticator;

import com.identitybackend.keycloak.client.BackendClient;
import com.identitybackend.keycloak.client.BackendException;
import com.identitybackend.keycloak.client.BackendHttp;
import com.identitybackend.keycloak.client.VerificationClient;
import com.identitybackend.keycloak.storage.BackendConfig;
import com.identitybackend.keycloak.storage.HttpClients;
import org.keycloak.models.RealmModel;

/**
 * The backend as the realm's {@code identity-backend} user storage component knows it: authenticators
 * and the magic-link resource use its URL, token and timeouts, so a realm configures the backend once.
 */
final class RealmBackend {

    private RealmBackend() {
    }

    static BackendClient users(RealmModel realm) {
        return new BackendClient(http(realm));
    }

    static VerificationClient verifications(RealmModel realm) {
        return new VerificationClient(http(realm));
    }

    private static BackendHttp http(RealmModel realm) {
        return HttpClients.forComponent(BackendConfig.componentOf(realm).orElseThrow(() -> new BackendException(0,
                "not_configured", "realm " + realm.getName() + " has no identity-backend user storage; add it under User federation")));
    }
}
