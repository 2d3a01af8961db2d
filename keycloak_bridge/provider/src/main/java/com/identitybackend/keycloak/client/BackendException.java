package com.identitybackend.keycloak.client;

import java.util.List;
import java.util.Map;

/**
 * The backend answered with an error ({@code {"code", "message", "fields"}}) or could not be reached
 * (status 0).
 */
public class BackendException extends RuntimeException {

    private final int status;
    private final String code;
    private final Map<String, List<String>> fields;

    public BackendException(int status, String code, String message, Map<String, List<String>> fields, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.code = code;
        this.fields = fields == null ? Map.of() : fields;
    }

    public BackendException(int status, String code, String message) {
        this(status, code, message, null, null);
    }

    /** HTTP status, or 0 when the backend could not be reached / timed out. */
    public int getStatus() { return status; }
    public String getCode() { return code; }
    public Map<String, List<String>> getFields() { return fields; }

    public boolean isConflict() { return status == 409; }
    public boolean isNotFound() { return status == 404; }
    public boolean isThrottled() { return status == 429; }
    public boolean isUnavailable() { return status == 0 || status >= 500; }

    @Override
    public String toString() {
        return "BackendException{status=" + status + ", code=" + code + ", message=" + getMessage()
                + (fields.isEmpty() ? "" : ", fields=" + fields) + "}";
    }
}
