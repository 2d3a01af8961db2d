package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendException;
import org.keycloak.models.ModelDuplicateException;
import org.keycloak.models.ModelException;
import org.keycloak.models.ModelValidationException;

/**
 * A backend refusal as Keycloak reports it: 409 as a duplicate (the admin console's "User exists
 * with same username/email"), 400 as a validation error answered 400 with the backend's field
 * messages, anything else as a plain model error.
 */
final class ModelExceptions {

    private ModelExceptions() {
    }

    static ModelException from(BackendException e) {
        if (e.isConflict()) {
            String field = e.getFields().keySet().stream().findFirst().orElse("");
            String msg = field.contains("email") ? "User exists with same email" : "User exists with same username";
            return new ModelDuplicateException(msg, e);
        }
        StringBuilder detail = new StringBuilder("Identity backend refused the change");
        if (!e.getFields().isEmpty()) {
            e.getFields().forEach((field, messages) ->
                    detail.append(detail.indexOf(":") < 0 ? ": " : "; ").append(field).append(" ")
                            .append(String.join(", ", messages)));
        } else if (e.getMessage() != null) {
            detail.append(": ").append(e.getMessage());
        }
        // Keycloak formats admin error messages with MessageFormat: keep braces and quotes out
        String message = detail.toString().replaceAll("[{}']", "");
        if (e.getStatus() == 400) {
            ModelValidationException invalid = new ModelValidationException(message);
            invalid.initCause(e);
            return invalid; // answered as 400 by Keycloak's error handler
        }
        return new ModelException(message, e);
    }
}
