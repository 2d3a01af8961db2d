package com.identitybackend.keycloak.events;

import com.identitybackend.keycloak.client.BackendClient;
import com.identitybackend.keycloak.client.BackendHttp;
import com.identitybackend.keycloak.storage.BackendConfig;
import com.identitybackend.keycloak.storage.HttpClients;
import org.jboss.logging.Logger;
import org.keycloak.component.ComponentModel;
import org.keycloak.events.Event;
import org.keycloak.events.EventListenerProvider;
import org.keycloak.events.EventType;
import org.keycloak.events.admin.AdminEvent;
import org.keycloak.models.AbstractKeycloakTransaction;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;

import java.util.Optional;

/**
 * Reports successful logins to {@code POST /v1/users/{id}:record-login} and registrations to
 * {@code POST /v1/users/{id}:record-registration} (the backend publishes both on its
 * {@code keycloak.events} exchange), using the backend URL and token of the realm's
 * {@code identity-backend} user storage component. Fire-and-forget: a login never waits for, or
 * fails because of, this call.
 */
public class LoginEventListenerProvider implements EventListenerProvider {

    private static final Logger LOG = Logger.getLogger(LoginEventListenerProvider.class);

    private final KeycloakSession session;

    public LoginEventListenerProvider(KeycloakSession session) {
        this.session = session;
    }

    @Override
    public void onEvent(Event event) {
        boolean register = event.getType() == EventType.REGISTER;
        if ((event.getType() != EventType.LOGIN && !register) || event.getUserId() == null
                || event.getRealmId() == null) {
            return;
        }
        String userId = event.getUserId();
        if (!BackendHttp.isUuid(userId)) {
            return;
        }
        Optional<ComponentModel> component = storageComponent(event.getRealmId());
        if (component.isEmpty()) {
            return;
        }
        ComponentModel model = component.get();
        String clientId = event.getClientId();
        String ip = event.getIpAddress();
        // after the Keycloak transaction, so that a user created in the same request exists in the backend
        session.getTransactionManager().enlistAfterCompletion(new AbstractKeycloakTransaction() {
            @Override
            protected void commitImpl() {
                send(model, register, userId, clientId, ip);
            }

            @Override
            protected void rollbackImpl() {
            }
        });
    }

    private static void send(ComponentModel model, boolean register, String userId, String clientId, String ip) {
        String what = register ? "record-registration" : "record-login";
        try {
            BackendClient client = new BackendClient(HttpClients.forComponent(model));
            (register ? client.recordRegistrationAsync(userId, clientId, ip) : client.recordLoginAsync(userId, clientId, ip))
                    .whenComplete((status, error) -> {
                        if (error != null) {
                            LOG.warnf("%s for user %s failed: %s", what, userId, error.toString());
                        } else if (status != null && status >= 300) {
                            LOG.warnf("%s for user %s answered %d", what, userId, status);
                        }
                    });
        } catch (RuntimeException e) {
            LOG.warnf("%s for user %s failed: %s", what, userId, e.toString());
        }
    }

    private Optional<ComponentModel> storageComponent(String realmId) {
        RealmModel realm = session.realms().getRealm(realmId);
        return realm == null ? Optional.empty() : BackendConfig.componentOf(realm);
    }

    @Override
    public void onEvent(AdminEvent event, boolean includeRepresentation) {
    }

    @Override
    public void close() {
    }
}
