package com.identitybackend.keycloak.client;

final class Fixtures {

    static final String ALICE_ID = "5b0f6f8e-3c1a-4f7e-9d2b-0a1b2c3d4e5f";

    static final String ALICE = """
            {"id": "5b0f6f8e-3c1a-4f7e-9d2b-0a1b2c3d4e5f", "username": "alice", "email": "alice@example.com",
             "email_verified": true, "phone_number": "+15551234567", "phone_verified": false,
             "first_name": "Alice", "last_name": "Liddell", "enabled": true, "deactivated_at": null,
             "attributes": {"locale": ["en"], "tags": ["a", "b"]}, "roles": ["admin", "editor"],
             "groups": ["/brand/admins"], "created_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-02T10:00:00+00:00",
             "unknown_field": 1}
            """;

    private Fixtures() {
    }
}
