package com.identitybackend.keycloak.authenticator;

import org.keycloak.Config;
import org.keycloak.authentication.Authenticator;
import org.keycloak.authentication.AuthenticatorFactory;
import org.keycloak.models.AuthenticationExecutionModel.Requirement;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.KeycloakSessionFactory;
import org.keycloak.provider.ProviderConfigProperty;

import java.util.List;

/**
 * What the four authenticator factories share: stateless authenticators, no configuration (the
 * backend is the realm's user storage component), REQUIRED/ALTERNATIVE/DISABLED in a flow.
 */
abstract class IdentityAuthenticatorFactory implements AuthenticatorFactory {

    private static final Requirement[] CHOICES = {Requirement.REQUIRED, Requirement.ALTERNATIVE, Requirement.DISABLED};

    private final String id;
    private final String displayType;
    private final String helpText;
    private final Authenticator instance;

    IdentityAuthenticatorFactory(String id, String displayType, String helpText, Authenticator instance) {
        this.id = id;
        this.displayType = displayType;
        this.helpText = helpText;
        this.instance = instance;
    }

    @Override
    public String getId() {
        return id;
    }

    @Override
    public String getDisplayType() {
        return displayType;
    }

    @Override
    public String getHelpText() {
        return helpText;
    }

    @Override
    public String getReferenceCategory() {
        return null;
    }

    @Override
    public boolean isConfigurable() {
        return false;
    }

    @Override
    public Requirement[] getRequirementChoices() {
        return CHOICES;
    }

    @Override
    public boolean isUserSetupAllowed() {
        return false;
    }

    @Override
    public List<ProviderConfigProperty> getConfigProperties() {
        return List.of();
    }

    @Override
    public Authenticator create(KeycloakSession session) {
        return instance;
    }

    @Override
    public void init(Config.Scope config) {
    }

    @Override
    public void postInit(KeycloakSessionFactory factory) {
    }

    @Override
    public void close() {
    }
}
