package com.identitybackend.keycloak.events;

import org.keycloak.Config;
import org.keycloak.events.EventListenerProvider;
import org.keycloak.events.EventListenerProviderFactory;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.KeycloakSessionFactory;

/** Event listener {@code identity-backend-login}: enable it in the realm's event listeners. */
public class LoginEventListenerProviderFactory implements EventListenerProviderFactory {

    public static final String PROVIDER_ID = "identity-backend-login";

    @Override
    public EventListenerProvider create(KeycloakSession session) {
        return new LoginEventListenerProvider(session);
    }

    @Override
    public void init(Config.Scope config) {
    }

    @Override
    public void postInit(KeycloakSessionFactory factory) {
    }

    @Override
    public void close() {
    }

    @Override
    public String getId() {
        return PROVIDER_ID;
    }
}
