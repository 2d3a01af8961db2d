package com.identitybackend.keycloak.client;

import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One user as the backend's {@code /v1} API returns it. Immutable; writes go through
 * {@link UserPatch} and come back as a new instance. The built-in fields are held by
 * {@link UserField}; a field not given holds its blank value.
 */
public final class BackendUser {

    private final String id;
    private final Map<UserField, Object> fields = new EnumMap<>(UserField.class);
    private final Map<String, List<String>> attributes;
    private final List<String> roles;
    private final List<String> groups;
    private final String deactivatedAt;
    private final String createdAt;
    private final String updatedAt;

    public BackendUser(String id, Map<UserField, ?> fields, Map<String, List<String>> attributes, List<String> roles,
                       List<String> groups, String deactivatedAt, String createdAt, String updatedAt) {
        this.id = id;
        for (UserField f : UserField.values()) {
            Object v = fields == null ? null : fields.get(f);
            this.fields.put(f, v != null ? v : f.blank());
        }
        this.attributes = copyAttributes(attributes);
        this.roles = roles == null ? List.of() : List.copyOf(roles);
        this.groups = groups == null ? List.of() : List.copyOf(groups);
        this.deactivatedAt = deactivatedAt;
        this.createdAt = createdAt;
        this.updatedAt = updatedAt;
    }

    /** A user Keycloak is creating: only the id and username are known. */
    public static BackendUser blank(String id, String username) {
        return new BackendUser(id, Collections.singletonMap(UserField.USERNAME, username), Map.of(), List.of(), List.of(),
                null, null, null);
    }

    private static Map<String, List<String>> copyAttributes(Map<String, List<String>> in) {
        if (in == null || in.isEmpty()) {
            return Map.of();
        }
        Map<String, List<String>> out = new LinkedHashMap<>();
        in.forEach((k, v) -> out.put(k, v == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(v))));
        return Collections.unmodifiableMap(out);
    }

    /** This user with some fields (null clears) and the custom attributes replaced. */
    public BackendUser with(Map<UserField, ?> changes, Map<String, List<String>> newAttributes) {
        Map<UserField, Object> merged = new EnumMap<>(fields);
        merged.putAll(changes);
        return new BackendUser(id, merged, newAttributes, roles, groups, deactivatedAt, createdAt, updatedAt);
    }

    /** This user with other role names and group paths. */
    public BackendUser withMemberships(List<String> newRoles, List<String> newGroups) {
        return new BackendUser(id, fields, attributes, newRoles, newGroups, deactivatedAt, createdAt, updatedAt);
    }

    public Object get(UserField f) { return fields.get(f); }

    public String getId() { return id; }
    public String getUsername() { return (String) get(UserField.USERNAME); }
    public String getEmail() { return (String) get(UserField.EMAIL); }
    public boolean isEmailVerified() { return (Boolean) get(UserField.EMAIL_VERIFIED); }
    public String getPhoneNumber() { return (String) get(UserField.PHONE_NUMBER); }
    public boolean isPhoneVerified() { return (Boolean) get(UserField.PHONE_VERIFIED); }
    public String getFirstName() { return (String) get(UserField.FIRST_NAME); }
    public String getLastName() { return (String) get(UserField.LAST_NAME); }
    /** The backend's {@code enabled} flag as stored. See {@link #isActive()}. */
    public boolean isEnabled() { return (Boolean) get(UserField.ENABLED); }
    public String getDeactivatedAt() { return deactivatedAt; }
    public Map<String, List<String>> getAttributes() { return attributes; }
    public List<String> getRoles() { return roles; }
    public List<String> getGroups() { return groups; }
    public String getCreatedAt() { return createdAt; }
    public String getUpdatedAt() { return updatedAt; }

    /** A user may log in only when enabled and not deactivated. */
    public boolean isActive() {
        return isEnabled() && deactivatedAt == null;
    }

    /** {@code created_at} as epoch milliseconds, or null when absent or unparsable. */
    public Long getCreatedTimestamp() {
        if (createdAt == null || createdAt.isEmpty()) {
            return null;
        }
        try {
            return OffsetDateTime.parse(createdAt.replace("Z", "+00:00")).toInstant().toEpochMilli();
        } catch (DateTimeParseException e) {
            return null;
        }
    }

    @Override
    public String toString() {
        return "BackendUser{id=" + id + ", username=" + getUsername() + "}";
    }
}
