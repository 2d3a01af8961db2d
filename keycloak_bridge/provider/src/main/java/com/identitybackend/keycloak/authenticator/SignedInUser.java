package com.identitybackend.keycloak.authenticator;

import com.identitybackend.keycloak.client.BackendClient;
import org.keycloak.authentication.AuthenticationFlowContext;
import org.keycloak.authentication.AuthenticationFlowError;
import org.keycloak.models.UserModel;

import java.util.Optional;

/** Ends a passwordless step: the backend said who signed in; the provider brings that user to Keycloak. */
final class SignedInUser {

    private SignedInUser() {
    }

    static void complete(AuthenticationFlowContext context, String backendUserId) {
        UserModel user = context.getSession().users().getUserById(context.getRealm(), backendUserId);
        if (user == null) {
            // never seen by this Keycloak: look it up by username, which imports it (id = backend id)
            BackendClient backend = RealmBackend.users(context.getRealm());
            Optional<String> username = backend.getUser(backendUserId).map(u -> u.getUsername());
            user = username.map(name -> context.getSession().users().getUserByUsername(context.getRealm(), name))
                    .orElse(null);
        }
        if (user == null || !user.isEnabled()) {
            context.failure(AuthenticationFlowError.INVALID_USER);
            return;
        }
        context.setUser(user);
        context.success();
    }
}
