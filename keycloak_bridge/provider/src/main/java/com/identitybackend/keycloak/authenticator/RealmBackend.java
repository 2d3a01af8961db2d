package com.identitybackend.keycloak.authenticator;

import com.identitybackend.keycloak.client.BackendClient;
import com.identitybackend.keycloak.client.BackendException;
import com.identitybackend.keycloak.storage.BackendUserStorageProviderFactory;
import com.identitybackend.keycloak.storage.HttpClients;
import org.keycloak.component.ComponentModel;
import org.keycloak.models.RealmModel;
import org.keycloak.storage.UserStorageProvider;

/**
 * The backend as the realm's {@code identity-backend} user storage component knows it: authenticators
 * and the magic-link resource use its URL, token and timeouts, so a realm configures the backend once.
 */
final class RealmBackend {

    private RealmBackend() {
    }

    static BackendClient client(RealmModel realm) {
        ComponentModel component = realm.getComponentsStream(realm.getId(), UserStorageProvider.class.getName())
                .filter(c -> BackendUserStorageProviderFactory.PROVIDER_ID.equals(c.getProviderId()))
                .findFirst()
                .orElseThrow(() -> new BackendException(0, "not_configured", "realm " + realm.getName()
                        + " has no identity-backend user storage; add it under User federation"));
        return HttpClients.forComponent(component);
    }
}
