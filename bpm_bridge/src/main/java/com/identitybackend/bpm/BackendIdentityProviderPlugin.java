package com.identitybackend.bpm;

import static org.cibseven.bpm.engine.authorization.Authorization.ANY;
import static org.cibseven.bpm.engine.authorization.Authorization.AUTH_TYPE_GRANT;
import static org.cibseven.bpm.engine.authorization.Permissions.ALL;

import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.logging.Logger;
import org.cibseven.bpm.engine.AuthorizationService;
import org.cibseven.bpm.engine.ProcessEngine;
import org.cibseven.bpm.engine.authorization.Resource;
import org.cibseven.bpm.engine.authorization.Resources;
import org.cibseven.bpm.engine.impl.cfg.ProcessEngineConfigurationImpl;
import org.cibseven.bpm.engine.impl.cfg.ProcessEnginePlugin;
import org.cibseven.bpm.engine.impl.identity.IdentityProviderException;
import org.cibseven.bpm.engine.impl.identity.ReadOnlyIdentityProvider;
import org.cibseven.bpm.engine.impl.interceptor.Session;
import org.cibseven.bpm.engine.impl.interceptor.SessionFactory;
import org.cibseven.bpm.engine.impl.persistence.entity.AuthorizationEntity;

/**
 * The engine's users, groups and tenant come from the identity backend: a read-only identity
 * provider over its {@code /v1} API. The administrator group's members administer the engine (the
 * engine's admin groups, and with authorization on, ALL on every resource, as the engine's
 * administrator plugin grants).
 *
 * <p>The cache is shared by every engine command. With {@code eventsBrokerUrl} set, the backend's
 * user and group events drop what it holds about them ({@link CacheEvents}); {@link #invalidateUser},
 * {@link #invalidateGroup} and {@link #invalidateAll} do the same for code that embeds the engine.
 */
public class BackendIdentityProviderPlugin extends BridgeConfiguration implements ProcessEnginePlugin, SessionFactory {

    private static final Logger LOG = Logger.getLogger(BackendIdentityProviderPlugin.class.getName());

    private ResponseCache cache;
    private BackendHttp http;
    private CacheEvents events;

    @Override
    public void preInit(ProcessEngineConfigurationImpl engine) {
        validate();
        cache = new ResponseCache(cacheTtlSeconds, cacheMaxSize, System::nanoTime);
        http = new BackendHttp(this, cache);
        engine.setIdentityProviderSessionFactory(this);
        if (engine.getAdminGroups() == null) {
            engine.setAdminGroups(new ArrayList<>());
        }
        if (engine.getAdminUsers() == null) {
            engine.setAdminUsers(new ArrayList<>());
        }
        LOG.info(() -> "Users and groups of process engine " + engine.getProcessEngineName() + " come from " + http.base());
        if (eventsEnabled()) {
            events = new CacheEvents(this, cache, engine.getProcessEngineName());
            events.start();
        } else {
            LOG.info(() -> "No identity events (eventsBrokerUrl is not set): cached answers live " + cacheTtlSeconds + " s");
        }
    }

    @Override
    public void postInit(ProcessEngineConfigurationImpl engine) {
    }

    @Override
    public void postProcessEngineBuild(ProcessEngine processEngine) {
        ProcessEngineConfigurationImpl engine = (ProcessEngineConfigurationImpl) processEngine.getProcessEngineConfiguration();
        String groupId = administratorGroupId();
        if (groupId != null) {
            engine.getAdminGroups().add(groupId);
        }
        if (!blank(administratorUserId)) {
            engine.getAdminUsers().add(administratorUserId);
        }
        if (!engine.isAuthorizationEnabled()) {
            return;
        }
        AuthorizationService authorizations = processEngine.getAuthorizationService();
        for (Resource resource : Resources.values()) {
            if (groupId != null && authorizations.createAuthorizationQuery().groupIdIn(groupId)
                    .resourceType(resource).resourceId(ANY).count() == 0) {
                AuthorizationEntity grant = new AuthorizationEntity(AUTH_TYPE_GRANT);
                grant.setGroupId(groupId);
                grant.setResource(resource);
                grant.setResourceId(ANY);
                grant.addPermission(ALL);
                authorizations.saveAuthorization(grant);
            }
            if (!blank(administratorUserId) && authorizations.createAuthorizationQuery().userIdIn(administratorUserId)
                    .resourceType(resource).resourceId(ANY).count() == 0) {
                AuthorizationEntity grant = new AuthorizationEntity(AUTH_TYPE_GRANT);
                grant.setUserId(administratorUserId);
                grant.setResource(resource);
                grant.setResourceId(ANY);
                grant.addPermission(ALL);
                authorizations.saveAuthorization(grant);
            }
        }
    }

    /** The engine's id of the administrator group, which must exist in the backend. */
    private String administratorGroupId() {
        if (blank(administratorGroupName)) {
            return null;
        }
        String path = administratorGroupName.startsWith("/") ? administratorGroupName : "/" + administratorGroupName;
        JsonObject group = new BackendIdentityProvider(this, http).groupByPath(path);
        if (group == null) {
            throw new IdentityProviderException("The administrator group " + path + " is not a group of the identity backend at " + http.base());
        }
        return pathIsGroupId() ? path : group.get("id").getAsString();
    }

    @Override
    public Class<?> getSessionType() {
        return ReadOnlyIdentityProvider.class;
    }

    @Override
    public Session openSession() {
        return new BackendIdentityProvider(this, http);
    }

    /** Forget what the cache holds about this user (the engine's id of it) and every search. */
    public void invalidateUser(String userId) {
        cache.invalidateUser(userId);
    }

    /** Forget what the cache holds about this group (the engine's id of it) and every search. */
    public void invalidateGroup(String groupId) {
        cache.invalidateGroup(groupId);
    }

    public void invalidateAll() {
        cache.invalidateAll();
    }

    /** Whether the backend's events are being received now (false when they are off). */
    public boolean eventsListening() {
        return events != null && events.listening();
    }

    /**
     * Stops receiving events. The engine has no close hook for plugins: code that closes an engine
     * and goes on in the same JVM calls this (the listener's threads are daemons, so it never keeps
     * a JVM alive).
     */
    public void stopEvents() {
        if (events != null) {
            events.close();
        }
    }
}
