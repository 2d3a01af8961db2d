package com.identitybackend.keycloak.authenticator;

import com.identitybackend.keycloak.client.BackendException;
import com.identitybackend.keycloak.client.VerificationClient;
import org.jboss.logging.Logger;
import org.keycloak.authentication.AuthenticationFlowContext;
import org.keycloak.authentication.AuthenticationFlowError;
import org.keycloak.sessions.AuthenticationSessionModel;

/**
 * Enrollment by phone, first step: a form for the phone number, then a form for the code the
 * backend texts to it ({@code POST /v1/phone-verifications}, {@code :confirm}). The backend keeps
 * the code (hashed, 10 minutes, 5 tries, throttled); this step keeps only the verification's id, and
 * on success leaves the verified number and the backend's signed proof in the authentication
 * session for {@link FindOrCreateUserAuthenticator}.
 */
public class CollectPhoneFormAuthenticator extends UserlessAuthenticator {

    public static final String PROVIDER_ID = "identity-collect-phone";
    /** The verified number (E.164), and the backend's proof of it: what the next step reads. */
    public static final String NOTE_VERIFIED_PHONE = "identity.phone.verified";
    public static final String NOTE_PHONE_PROOF = "identity.phone.proof";
    static final String NOTE_VERIFICATION = "identity.phone.verification";
    static final String NOTE_PENDING_PHONE = "identity.phone.pending";

    private static final Logger LOG = Logger.getLogger(CollectPhoneFormAuthenticator.class);

    @Override
    public void authenticate(AuthenticationFlowContext context) {
        context.challenge(Forms.page(context, Forms.PHONE_FORM, null));
    }

    @Override
    public void action(AuthenticationFlowContext context) {
        if (Forms.posted(context).containsKey("restart")) {
            forget(context.getAuthenticationSession());
            context.challenge(Forms.page(context, Forms.PHONE_FORM, null));
        } else if (Forms.posted(context).containsKey("code")) {
            confirm(context, Forms.field(context, "code"));
        } else {
            send(context, Forms.field(context, "phone_number"));
        }
    }

    private void send(AuthenticationFlowContext context, String phone) {
        if (phone.isEmpty()) {
            context.challenge(Forms.page(context, Forms.PHONE_FORM, "identityPhoneMissing"));
            return;
        }
        AuthenticationSessionModel auth = context.getAuthenticationSession();
        try {
            VerificationClient.Verification v = RealmBackend.verifications(context.getRealm())
                    .startPhoneVerification(phone, Forms.clientIp(context));
            auth.setAuthNote(NOTE_VERIFICATION, v.id());
            auth.setAuthNote(NOTE_PENDING_PHONE, v.destination());
            context.challenge(codeForm(context, v.destination(), null));
        } catch (BackendException e) {
            context.challenge(Forms.page(context, Forms.PHONE_FORM,
                    Forms.sendRefused(e, "phone_number", "identityPhoneInvalid", "phone verification"), "phoneNumber", phone));
        }
    }

    private void confirm(AuthenticationFlowContext context, String code) {
        AuthenticationSessionModel auth = context.getAuthenticationSession();
        String verification = auth.getAuthNote(NOTE_VERIFICATION);
        String phone = auth.getAuthNote(NOTE_PENDING_PHONE);
        if (verification == null || phone == null) {
            context.challenge(Forms.page(context, Forms.PHONE_FORM, null));
            return;
        }
        try {
            String proof = RealmBackend.verifications(context.getRealm()).confirmPhoneVerification(verification, code);
            forget(auth);
            auth.setAuthNote(NOTE_VERIFIED_PHONE, phone);
            auth.setAuthNote(NOTE_PHONE_PROOF, proof);
            context.success();
        } catch (BackendException e) {
            if (e.getStatus() != 400) {
                LOG.warnf("phone verification %s not confirmed: %s", verification, e);
                context.challenge(codeForm(context, phone, "identityBackendUnavailable"));
                return;
            }
            context.getEvent().detail("phone_verification", verification);
            context.failureChallenge(AuthenticationFlowError.INVALID_CREDENTIALS,
                    codeForm(context, phone, Forms.backendMessage(e, "code", "identityCodeWrong")));
        }
    }

    private static jakarta.ws.rs.core.Response codeForm(AuthenticationFlowContext context, String phone, String error) {
        return Forms.page(context, Forms.CODE_FORM, error, "destination", phone, "purpose", "verify");
    }

    private static void forget(AuthenticationSessionModel auth) {
        auth.removeAuthNote(NOTE_VERIFICATION);
        auth.removeAuthNote(NOTE_PENDING_PHONE);
    }
}
