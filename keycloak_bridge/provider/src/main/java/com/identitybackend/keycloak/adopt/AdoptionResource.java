package com.identitybackend.keycloak.adopt;

import com.identitybackend.keycloak.storage.Adoption;
import com.identitybackend.keycloak.storage.BackendUserStorageProviderFactory;
import jakarta.ws.rs.BadRequestException;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import org.jboss.logging.Logger;
import org.keycloak.component.ComponentModel;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.models.UserProvider;
import org.keycloak.models.credential.PasswordCredentialModel;
import org.keycloak.services.ErrorResponseException;
import org.keycloak.services.resources.admin.fgap.AdminPermissionEvaluator;
import org.keycloak.storage.UserStoragePrivateUtil;
import org.keycloak.storage.UserStorageProvider;

import jakarta.ws.rs.core.Response;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Cutover of a realm whose users lived in Keycloak: the backend, which now holds them under the same
 * ids, sends their ids in batches, and each Keycloak user among them becomes the identity-backend
 * component's row ({@link Adoption}). Requires the realm's manage-users and manage-realm rights.
 */
public class AdoptionResource {

    private static final Logger LOG = Logger.getLogger(AdoptionResource.class);
    static final int MAX_BATCH = 1000;

    private final KeycloakSession session;
    private final RealmModel realm;
    private final AdminPermissionEvaluator auth;

    AdoptionResource(KeycloakSession session, RealmModel realm, AdminPermissionEvaluator auth) {
        this.session = session;
        this.realm = realm;
        this.auth = auth;
    }

    /**
     * The ids to adopt, as the backend holds them, and when the export they were imported from began
     * (epoch milliseconds, optional).
     */
    public static class AdoptRequest {
        public List<String> ids;
        public Long exportedAt;
    }

    /**
     * Adopts the local users among {@code ids}. Answers counts, and by id the users it left alone:
     * {@code absent} (no Keycloak user with that id), {@code foreign} (linked to another storage),
     * {@code serviceAccounts}, and {@code passwordChanged}: a password set in Keycloak after
     * {@code exportedAt}, which the backend does not have (the user keeps logging in with it until a
     * later export is imported and this runs again). A user already linked counts as {@code already}.
     */
    @POST
    @Path("adopt")
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    public Map<String, Object> adopt(AdoptRequest request) {
        requireRights();
        if (request == null || request.ids == null || request.ids.size() > MAX_BATCH) {
            throw new BadRequestException("body must be {\"ids\": [...]} with at most " + MAX_BATCH + " ids");
        }
        String componentId = component().getId();
        UserProvider local = UserStoragePrivateUtil.userLocalStorage(session);
        int adopted = 0;
        int already = 0;
        List<String> absent = new ArrayList<>();
        List<String> foreign = new ArrayList<>();
        List<String> serviceAccounts = new ArrayList<>();
        List<String> passwordChanged = new ArrayList<>();
        for (String id : request.ids) {
            UserModel row = id == null ? null : local.getUserById(realm, id);
            if (row == null) {
                absent.add(id);
            } else if (componentId.equals(row.getFederationLink())) {
                already++;
            } else if (row.getFederationLink() != null) {
                foreign.add(id);
            } else if (row.getServiceAccountClientLink() != null) {
                serviceAccounts.add(id);
            } else if (request.exportedAt != null && passwordSetAfter(row, request.exportedAt)) {
                passwordChanged.add(id);
            } else {
                Adoption.adopt(session, realm, row, componentId);
                adopted++;
            }
        }
        LOG.infof("realm %s: adopted %d users into %s (%d already, %d absent, %d foreign, %d changed password)",
                realm.getName(), adopted, componentId, already, absent.size(), foreign.size(), passwordChanged.size());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("componentId", componentId);
        out.put("adopted", adopted);
        out.put("already", already);
        out.put("absent", absent);
        out.put("foreign", foreign);
        out.put("serviceAccounts", serviceAccounts);
        out.put("passwordChanged", passwordChanged);
        return out;
    }

    private static boolean passwordSetAfter(UserModel row, long moment) {
        return row.credentialManager().getStoredCredentialsByTypeStream(PasswordCredentialModel.TYPE)
                .anyMatch(c -> c.getCreatedDate() != null && c.getCreatedDate() > moment);
    }

    /**
     * One page of Keycloak's own users (by username, service accounts left out) and, among them, those
     * still without a federation link: the users the backend does not hold. {@code scanned} below
     * {@code max} means the last page.
     */
    @GET
    @Path("unlinked")
    @Produces(MediaType.APPLICATION_JSON)
    public Map<String, Object> unlinked(@QueryParam("first") @DefaultValue("0") int first,
                                        @QueryParam("max") @DefaultValue("500") int max) {
        requireRights();
        if (first < 0 || max < 1 || max > MAX_BATCH) {
            throw new BadRequestException("first must be >= 0 and max between 1 and " + MAX_BATCH);
        }
        UserProvider local = UserStoragePrivateUtil.userLocalStorage(session);
        List<UserModel> page = local.searchForUserStream(realm, Map.of(UserModel.INCLUDE_SERVICE_ACCOUNT, "false"),
                first, max).toList();
        List<Map<String, String>> users = page.stream().filter(u -> u.getFederationLink() == null)
                .map(u -> Map.of("id", u.getId(), "username", u.getUsername())).toList();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("scanned", page.size());
        out.put("users", users);
        return out;
    }

    private void requireRights() {
        auth.users().requireManage();
        auth.realm().requireManageRealm();
    }

    private ComponentModel component() {
        return realm.getComponentsStream(realm.getId(), UserStorageProvider.class.getName())
                .filter(c -> BackendUserStorageProviderFactory.PROVIDER_ID.equals(c.getProviderId()))
                .findFirst()
                .orElseThrow(() -> new ErrorResponseException("no_component",
                        "realm " + realm.getName() + " has no identity-backend user storage component",
                        Response.Status.CONFLICT));
    }
}
