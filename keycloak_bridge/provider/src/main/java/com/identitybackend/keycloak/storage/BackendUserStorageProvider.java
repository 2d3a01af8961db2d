package com.identitybackend.keycloak.storage;

import com.identitybackend.keycloak.client.BackendClient;
import com.identitybackend.keycloak.client.BackendException;
import com.identitybackend.keycloak.client.BackendGroup;
import com.identitybackend.keycloak.client.BackendHttp;
import com.identitybackend.keycloak.client.BackendUser;
import com.identitybackend.keycloak.client.LocalMatcher;
import com.identitybackend.keycloak.client.LocalRow;
import com.identitybackend.keycloak.client.Page;
import com.identitybackend.keycloak.client.PasswordCheck;
import com.identitybackend.keycloak.client.ResultPager;
import com.identitybackend.keycloak.client.SearchParams;
import com.identitybackend.keycloak.client.UserField;
import org.jboss.logging.Logger;
import org.keycloak.component.ComponentModel;
import org.keycloak.credential.CredentialInput;
import org.keycloak.credential.CredentialInputUpdater;
import org.keycloak.credential.CredentialInputValidator;
import org.keycloak.models.GroupModel;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.ModelDuplicateException;
import org.keycloak.models.ModelException;
import org.keycloak.models.ModelValidationException;
import org.keycloak.models.RealmModel;
import org.keycloak.models.UserModel;
import org.keycloak.models.UserProvider;
import org.keycloak.models.credential.PasswordCredentialModel;
import org.keycloak.models.utils.KeycloakModelUtils;
import org.keycloak.storage.StorageId;
import org.keycloak.storage.UserStoragePrivateUtil;
import org.keycloak.storage.UserStorageProvider;
import org.keycloak.storage.user.ImportedUserValidation;
import org.keycloak.storage.user.UserLookupProvider;
import org.keycloak.storage.user.UserQueryProvider;
import org.keycloak.storage.user.UserRegistrationProvider;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * User storage backed by the backend's {@code /v1} API, in import mode: Keycloak keeps, per user, a
 * minimal local row (id = backend UUID, username, federation link) so that the Keycloak user id,
 * and therefore every token's {@code sub}, is the backend UUID. Every field is read from and
 * written to the backend through {@link BackendUserAdapter}. See README.md for the design.
 *
 * <p>One instance lives for one Keycloak session (request); it caches each backend user it has
 * fetched so the same user is fetched at most once per request.
 */
