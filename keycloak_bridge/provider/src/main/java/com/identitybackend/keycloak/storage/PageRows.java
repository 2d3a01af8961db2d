package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendUser;
import jakarta.persistence.EntityManager;
import org.keycloak.connections.jpa.JpaConnectionProvider;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.jpa.entities.UserEntity;

import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

import static com.identitybackend.keycloak.storage.SessionUsers.lower;

/**
 * What Keycloak's database holds for a page of backend users, asked in one query instead of two
 * per user (a row by id, a holder of its username): the rows found stay in the persistence
 * context, so {@link LocalRows}' lookups of them cost no further query, and the ids and usernames
 * no row holds are remembered as such until a row takes them.
 */
final class PageRows {

    /** The query's bind lists stay small (a backend page is at most this long anyway). */
    static final int CHUNK = 100;

    private final KeycloakSession session;
    private final Set<String> absentIds = new HashSet<>();
    private final Set<String> freeUsernames = new HashSet<>();

    PageRows(KeycloakSession session) {
        this.session = session;
    }

    /**
     * One query per {@link #CHUNK} users: which of their ids and (lower-cased) usernames have rows.
     * Returns the other rows that hold one of these usernames (id to federation link): rows whose
     * users were renamed or deleted in the backend, which the page's import must move aside.
     */
    Map<String, String> load(RealmModel realm, Collection<BackendUser> users) {
        List<BackendUser> page = users.stream().filter(Objects::nonNull).toList();
        Map<String, String> holders = new LinkedHashMap<>();
        for (int from = 0; from < page.size(); from += CHUNK) {
            List<BackendUser> chunk = page.subList(from, Math.min(page.size(), from + CHUNK));
            Set<String> ids = new LinkedHashSet<>();
            Set<String> names = new LinkedHashSet<>();
            for (BackendUser u : chunk) {
                ids.add(u.getId());
                if (u.getUsername() != null) {
                    names.add(lower(u.getUsername()));
                }
            }
            if (names.isEmpty()) {
                names.add(""); // an empty IN list is not valid JPQL; no row has an empty username
            }
            List<UserEntity> found = entityManager().createQuery(
                            "SELECT u FROM UserEntity u WHERE u.realmId = :realm AND (u.id IN :ids OR u.username IN :names)",
                            UserEntity.class)
                    .setParameter("realm", realm.getId()).setParameter("ids", ids).setParameter("names", names)
                    .getResultList();
            absentIds.addAll(ids);
            freeUsernames.addAll(names);
            for (UserEntity e : found) {
                absentIds.remove(e.getId());
                freeUsernames.remove(e.getUsername());
                if (!ids.contains(e.getId())) {
                    holders.put(e.getId(), e.getFederationLink());
                }
            }
        }
        return holders;
    }

    /** Known to have no row in this realm (a lookup by id would find none). */
    boolean isAbsent(String id) {
        return absentIds.contains(id);
    }

    /** Known to be held by no row in this realm. */
    boolean isFree(String username) {
        return username != null && freeUsernames.contains(username);
    }

    /** A row now holds this id and username: ask the database again from here on. */
    void taken(String id, String username) {
        absentIds.remove(id);
        freeUsernames.remove(username);
    }

    private EntityManager entityManager() {
        return session.getProvider(JpaConnectionProvider.class).getEntityManager();
    }
}
