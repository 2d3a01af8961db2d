package com.identitybackend.keycloak.client;

import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One user as the backend's {@code /v1} API returns it. Immutable; writes go through
 * {@link UserPatch} and come back as a new instance.
 */
public final class BackendUser {

    private final String id;
    private final String username;
    private final String email;
    private final boolean emailVerified;
    private final String phoneNumber;
    private final boolean phoneVerified;
    private final String firstName;
    private final String lastName;
    private final boolean enabled;
    private final String deactivatedAt;
    private final Map<String, List<String>> attributes;
    private final List<String> roles;
    private final List<String> groups;
    private final String createdAt;
    private final String updatedAt;

    public BackendUser(String id, String username, String email, boolean emailVerified, String phoneNumber,
                       boolean phoneVerified, String firstName, String lastName, boolean enabled,
                       String deactivatedAt, Map<String, List<String>> attributes, List<String> roles,
                       List<String> groups, String createdAt, String updatedAt) {
        this.id = id;
        this.username = username;
        this.email = email;
        this.emailVerified = emailVerified;
        this.phoneNumber = phoneNumber;
        this.phoneVerified = phoneVerified;
        this.firstName = firstName;
        this.lastName = lastName;
        this.enabled = enabled;
        this.deactivatedAt = deactivatedAt;
        this.attributes = copyAttributes(attributes);
        this.roles = roles == null ? List.of() : List.copyOf(roles);
        this.groups = groups == null ? List.of() : List.copyOf(groups);
        this.createdAt = createdAt;
        this.updatedAt = updatedAt;
    }

    private static Map<String, List<String>> copyAttributes(Map<String, List<String>> in) {
        if (in == null || in.isEmpty()) {
            return Map.of();
        }
        Map<String, List<String>> out = new LinkedHashMap<>();
        in.forEach((k, v) -> out.put(k, v == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(v))));
        return Collections.unmodifiableMap(out);
    }

    public String getId() { return id; }
    public String getUsername() { return username; }
    public String getEmail() { return email; }
    public boolean isEmailVerified() { return emailVerified; }
    public String getPhoneNumber() { return phoneNumber; }
    public boolean isPhoneVerified() { return phoneVerified; }
    public String getFirstName() { return firstName; }
    public String getLastName() { return lastName; }
    /** The backend's {@code enabled} flag as stored. See {@link #isActive()}. */
    public boolean isEnabled() { return enabled; }
    public String getDeactivatedAt() { return deactivatedAt; }
    public Map<String, List<String>> getAttributes() { return attributes; }
    public List<String> getRoles() { return roles; }
    public List<String> getGroups() { return groups; }
    public String getCreatedAt() { return createdAt; }
    public String getUpdatedAt() { return updatedAt; }

    /** A user may log in only when enabled and not deactivated. */
    public boolean isActive() {
        return enabled && deactivatedAt == null;
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
        return "BackendUser{id=" + id + ", username=" + username + "}";
    }
}
