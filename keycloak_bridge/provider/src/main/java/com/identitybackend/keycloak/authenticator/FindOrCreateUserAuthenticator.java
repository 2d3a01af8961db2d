package com.identitybackend.keycloak.authenticator;

import com.identitybackend.keycloak.client.BackendClient;
import com.identitybackend.keycloak.client.BackendException;
import com.identitybackend.keycloak.client.BackendUser;
import com.identitybackend.keycloak.client.UserField;
import org.jboss.logging.Logger;
import org.keycloak.authentication.AuthenticationFlowContext;
import org.keycloak.authentication.AuthenticationFlowError;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.sessions.AuthenticationSessionModel;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Enrollment by phone, second step: the phone number verified by
 * {@link CollectPhoneFormAuthenticator} finds the user through our user storage provider
 * ({@code GET /v1/users:search?phone_number=…}); a number nobody has creates the user in the backend
 * ({@code POST /v1/users} with the backend's proof, so the backend itself sets {@code phone_verified}),
 * and the provider then imports it, so the tokens' {@code sub} is the backend's UUID.
 *
 * <p>New users are named after their number's digits ({@code +15551234567} → {@code 15551234567});
 * if that username is taken, a random suffix is added. Two enrollments of one number at once
 * cannot both create: the backend's unique (tenant, phone) constraint answers the second with 409,
 * and the second then finds the first's user.
 */
public class FindOrCreateUserAuthenticator extends UserlessAuthenticator {

    public static final String PROVIDER_ID = "identity-find-or-create-user";

    private static final Logger LOG = Logger.getLogger(FindOrCreateUserAuthenticator.class);
    private static final SecureRandom RANDOM = new SecureRandom();

    @Override
    public void authenticate(AuthenticationFlowContext context) {
        AuthenticationSessionModel auth = context.getAuthenticationSession();
        String phone = auth.getAuthNote(CollectPhoneFormAuthenticator.NOTE_VERIFIED_PHONE);
        String proof = auth.getAuthNote(CollectPhoneFormAuthenticator.NOTE_PHONE_PROOF);
        if (phone == null || proof == null) {
            LOG.warn("find-or-create ran without a verified phone: put identity-collect-phone before it in the flow");
            context.failure(AuthenticationFlowError.INTERNAL_ERROR,
                    context.form().setError("identityPhoneNotVerified").createErrorPage(
                            jakarta.ws.rs.core.Response.Status.BAD_REQUEST));
            return;
        }
        UserModel user;
        try {
            user = findOrCreate(context, phone, proof);
        } catch (BackendException e) {
            LOG.warnf("find-or-create for a verified phone failed: %s", e);
            context.failure(AuthenticationFlowError.INTERNAL_ERROR,
                    context.form().setError("identityBackendUnavailable").createErrorPage(
                            jakarta.ws.rs.core.Response.Status.SERVICE_UNAVAILABLE));
            return;
        }
        auth.removeAuthNote(CollectPhoneFormAuthenticator.NOTE_PHONE_PROOF);
        if (user == null) {
            context.failure(AuthenticationFlowError.UNKNOWN_USER);
            return;
        }
        if (!user.isEnabled()) {
            context.getEvent().user(user);
            context.failure(AuthenticationFlowError.USER_DISABLED,
                    context.form().setError("identityAccountDisabled").createErrorPage(
                            jakarta.ws.rs.core.Response.Status.FORBIDDEN));
            return;
        }
        context.setUser(user);
        context.success();
    }

    @Override
    public void action(AuthenticationFlowContext context) {
        authenticate(context);
    }

    private UserModel findOrCreate(AuthenticationFlowContext context, String phone, String proof) {
        KeycloakSession session = context.getSession();
        RealmModel realm = context.getRealm();
        BackendClient backend = RealmBackend.users(realm);
        UserModel found = findByPhone(session, realm, phone);
        if (found != null) {
            if (!Boolean.parseBoolean(found.getFirstAttribute(UserField.PHONE_VERIFIED.keycloakName()))) {
                backend.patchUser(found.getId(), Map.of("phone_verification_proof", proof));
            }
            return found;
        }
        String username = phone.replaceAll("[^0-9]", "");
        for (int attempt = 0; attempt < 3; attempt++) {
            try {
                BackendUser created = backend.createUser(createBody(username, phone, proof));
                LOG.debugf("enrolled backend user %s by phone", created.getId());
                return session.users().getUserByUsername(realm, created.getUsername());
            } catch (BackendException e) {
                if (!e.isConflict()) {
                    throw e;
                }
                UserModel raced = findByPhone(session, realm, phone);
                if (raced != null) {
                    return raced; // the same number enrolled a moment ago
                }
                username = phone.replaceAll("[^0-9]", "") + "-" + HexFormat.of().formatHex(randomBytes());
            }
        }
        throw new BackendException(409, "conflict", "no free username for a new user");
    }

    private static UserModel findByPhone(KeycloakSession session, RealmModel realm, String phone) {
        return session.users().searchForUserByUserAttributeStream(realm, UserField.PHONE_NUMBER.keycloakName(), phone)
                .findFirst().orElse(null);
    }

    private static Map<String, Object> createBody(String username, String phone, String proof) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put(UserField.USERNAME.backendName(), username);
        body.put(UserField.PHONE_NUMBER.backendName(), phone);
        body.put("phone_verification_proof", proof);
        body.put(UserField.ENABLED.backendName(), true);
        return body;
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[3];
        RANDOM.nextBytes(b);
        return b;
    }
}
