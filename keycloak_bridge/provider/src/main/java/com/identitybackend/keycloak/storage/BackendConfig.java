package com.identitybackend.keycloak.storage;

import org.keycloak.component.ComponentModel;
import org.keycloak.models.RealmModel;
import org.keycloak.storage.UserStorageProvider;

import java.util.Optional;

/**
 * Names and defaults of the component's configuration properties, and where a realm keeps them: the
 * authenticators and the event listener use the realm's {@code identity-backend} component too, so
 * a realm configures the backend once.
 */
public final class BackendConfig {

    public static final String BASE_URL = "baseUrl";
    public static final String API_TOKEN = "apiToken";
    public static final String CONNECT_TIMEOUT_MS = "connectTimeoutMs";
    public static final String READ_TIMEOUT_MS = "readTimeoutMs";

    public static final int DEFAULT_CONNECT_TIMEOUT_MS = 2000;
    public static final int DEFAULT_READ_TIMEOUT_MS = 5000;

    private BackendConfig() {
    }

    /** The realm's {@code identity-backend} user storage component, if it has one. */
    public static Optional<ComponentModel> componentOf(RealmModel realm) {
        return realm.getComponentsStream(realm.getId(), UserStorageProvider.class.getName())
                .filter(c -> BackendUserStorageProviderFactory.PROVIDER_ID.equals(c.getProviderId()))
                .findFirst();
    }

    public static String baseUrl(ComponentModel m) {
        String v = m.get(BASE_URL);
        return v == null ? "" : v.trim();
    }

    public static String apiToken(ComponentModel m) {
        String v = m.get(API_TOKEN);
        return v == null ? "" : v.trim();
    }

    public static int connectTimeoutMs(ComponentModel m) {
        return positiveInt(m.get(CONNECT_TIMEOUT_MS), DEFAULT_CONNECT_TIMEOUT_MS);
    }

    public static int readTimeoutMs(ComponentModel m) {
        return positiveInt(m.get(READ_TIMEOUT_MS), DEFAULT_READ_TIMEOUT_MS);
    }

    static int positiveInt(String s, int dflt) {
        if (s == null || s.isBlank()) {
            return dflt;
        }
        try {
            int v = Integer.parseInt(s.trim());
            return v > 0 ? v : dflt;
        } catch (NumberFormatException e) {
            return dflt;
        }
    }
}
