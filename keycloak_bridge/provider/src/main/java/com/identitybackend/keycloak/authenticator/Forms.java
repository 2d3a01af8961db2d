package com.identitybackend.keycloak.authenticator;

import com.identitybackend.keycloak.client.BackendException;
import jakarta.ws.rs.core.MultivaluedMap;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.keycloak.authentication.AuthenticationFlowContext;
import org.keycloak.forms.login.LoginFormsProvider;

import java.util.List;

/** Form plumbing shared by the authenticators: posted fields, the end user's IP, pages with one error. */
final class Forms {

    private static final Logger LOG = Logger.getLogger(Forms.class);

    static final String PHONE_FORM = "identity-phone.ftl";
    static final String CODE_FORM = "identity-code.ftl";
    static final String EMAIL_FORM = "identity-email.ftl";
    static final String LINK_SENT = "identity-link-sent.ftl";

    private Forms() {
    }

    static MultivaluedMap<String, String> posted(AuthenticationFlowContext context) {
        return context.getHttpRequest().getDecodedFormParameters();
    }

    static String field(AuthenticationFlowContext context, String name) {
        String v = posted(context).getFirst(name);
        return v == null ? "" : v.trim();
    }

    static String clientIp(AuthenticationFlowContext context) {
        return context.getConnection().getRemoteAddr();
    }

    /** A page of this execution; {@code error} is a message key or a backend sentence, or null. */
    static Response page(AuthenticationFlowContext context, String template, String error, Object... attributes) {
        LoginFormsProvider form = context.form();
        for (int i = 0; i + 1 < attributes.length; i += 2) {
            form.setAttribute((String) attributes[i], attributes[i + 1]);
        }
        if (error != null) {
            form.setError(error);
        }
        return form.createForm(template);
    }

    /** The backend's own words for a refused field (they say what to do next), else {@code fallbackKey}. */
    static String backendMessage(BackendException e, String field, String fallbackKey) {
        List<String> messages = e.getFields().get(field);
        if (messages == null || messages.isEmpty()) {
            return fallbackKey;
        }
        // Keycloak formats messages with MessageFormat: quotes and braces would be eaten
        return messages.get(0).replaceAll("[{}']", "");
    }

    /** What to tell someone whose code or link the backend did not send: its own words for a bad
     * value (400), else that they sent too many or that sending failed (logged). */
    static String sendRefused(BackendException e, String field, String invalidKey, String what) {
        if (e.getStatus() == 400) {
            return backendMessage(e, field, invalidKey);
        }
        LOG.warnf("%s not sent: %s", what, e);
        return e.isThrottled() ? "identityTooManySends" : "identitySendFailed";
    }
}