public class BackendUserStorageProvider implements UserStorageProvider, UserLookupProvider, UserQueryProvider,
        UserRegistrationProvider, CredentialInputValidator, CredentialInputUpdater, ImportedUserValidation {

    private static final Logger LOG = Logger.getLogger(BackendUserStorageProvider.class);

    /** Page size used when walking backend results that must be de-duplicated against local rows. */
    static final int SCAN_BATCH = 100;
    /** Upper bound on results for calls without a maximum (Keycloak passes null for "all"). */
    static final int UNBOUNDED_CAP = 10_000;

    private final KeycloakSession session;
    private final ComponentModel model;
    private final BackendClient client;

    private final Map<String, UserState> byId = new HashMap<>();
    private final Set<String> missingIds = new HashSet<>();
    private final Map<String, String> idByUsername = new HashMap<>();
    private final Map<String, String> idByEmail = new HashMap<>();
    private final Map<String, Optional<BackendGroup>> groupsByPath = new HashMap<>();
    /** Local rows as they were before this session changed them (used for search de-duplication). */
    private final Map<String, LocalRow> localSnapshots = new HashMap<>();
    private boolean flushEnlisted;

    public BackendUserStorageProvider(KeycloakSession session, ComponentModel model, BackendClient client) {
        this.session = session;
        this.model = model;
        this.client = client;
    }

    BackendClient client() {
        return client;
    }

    KeycloakSession session() {
        return session;
    }

    ComponentModel model() {
        return model;
    }

    private UserProvider local() {
        return UserStoragePrivateUtil.userLocalStorage(session);
    }

    @Override
    public void close() {
    }

    // ================================================================== backend reads (session cache)

    /** The backend user with this id, fetched at most once per session. */
    UserState loadById(String id) {
        UserState s = byId.get(id);
        if (s != null) {
            return s;
        }
        if (missingIds.contains(id) || !BackendHttp.isUuid(id)) {
            return null;
        }
        Optional<BackendUser> u = client.getUser(id);
        if (u.isEmpty()) {
            missingIds.add(id);
            return null;
        }
        return remember(u.get());
    }

    /** Records a backend answer in the session cache (keeping this transaction's pending changes). */
    UserState remember(BackendUser u) {
        UserState s = byId.get(u.getId());
        if (s == null) {
            s = new UserState(u);
            byId.put(u.getId(), s);
        } else if (!s.pendingCreate) {
            s.base = u;
        }
        missingIds.remove(u.getId());
        index(s.view());
        return s;
    }

    private void index(BackendUser v) {
        if (v.getUsername() != null) {
            idByUsername.put(v.getUsername().toLowerCase(Locale.ROOT), v.getId());
        }
        if (v.getEmail() != null) {
            idByEmail.put(v.getEmail().toLowerCase(Locale.ROOT), v.getId());
        }
    }

    Optional<BackendGroup> groupByPath(String path) {
        return groupsByPath.computeIfAbsent(path, client::findGroupByPath);
    }

    // ================================================================== import (minimal local rows)

    /**
     * The Keycloak view of a backend user: finds or creates its minimal local row (id = backend id)
     * and wraps it. Returns null when the id or username is taken by a local user this provider does
     * not own.
     */
    UserModel imported(RealmModel realm, UserState state) {
        BackendUser v = state.view();
        UserProvider local = local();
        UserModel row = local.getUserById(realm, v.getId());
        String username = lower(v.getUsername());
        if (row == null) {
            if (!freeUsername(realm, username, v.getId())) {
                return null;
            }
            row = local.addUser(realm, v.getId(), username, false, false);
            row.setFederationLink(model.getId());
            row.setEnabled(true);
            LOG.debugf("imported backend user %s (%s)", v.getId(), username);
        } else {
            String link = row.getFederationLink();
            if (link == null) {
                // a Keycloak user migrated to the backend with its id: adopt it
                snapshot(row);
                row.setFederationLink(model.getId());
            } else if (!link.equals(model.getId())) {
                LOG.warnf("backend user %s exists in Keycloak linked to another storage (%s); skipped", v.getId(), link);
                return null;
            }
            syncLocalUsername(realm, row, username);
        }
        return new BackendUserAdapter(this, realm, row, state);
    }

    /** Keeps the local username equal to the backend's (Keycloak's local-first lookups use it). */
    void syncLocalUsername(RealmModel realm, UserModel row, String username) {
        if (username == null || username.equals(row.getUsername())) {
            return;
        }
        if (!freeUsername(realm, username, row.getId())) {
            return;
        }
        snapshot(row);
        row.setUsername(username);
    }

    /**
     * Makes sure no other local row holds {@code username}: a stale row of ours is renamed to its
     * current backend username or removed when the backend no longer has it.
     */
    private boolean freeUsername(RealmModel realm, String username, String ownerId) {
        UserModel other = local().getUserByUsername(realm, username);
        if (other == null || other.getId().equals(ownerId)) {
            return true;
        }
        if (!model.getId().equals(other.getFederationLink())) {
            LOG.warnf("username '%s' of backend user %s is used by Keycloak user %s not managed by this provider",
                    username, ownerId, other.getId());
            return false;
        }
        UserState otherState = loadById(other.getId());
        if (otherState == null) {
            LOG.debugf("removing local row of deleted backend user %s", other.getId());
            local().removeUser(realm, other);
            return true;
        }
        String otherName = lower(otherState.view().getUsername());
        if (otherName == null || otherName.equals(username)) {
            LOG.warnf("backend users %s and %s both claim username '%s'", ownerId, other.getId(), username);
            return false;
        }
        if (local().getUserByUsername(realm, otherName) != null) {
            return false;
        }
        snapshot(other);
        other.setUsername(otherName);
        return true;
    }

    private void snapshot(UserModel row) {
        localSnapshots.computeIfAbsent(row.getId(), id -> toLocalRow(row, true));
    }

    private static LocalRow toLocalRow(UserModel row, boolean withAttributes) {
        Map<String, List<String>> attrs = Map.of();
        if (withAttributes) {
            attrs = new LinkedHashMap<>(row.getAttributes());
            attrs.keySet().removeAll(List.of(UserModel.USERNAME, UserModel.EMAIL, UserModel.FIRST_NAME, UserModel.LAST_NAME));
        }
        return new LocalRow(row.getUsername(), row.getEmail(), row.getFirstName(), row.getLastName(),
                row.isEnabled(), row.isEmailVerified(), attrs);
    }

    static String lower(String s) {
        return s == null ? null : s.toLowerCase(Locale.ROOT);
    }

    // ================================================================== ImportedUserValidation

    @Override
    public UserModel validate(RealmModel realm, UserModel local) {
        if (local instanceof BackendUserAdapter adapter) {
            return adapter; // already validated in this session (Keycloak validates search results twice)
        }
        UserState state = loadById(local.getId());
        if (state == null) {
            return null; // gone from the backend: Keycloak removes the local row
        }
        syncLocalUsername(realm, local, lower(state.view().getUsername()));
        return new BackendUserAdapter(this, realm, local, state);
    }

    // ================================================================== UserLookupProvider

    @Override
    public UserModel getUserById(RealmModel realm, String id) {
        String backendId = StorageId.externalId(id);
        UserState s = loadById(backendId);
        return s == null ? null : imported(realm, s);
    }

    @Override
    public UserModel getUserByUsername(RealmModel realm, String username) {
        if (username == null || username.isEmpty()) {
            return null;
        }
        String cachedId = idByUsername.get(lower(username));
        UserState s = cachedId == null ? null : byId.get(cachedId);
        if (s == null) {
            Optional<BackendUser> u = client.findByUsername(username);
            if (u.isEmpty()) {
                return null;
            }
            s = remember(u.get());
        }
        return imported(realm, s);
    }

    @Override
    public UserModel getUserByEmail(RealmModel realm, String email) {
        if (email == null || email.isEmpty()) {
            return null;
        }
        String cachedId = idByEmail.get(lower(email));
        UserState s = cachedId == null ? null : byId.get(cachedId);
        if (s == null) {
            Optional<BackendUser> u = client.findByEmail(email);
            if (u.isEmpty()) {
                return null;
            }
            s = remember(u.get());
        }
        return imported(realm, s);
    }

    // ================================================================== UserQueryProvider

    @Override
    public Stream<UserModel> searchForUserStream(RealmModel realm, Map<String, String> params, Integer firstResult,
                                                 Integer maxResults) {
        Map<String, String> filters = SearchParams.toBackendFilters(params);
        if (filters == null) {
            return Stream.empty();
        }
        int first = firstResult == null || firstResult < 0 ? 0 : firstResult;
        int max = maxResults == null || maxResults < 0 ? UNBOUNDED_CAP : Math.min(maxResults, UNBOUNDED_CAP);
        if (max == 0) {
            return Stream.empty();
        }
        UserState known = first == 0 ? knownExactMatch(filters) : null;
        if (known != null) {
            // Validating the local row's match fetched this user in this request; usernames and
            // e-mails are unique in the backend, so nobody else can match: no second call.
            BackendUser v = known.view();
            return returnedByLocalSearch(realm, params, v.getId()) ? Stream.empty()
                    : Stream.ofNullable(imported(realm, known));
        }
        boolean passThrough = !LocalMatcher.mayMatchMinimalRows(params);
        List<BackendUser> page = ResultPager.collect(
                (offset, want) -> client.search(filters, offset, want),
                u -> returnedByLocalSearch(realm, params, u.getId()),
                first, max, passThrough, SCAN_BATCH);
        List<UserModel> out = new ArrayList<>();
        page.forEach(u -> addImported(realm, u, out));
        return out.stream();
    }

    /** The user this request already knows for an exact username or e-mail lookup, if any. */
    private UserState knownExactMatch(Map<String, String> filters) {
        if (filters.size() != 2 || !"true".equals(filters.get("exact"))) {
            return null;
        }
        boolean byUsername = filters.containsKey("username");
        if (!byUsername && !filters.containsKey("email")) {
            return null;
        }
        String value = lower(filters.get(byUsername ? "username" : "email"));
        String id = (byUsername ? idByUsername : idByEmail).get(value);
        UserState s = id == null ? null : byId.get(id);
        if (s == null || s.pendingCreate) {
            return null;
        }
        BackendUser v = s.view();
        return value.equals(lower(byUsername ? v.getUsername() : v.getEmail())) ? s : null;
    }

    private void addImported(RealmModel realm, BackendUser u, List<UserModel> out) {
        UserModel m = imported(realm, remember(u));
        if (m != null) {
            out.add(m);
        }
    }

    /** Did Keycloak's own database search (run before this provider's) already return this user? */
    private boolean returnedByLocalSearch(RealmModel realm, Map<String, String> params, String id) {
        LocalRow row = localSnapshots.get(id);
        if (row == null) {
            UserModel local = local().getUserById(realm, id);
            if (local == null) {
                return false;
            }
            boolean needsAttributes = params.keySet().stream()
                    .anyMatch(k -> !SearchParams.isKeycloakKey(k) && UserField.byKeycloakName(k) == null);
            row = toLocalRow(local, needsAttributes);
        }
        return LocalMatcher.matches(params, row);
    }

    @Override
    public Stream<UserModel> getGroupMembersStream(RealmModel realm, GroupModel group, Integer firstResult,
                                                   Integer maxResults) {
        Optional<BackendGroup> g = groupByPath(KeycloakModelUtils.buildGroupPath(group));
        if (g.isEmpty()) {
            return Stream.empty();
        }
        int first = firstResult == null || firstResult < 0 ? 0 : firstResult;
        int max = maxResults == null || maxResults < 0 ? UNBOUNDED_CAP : Math.min(maxResults, UNBOUNDED_CAP);
        List<UserModel> out = new ArrayList<>();
        while (out.size() < max) {
            int want = max - out.size();
            Page<BackendUser> page = client.groupMembers(g.get().id(), first, want);
            page.results().forEach(u -> addImported(realm, u, out));
            if (page.results().isEmpty() || !page.hasNext()) {
                break;
            }
            first += page.results().size();
        }
        return out.stream();
    }

    @Override
    public Stream<UserModel> searchForUserByUserAttributeStream(RealmModel realm, String attrName, String attrValue) {
        if (attrName == null || attrValue == null) {
            return Stream.empty();
        }
        Map<String, String> filters = SearchParams.forAttribute(attrName, attrValue);
        List<UserModel> out = new ArrayList<>();
        int offset = 0;
        while (offset < UNBOUNDED_CAP) {
            Page<BackendUser> page = client.search(filters, offset, SCAN_BATCH);
            page.results().forEach(u -> addImported(realm, u, out));
            if (page.results().isEmpty() || !page.hasNext()) {
                break;
            }
            offset += page.results().size();
        }
        return out.stream();
    }

    // ---------------------------------------------------------------- counts: always the backend's :count

    @Override
    public int getUsersCount(RealmModel realm, boolean includeServiceAccount) {
        // Keycloak adds its local count to ours; subtract the local rows that stand for backend users.
        int backend = client.count(Map.of(), null);
        int localRows = local().getUsersCount(realm, false);
        return Math.max(0, backend - localRows);
    }

    @Override
    public int getUsersCount(RealmModel realm) {
        return getUsersCount(realm, false);
    }

    @Override
    public int getUsersCount(RealmModel realm, Map<String, String> params) {
        Map<String, String> filters = SearchParams.toBackendFilters(params);
        if (filters == null) {
            return 0;
        }
        int backend = client.count(filters, null);
        if (!LocalMatcher.mayMatchMinimalRows(params)) {
            return backend;
        }
        // Keycloak counts its own matching rows too (they are the same users): report the rest.
        return Math.max(0, backend - local().getUsersCount(realm, params));
    }

    @Override
    public int getUsersCount(RealmModel realm, Map<String, String> params, Set<String> groupIds) {
        if (groupIds == null || groupIds.isEmpty()) {
            return 0;
        }
        Map<String, String> filters = SearchParams.toBackendFilters(params);
        if (filters == null) {
            return 0;
        }
        // Group memberships of backend users live only in the backend: Keycloak's own count is 0 for them.
        return client.count(filters, groupPaths(realm, groupIds));
    }

    @Override
    public int getUsersCount(RealmModel realm, Set<String> groupIds) {
        return getUsersCount(realm, Map.of(), groupIds);
    }

    @Override
    public int getUsersCount(RealmModel realm, String search) {
        Map<String, String> params = new HashMap<>();
        params.put(UserModel.SEARCH, search == null ? "" : search);
        return getUsersCount(realm, params);
    }

    @Override
    public int getUsersCount(RealmModel realm, String search, Set<String> groupIds) {
        Map<String, String> params = new HashMap<>();
        params.put(UserModel.SEARCH, search == null ? "" : search);
        return getUsersCount(realm, params, groupIds);
    }

    private List<String> groupPaths(RealmModel realm, Set<String> groupIds) {
        return groupIds.stream()
                .map(realm::getGroupById)
                .filter(Objects::nonNull)
                .map(KeycloakModelUtils::buildGroupPath)
                .collect(Collectors.toList());
    }

    // ================================================================== UserRegistrationProvider

    @Override
    public UserModel addUser(RealmModel realm, String username) {
        String name = lower(username);
        if (idByUsername.containsKey(name) || client.findByUsername(username).isPresent()) {
            throw new ModelDuplicateException("User exists with same username");
        }
        String id = BackendClient.newUserId();
        if (!freeUsername(realm, name, id)) {
            throw new ModelDuplicateException("User exists with same username");
        }
        UserModel row = local().addUser(realm, id, name, false, false);
        row.setFederationLink(model.getId());
        BackendUser blank = BackendUser.blank(id, username);
        UserState state = new UserState(blank);
        state.pendingCreate = true;
        byId.put(id, state);
        index(blank);
        changed(state);
        return new BackendUserAdapter(this, realm, row, state);
    }

    @Override
    public boolean removeUser(RealmModel realm, UserModel user) {
        UserState s = byId.get(user.getId());
        if (s != null && s.pendingCreate) {
            byId.remove(user.getId());
            return true;
        }
        byId.remove(user.getId());
        missingIds.add(user.getId());
        try {
            client.deleteUser(user.getId());
        } catch (BackendException e) {
            throw toModelException(e);
        }
        return true;
    }

    // ================================================================== credentials (backend only)

    @Override
    public boolean supportsCredentialType(String credentialType) {
        return PasswordCredentialModel.TYPE.equals(credentialType);
    }

    @Override
    public boolean isConfiguredFor(RealmModel realm, UserModel user, String credentialType) {
        return supportsCredentialType(credentialType);
    }

    @Override
    public boolean isValid(RealmModel realm, UserModel user, CredentialInput input) {
        if (!supportsCredentialType(input.getType()) || input.getChallengeResponse() == null) {
            return false;
        }
        UserState s = byId.get(user.getId());
        if (s != null && s.pendingCreate) {
            return false;
        }
        try {
            PasswordCheck r = client.verifyPassword(user.getId(), input.getChallengeResponse());
            if (r == PasswordCheck.THROTTLED) {
                LOG.infof("password check for user %s throttled by the backend", user.getId());
            }
            return r == PasswordCheck.VALID;
        } catch (BackendException e) {
            LOG.warnf("password check for user %s failed: %s", user.getId(), e);
            return false;
        }
    }

    @Override
    public boolean updateCredential(RealmModel realm, UserModel user, CredentialInput input) {
        if (!supportsCredentialType(input.getType())) {
            return false;
        }
        String password = input.getChallengeResponse();
        UserState s = byId.get(user.getId());
        if (s != null && s.pendingCreate) {
            s.pendingPassword = password;
            return true;
        }
        try {
            client.setPassword(user.getId(), password);
        } catch (BackendException e) {
            throw toModelException(e);
        }
        return true;
    }

    @Override
    public void disableCredentialType(RealmModel realm, UserModel user, String credentialType) {
        // passwords cannot be disabled from Keycloak; the backend owns them
    }

    @Override
    public Stream<String> getDisableableCredentialTypesStream(RealmModel realm, UserModel user) {
        return Stream.empty();
    }

    // ================================================================== writes: collected, flushed once

    /** Called by adapters whenever a user changes; enlists the single end-of-transaction flush. */
    void changed(UserState state) {
        index(state.view());
        if (!flushEnlisted) {
            flushEnlisted = true;
            session.getTransactionManager().enlistPrepare(new BackendFlushTransaction(this));
        }
    }

    /** Sends every pending change: one POST or PATCH per user, then role and group membership calls. */
    void flush() {
        try {
            for (UserState s : new ArrayList<>(byId.values())) {
                if (!s.isDirty()) {
                    continue;
                }
                BackendUser v = s.view();
                BackendUser saved;
                if (s.pendingCreate) {
                    saved = client.createUser(createBody(v, s.pendingPassword));
                } else if (!s.patch.isEmpty()) {
                    saved = client.patchUser(s.id(), s.patch.toBody());
                } else {
                    saved = s.base;
                }
                for (String role : s.rolesToRemove) {
                    client.removeRole(s.id(), role);
                }
                for (String role : s.rolesToAdd) {
                    client.addRole(s.id(), role);
                }
                for (String path : s.groupsToRemove) {
                    Optional<BackendGroup> g = groupByPath(path);
                    if (g.isPresent()) {
                        client.removeGroup(s.id(), g.get().id());
                    }
                }
                for (String path : s.groupsToAdd) {
                    BackendGroup g = groupByPath(path).orElseThrow(() ->
                            new ModelException("Group " + path + " does not exist in the identity backend"));
                    client.addGroup(s.id(), g.id());
                }
                s.clearChanges();
                s.base = saved.withMemberships(v.getRoles(), v.getGroups());
            }
        } catch (BackendException e) {
            throw toModelException(e);
        } finally {
            flushEnlisted = false;
        }
    }

    void discardChanges() {
        byId.values().removeIf(s -> s.pendingCreate);
        byId.values().forEach(UserState::clearChanges);
        flushEnlisted = false;
    }

    static Map<String, Object> createBody(BackendUser v, String password) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", v.getId());
        body.put("username", v.getUsername());
        if (v.getEmail() != null) {
            body.put("email", v.getEmail());
        }
        body.put("first_name", v.getFirstName() == null ? "" : v.getFirstName());
        body.put("last_name", v.getLastName() == null ? "" : v.getLastName());
        body.put("enabled", v.isEnabled());
        body.put("email_verified", v.isEmailVerified());
        if (v.getPhoneNumber() != null) {
            body.put("phone_number", v.getPhoneNumber());
        }
        body.put("phone_verified", v.isPhoneVerified());
        if (!v.getAttributes().isEmpty()) {
            body.put("attributes", v.getAttributes());
        }
        if (password != null) {
            body.put("password", password);
        }
        return body;
    }

    static ModelException toModelException(BackendException e) {
        if (e.isConflict()) {
            String field = e.getFields().keySet().stream().findFirst().orElse("");
            String msg = field.contains("email") ? "User exists with same email" : "User exists with same username";
            return new ModelDuplicateException(msg, e);
        }
        StringBuilder detail = new StringBuilder("Identity backend refused the change");
        if (!e.getFields().isEmpty()) {
            e.getFields().forEach((field, messages) ->
                    detail.append(detail.indexOf(":") < 0 ? ": " : "; ").append(field).append(" ")
                            .append(String.join(", ", messages)));
        } else if (e.getMessage() != null) {
            detail.append(": ").append(e.getMessage());
        }
        // Keycloak formats admin error messages with MessageFormat: keep braces and quotes out
        String message = detail.toString().replaceAll("[{}']", "");
        if (e.getStatus() == 400) {
            ModelValidationException invalid = new ModelValidationException(message);
            invalid.initCause(e);
            return invalid; // answered as 400 by Keycloak's error handler
        }
        return new ModelException(message, e);
    }
}
