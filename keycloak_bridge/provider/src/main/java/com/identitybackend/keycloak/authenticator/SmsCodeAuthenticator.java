package com.identitybackend.keycloak.authenticator;

import com.identitybackend.keycloak.client.BackendException;
import org.jboss.logging.Logger;
import org.keycloak.authentication.AuthenticationFlowContext;
import org.keycloak.authentication.AuthenticationFlowError;
import org.keycloak.sessions.AuthenticationSessionModel;

import java.util.Optional;

/**
 * Passwordless sign-in by texted code: a form for the phone number ({@code POST /v1/magic-sms},
 * the same answer for any number), then a form for the texted code ({@code POST /v1/magic-sms:redeem},
 * 10 minutes, 5 tries, once). A wrong code and a number without a user look the same.
 */
public class SmsCodeAuthenticator extends UserlessAuthenticator {

    public static final String PROVIDER_ID = "identity-sms-code";
    static final String NOTE_PHONE = "identity.sms.phone";

    private static final Logger LOG = Logger.getLogger(SmsCodeAuthenticator.class);

    @Override
    public void authenticate(AuthenticationFlowContext context) {
        context.challenge(Forms.page(context, Forms.PHONE_FORM, null, "purpose", "signin"));
    }

    @Override
    public void action(AuthenticationFlowContext context) {
        AuthenticationSessionModel auth = context.getAuthenticationSession();
        if (Forms.posted(context).containsKey("restart")) {
            auth.removeAuthNote(NOTE_PHONE);
            authenticate(context);
        } else if (Forms.posted(context).containsKey("code")) {
            redeem(context, auth.getAuthNote(NOTE_PHONE), Forms.field(context, "code"));
        } else {
            send(context, Forms.field(context, "phone_number"));
        }
    }

    private void send(AuthenticationFlowContext context, String phone) {
        if (phone.isEmpty()) {
            context.challenge(Forms.page(context, Forms.PHONE_FORM, "identityPhoneMissing", "purpose", "signin"));
            return;
        }
        try {
            RealmBackend.verifications(context.getRealm()).requestMagicSms(phone, Forms.clientIp(context));
        } catch (BackendException e) {
            String error = Forms.sendRefused(e, "phone_number", "identityPhoneInvalid", "sign-in code");
            context.challenge(Forms.page(context, Forms.PHONE_FORM, error, "purpose", "signin", "phoneNumber", phone));
            return;
        }
        context.getAuthenticationSession().setAuthNote(NOTE_PHONE, phone);
        context.challenge(codeForm(context, phone, null));
    }

    private void redeem(AuthenticationFlowContext context, String phone, String code) {
        if (phone == null) {
            authenticate(context);
            return;
        }
        Optional<String> userId;
        try {
            userId = RealmBackend.verifications(context.getRealm()).redeemMagicSms(phone, code);
        } catch (BackendException e) {
            LOG.warnf("sign-in code not checked: %s", e);
            context.challenge(codeForm(context, phone, "identityBackendUnavailable"));
            return;
        }
        if (userId.isEmpty()) {
            context.failureChallenge(AuthenticationFlowError.INVALID_CREDENTIALS,
                    codeForm(context, phone, "identitySignInCodeWrong"));
            return;
        }
        context.getAuthenticationSession().removeAuthNote(NOTE_PHONE);
        SignedInUser.complete(context, userId.get());
    }

    private static jakarta.ws.rs.core.Response codeForm(AuthenticationFlowContext context, String phone, String error) {
        return Forms.page(context, Forms.CODE_FORM, error, "destination", phone, "purpose", "signin");
    }
}
