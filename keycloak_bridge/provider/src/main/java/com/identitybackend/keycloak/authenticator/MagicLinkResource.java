package com.identitybackend.keycloak.authenticator;

import com.identitybackend.keycloak.client.BackendException;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.keycloak.forms.login.LoginFormsProvider;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.services.managers.AuthenticationSessionManager;
import org.keycloak.services.resource.RealmResourceProvider;
import org.keycloak.sessions.AuthenticationSessionModel;
import org.keycloak.sessions.RootAuthenticationSessionModel;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Optional;

/**
 * {@code GET /realms/{realm}/magic-link?token=…&state=…}: where the backend's e-mailed links land
 * (its {@code MAGIC_LINK_URL_TEMPLATE}). The state must name a login waiting at the magic-link step
 * in this browser's authentication session, with the same nonce; only then is the token redeemed
 * (so a link opened elsewhere is not spent), and the browser goes back to that login, now signed in.
 */
public class MagicLinkResource implements RealmResourceProvider {

    private static final Logger LOG = Logger.getLogger(MagicLinkResource.class);

    private final KeycloakSession session;

    MagicLinkResource(KeycloakSession session) {
        this.session = session;
    }

    static String state(String tabId, String nonce) {
        return tabId + "." + nonce;
    }

    @Override
    public Object getResource() {
        return this;
    }

    @GET
    @Path("") // since Keycloak 23 (RESTEasy Reactive) a resource method needs a @Path, even the root
    @Produces(MediaType.TEXT_HTML)
    public Response open(@QueryParam("token") String token, @QueryParam("state") String state) {
        RealmModel realm = session.getContext().getRealm();
        AuthenticationSessionModel login = waitingLogin(realm, state);
        if (login == null) {
            return error("identityLinkOtherBrowser", Response.Status.BAD_REQUEST);
        }
        Optional<String> userId;
        try {
            userId = RealmBackend.verifications(realm).redeemMagicLink(token);
        } catch (BackendException e) {
            LOG.warnf("magic link not redeemed: %s", e);
            return error("identityBackendUnavailable", Response.Status.SERVICE_UNAVAILABLE);
        }
        if (userId.isEmpty()) {
            return error("identityLinkInvalid", Response.Status.BAD_REQUEST);
        }
        String back = login.getAuthNote(MagicLinkAuthenticator.NOTE_RETURN);
        login.removeAuthNote(MagicLinkAuthenticator.NOTE_NONCE);
        login.removeAuthNote(MagicLinkAuthenticator.NOTE_RETURN);
        login.setAuthNote(MagicLinkAuthenticator.NOTE_USER, userId.get());
        return Response.status(Response.Status.FOUND).location(URI.create(back)).build();
    }

    /** This browser's login that asked for the link, or null (other browser, finished, or forged state). */
    private AuthenticationSessionModel waitingLogin(RealmModel realm, String state) {
        if (state == null || state.indexOf('.') <= 0) {
            return null;
        }
        String tabId = state.substring(0, state.indexOf('.'));
        String nonce = state.substring(state.indexOf('.') + 1);
        RootAuthenticationSessionModel root = new AuthenticationSessionManager(session)
                .getCurrentRootAuthenticationSession(realm);
        if (root == null) {
            return null;
        }
        AuthenticationSessionModel login = root.getAuthenticationSessions().get(tabId);
        if (login == null) {
            return null;
        }
        String expected = login.getAuthNote(MagicLinkAuthenticator.NOTE_NONCE);
        if (expected == null || login.getAuthNote(MagicLinkAuthenticator.NOTE_RETURN) == null
                || !MessageDigest.isEqual(expected.getBytes(StandardCharsets.UTF_8), nonce.getBytes(StandardCharsets.UTF_8))) {
            return null;
        }
        return login;
    }

    private Response error(String messageKey, Response.Status status) {
        LoginFormsProvider form = session.getProvider(LoginFormsProvider.class);
        return form.setError(messageKey).createErrorPage(status);
    }

    @Override
    public void close() {
    }
}
