package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendClient;
import org.keycloak.component.ComponentModel;
import org.keycloak.component.ComponentValidationException;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.provider.ProviderConfigProperty;
import org.keycloak.provider.ProviderConfigurationBuilder;
import org.keycloak.storage.UserStorageProviderFactory;

import java.net.URI;
import java.util.List;

/** Registers the {@code identity-backend} user storage provider and its configuration properties. */
public class BackendUserStorageProviderFactory implements UserStorageProviderFactory<BackendUserStorageProvider> {

    public static final String PROVIDER_ID = "identity-backend";

    private static final List<ProviderConfigProperty> CONFIG = ProviderConfigurationBuilder.create()
            .property(BackendConfig.BASE_URL, "Backend base URL",
                    "Base URL of the identity backend, e.g. https://identity.example.com (the provider calls <base>/v1/...).",
                    ProviderConfigProperty.STRING_TYPE, "http://127.0.0.1:8000", null)
            .property(BackendConfig.API_TOKEN, "API client token",
                    "Service credential sent as 'Authorization: Bearer <token>' (scopes users:read, users:write, credentials:verify).",
                    ProviderConfigProperty.PASSWORD, null, null, true)
            .property(BackendConfig.CONNECT_TIMEOUT_MS, "Connect timeout (ms)",
                    "Milliseconds to wait for a TCP connection to the backend.",
                    ProviderConfigProperty.STRING_TYPE, Integer.toString(BackendConfig.DEFAULT_CONNECT_TIMEOUT_MS), null)
            .property(BackendConfig.READ_TIMEOUT_MS, "Read timeout (ms)",
                    "Milliseconds to wait for each backend response.",
                    ProviderConfigProperty.STRING_TYPE, Integer.toString(BackendConfig.DEFAULT_READ_TIMEOUT_MS), null)
            .build();

    @Override
    public String getId() {
        return PROVIDER_ID;
    }

    @Override
    public String getHelpText() {
        return "Users live in the identity backend (/v1 API); Keycloak keeps only id, username and the federation link.";
    }

    @Override
    public List<ProviderConfigProperty> getConfigProperties() {
        return CONFIG;
    }

    @Override
    public BackendUserStorageProvider create(KeycloakSession session, ComponentModel model) {
        return new BackendUserStorageProvider(session, model, new BackendClient(HttpClients.forComponent(model)));
    }

    @Override
    public void validateConfiguration(KeycloakSession session, RealmModel realm, ComponentModel config)
            throws ComponentValidationException {
        String base = BackendConfig.baseUrl(config);
        try {
            URI u = URI.create(base);
            if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null) {
                throw new ComponentValidationException("Backend base URL must be an http(s) URL");
            }
        } catch (IllegalArgumentException e) {
            throw new ComponentValidationException("Backend base URL is not a valid URL");
        }
        if (BackendConfig.apiToken(config).isEmpty()) {
            throw new ComponentValidationException("API client token is required");
        }
        for (String key : List.of(BackendConfig.CONNECT_TIMEOUT_MS, BackendConfig.READ_TIMEOUT_MS)) {
            String v = config.get(key);
            if (v != null && !v.isBlank() && BackendConfig.positiveInt(v, -1) <= 0) {
                throw new ComponentValidationException(key + " must be a positive integer (milliseconds)");
            }
        }
    }

    @Override
    public void close() {
        HttpClients.clear();
    }
}
