package com.identitybackend.keycloak.client;

import java.util.List;

/** One page of a backend list: {@code {"results": [...], "next": url|null}}. */
public record Page<T>(List<T> results, String next) {

    public boolean hasNext() {
        return next != null && !next.isEmpty();
    }
}
