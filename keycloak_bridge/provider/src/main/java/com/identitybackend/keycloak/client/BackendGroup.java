package com.identitybackend.keycloak.client;

/** A backend group: {@code {"id", "name", "path", "parent"}}. */
public record BackendGroup(String id, String name, String path, String parent) {
}
