package com.identitybackend.keycloak.storage;

import org.keycloak.models.AbstractKeycloakTransaction;

/**
 * Enlisted in the prepare phase of the Keycloak transaction the first time a user changes, so every
 * change of one request reaches the backend once (one POST or one PATCH per user) before Keycloak
 * commits its own database; a backend refusal rolls the whole Keycloak transaction back.
 */
final class BackendFlushTransaction extends AbstractKeycloakTransaction {

    private final WriteBuffer writes;

    BackendFlushTransaction(WriteBuffer writes) {
        this.writes = writes;
    }

    @Override
    protected void commitImpl() {
        writes.flush();
    }

    @Override
    protected void rollbackImpl() {
        writes.discardChanges();
    }
}
