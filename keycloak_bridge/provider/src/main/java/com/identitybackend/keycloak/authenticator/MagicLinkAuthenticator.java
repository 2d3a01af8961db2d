package com.identitybackend.keycloak.authenticator;

import com.identitybackend.keycloak.client.BackendException;
import org.keycloak.authentication.AuthenticationFlowContext;
import org.keycloak.common.util.Base64Url;
import org.keycloak.common.util.SecretGenerator;
import org.keycloak.sessions.AuthenticationSessionModel;

/**
 * Passwordless sign-in by e-mailed link, inside a Keycloak flow. The form asks for an e-mail
 * address and has the backend send a link ({@code POST /v1/magic-links}), whose {@code state} names
 * this browser's login (its tab id and a fresh nonce kept in the authentication session). The link opens
 * {@link MagicLinkResource}, which checks that state against the browser's own session, redeems the
 * token at the backend and brings the browser back here with the user's id in a note.
 *
 * <p>The page after sending is the same whether or not the address belongs to a user; the backend
 * answers alike too (and sends in the background, so its timing does not tell either). A link works
 * once, for 24 hours, in the browser that asked for it.
 */
public class MagicLinkAuthenticator extends UserlessAuthenticator {

    public static final String PROVIDER_ID = "identity-magic-link";
    static final String NOTE_NONCE = "identity.magic.nonce";
    static final String NOTE_RETURN = "identity.magic.return";
    static final String NOTE_USER = "identity.magic.user";

    @Override
    public void authenticate(AuthenticationFlowContext context) {
        AuthenticationSessionModel auth = context.getAuthenticationSession();
        String userId = auth.getAuthNote(NOTE_USER);
        if (userId != null) {
            auth.removeAuthNote(NOTE_USER);
            SignedInUser.complete(context, userId);
            return;
        }
        context.challenge(Forms.page(context, Forms.EMAIL_FORM, null));
    }

    @Override
    public void action(AuthenticationFlowContext context) {
        if (Forms.posted(context).containsKey("restart")) {
            context.challenge(Forms.page(context, Forms.EMAIL_FORM, null));
            return;
        }
        String email = Forms.field(context, "email");
        if (email.isEmpty()) {
            context.challenge(Forms.page(context, Forms.EMAIL_FORM, "identityEmailMissing"));
            return;
        }
        AuthenticationSessionModel auth = context.getAuthenticationSession();
        String nonce = Base64Url.encode(SecretGenerator.getInstance().randomBytes(32));
        auth.setAuthNote(NOTE_NONCE, nonce);
        auth.setAuthNote(NOTE_RETURN, context.getRefreshUrl(false).toString());
        try {
            RealmBackend.verifications(context.getRealm())
                    .requestMagicLink(email, MagicLinkResource.state(auth.getTabId(), nonce), Forms.clientIp(context));
        } catch (BackendException e) {
            context.challenge(Forms.page(context, Forms.EMAIL_FORM,
                    Forms.sendRefused(e, "email", "identityEmailInvalid", "magic link"), "email", email));
            return;
        }
        context.challenge(Forms.page(context, Forms.LINK_SENT, null, "email", email));
    }
}
