package com.identitybackend.bpm;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import org.cibseven.bpm.engine.BadUserRequestException;
import org.cibseven.bpm.engine.identity.Group;
import org.cibseven.bpm.engine.identity.GroupQuery;
import org.cibseven.bpm.engine.identity.NativeUserQuery;
import org.cibseven.bpm.engine.identity.Tenant;
import org.cibseven.bpm.engine.identity.TenantQuery;
import org.cibseven.bpm.engine.identity.User;
import org.cibseven.bpm.engine.identity.UserQuery;
import org.cibseven.bpm.engine.impl.Page;
import org.cibseven.bpm.engine.impl.context.Context;
import org.cibseven.bpm.engine.impl.identity.ReadOnlyIdentityProvider;
import org.cibseven.bpm.engine.impl.interceptor.CommandContext;
import org.cibseven.bpm.engine.impl.persistence.entity.GroupEntity;
import org.cibseven.bpm.engine.impl.persistence.entity.TenantEntity;
import org.cibseven.bpm.engine.impl.persistence.entity.UserEntity;

/**
 * The engine's read-only identity provider, one per engine command, over the shared HTTP client
 * and cache. Every query is one backend search with its filters, order and page; a page larger
 * than the backend's (1000) walks the backend's pages.
 */
public class BackendIdentityProvider implements ReadOnlyIdentityProvider {

    static final int BACKEND_PAGE = 1000;

    private final BridgeConfiguration configuration;
    private final BackendHttp http;

    public BackendIdentityProvider(BridgeConfiguration configuration, BackendHttp http) {
        this.configuration = configuration;
        this.http = http;
    }

    // --- users --------------------------------------------------------------------------------

    @Override
    public User findUserById(String userId) {
        JsonObject user = backendUser(userId);
        return user == null ? null : toUser(user);
    }

    /** The backend's user the engine calls {@code userId}, or null. */
    JsonObject backendUser(String userId) {
        if (userId == null) {
            return null;
        }
        if (configuration.usernameIsUserId()) {
            JsonObject page = http.get(new QueryString().add("username", userId).add("exact", "true")
                .on("/users:search"), BackendIdentityProvider::userTags);
            List<JsonObject> results = results(page);
            return results.isEmpty() ? null : results.get(0);
        }
        return Translation.isUuid(userId) ? http.get("/users/" + userId, BackendIdentityProvider::userTags) : null;
    }

    @Override
    public UserQuery createUserQuery() {
        return new BackendUserQuery(Context.getProcessEngineConfiguration().getCommandExecutorTxRequired());
    }

    @Override
    public UserQuery createUserQuery(CommandContext commandContext) {
        return new BackendUserQuery();
    }

    @Override
    public NativeUserQuery createNativeUserQuery() {
        throw new BadUserRequestException("Native user queries are not supported: users come from the identity backend");
    }

    public long countUsers(BackendUserQuery query) {
        return Translation.users(query, configuration)
            .map(params -> count(params.on("/users:count")))
            .orElse(0L);
    }

    public List<User> findUsers(BackendUserQuery query, Page page) {
        Optional<QueryString> params = Translation.users(query, configuration);
        if (params.isEmpty()) {
            return List.of();
        }
        QueryString ordered = params.get().copy().add("order", Translation.userOrder(query.getOrderingProperties(), configuration));
        List<User> users = new ArrayList<>();
        for (JsonObject user : list("/users:search", ordered, page, query.getFirstResult(), query.getMaxResults(),
                BackendIdentityProvider::userTags)) {
            users.add(toUser(user));
        }
        return users;
    }

    @Override
    public boolean checkPassword(String userId, String password) {
        if (password == null || password.isEmpty()) {
            return false;
        }
        JsonObject user = backendUser(userId);
        if (user == null) {
            return false;
        }
        JsonObject body = new JsonObject();
        body.addProperty("password", password);
        JsonObject answer = http.post("/users/" + string(user, "id") + "/credentials:verify", body);
        return answer != null && answer.has("valid") && answer.get("valid").getAsBoolean();
    }

    // --- groups -------------------------------------------------------------------------------

    @Override
    public Group findGroupById(String groupId) {
        if (groupId == null) {
            return null;
        }
        JsonObject group;
        if (configuration.pathIsGroupId()) {
            group = groupByPath(groupId);
        } else {
            group = Translation.isUuid(groupId) ? http.get("/groups/" + groupId, BackendIdentityProvider::groupTags) : null;
        }
        return group == null ? null : toGroup(group);
    }

    JsonObject groupByPath(String path) {
        List<JsonObject> results = results(http.get(new QueryString().add("path", path).on("/groups"),
            BackendIdentityProvider::groupTags));
        return results.isEmpty() ? null : results.get(0);
    }

    @Override
    public GroupQuery createGroupQuery() {
        return new BackendGroupQuery(Context.getProcessEngineConfiguration().getCommandExecutorTxRequired());
    }

    @Override
    public GroupQuery createGroupQuery(CommandContext commandContext) {
        return new BackendGroupQuery();
    }

    public long countGroups(BackendGroupQuery query) {
        return Translation.groups(query, configuration, this::backendUserId)
            .map(params -> count(params.on("/groups:count")))
            .orElse(0L);
    }

    public List<Group> findGroups(BackendGroupQuery query, Page page) {
        Optional<QueryString> params = Translation.groups(query, configuration, this::backendUserId);
        if (params.isEmpty()) {
            return List.of();
        }
        QueryString ordered = params.get().copy().add("order", Translation.groupOrder(query.getOrderingProperties(), configuration));
        List<Group> groups = new ArrayList<>();
        for (JsonObject group : list("/groups", ordered, page, query.getFirstResult(), query.getMaxResults(),
                BackendIdentityProvider::groupTags)) {
            groups.add(toGroup(group));
        }
        return groups;
    }

    private String backendUserId(String userId) {
        if (!configuration.usernameIsUserId()) {
            return Translation.isUuid(userId) ? userId : null;
        }
        JsonObject user = backendUser(userId);
        return user == null ? null : string(user, "id");
    }

    // --- tenants ------------------------------------------------------------------------------

    @Override
    public Tenant findTenantById(String tenantId) {
        return tenantId != null && tenantId.equals(configuration.getTenantId()) ? tenant() : null;
    }

    @Override
    public TenantQuery createTenantQuery() {
        return new BackendTenantQuery(Context.getProcessEngineConfiguration().getCommandExecutorTxRequired());
    }

    @Override
    public TenantQuery createTenantQuery(CommandContext commandContext) {
        return new BackendTenantQuery();
    }

    /** The configured tenant when it passes every filter: users and groups of the backend all belong to it. */
    public List<Tenant> findTenants(BackendTenantQuery query, Page page) {
        String id = configuration.getTenantId();
        String name = configuration.getTenantName();
        boolean matches = id != null
            && (query.getId() == null || query.getId().equals(id))
            && (query.getIds() == null || List.of(query.getIds()).contains(id))
            && (query.getName() == null || query.getName().equals(name))
            && (query.getNameLike() == null || like(query.getNameLike(), name))
            && (query.getUserId() == null || backendUser(query.getUserId()) != null)
            && (query.getGroupId() == null || findGroupById(query.getGroupId()) != null);
        int first = page != null ? page.getFirstResult() : query.getFirstResult();
        int max = page != null ? page.getMaxResults() : query.getMaxResults();
        return matches && first == 0 && max > 0 ? List.of(tenant()) : List.of();
    }

    private Tenant tenant() {
        TenantEntity tenant = new TenantEntity(configuration.getTenantId());
        tenant.setName(configuration.getTenantName());
        return tenant;
    }

    static boolean like(String pattern, String value) {
        String regex = ("\\Q" + pattern.replace("\\E", "\\E\\\\E\\Q") + "\\E").replace("%", "\\E.*\\Q");
        return value != null && value.matches(regex);
    }

    // --- the backend's answers ------------------------------------------------------------------

    private long count(String pathAndQuery) {
        JsonObject body = http.get(pathAndQuery, ignored -> Set.of(ResponseCache.SEARCH));
        return body == null ? 0 : body.get("count").getAsLong();
    }

    /** The rows of a page (or of everything, for {@code list()}), walking the backend's pages. */
    private List<JsonObject> list(String path, QueryString params, Page page, int firstResult, int maxResults,
                                  Function<JsonObject, Set<String>> tags) {
        int offset = page != null ? page.getFirstResult() : firstResult;
        int wanted = page != null ? page.getMaxResults() : maxResults;
        List<JsonObject> rows = new ArrayList<>();
        while (rows.size() < wanted) {
            int limit = Math.min(BACKEND_PAGE, wanted - rows.size());
            JsonObject body = http.get(params.copy().add("offset", offset).add("limit", limit).on(path), tags);
            List<JsonObject> results = results(body);
            rows.addAll(results);
            if (results.size() < limit || body.get("next") == null || body.get("next").isJsonNull()) {
                break;
            }
            offset += results.size();
        }
        return rows;
    }

    private static List<JsonObject> results(JsonObject page) {
        List<JsonObject> rows = new ArrayList<>();
        if (page != null && page.has("results")) {
            for (JsonElement row : page.getAsJsonArray("results")) {
                rows.add(row.getAsJsonObject());
            }
        }
        return rows;
    }

    static Set<String> userTags(JsonObject body) {
        Set<String> tags = new HashSet<>();
        if (body.has("results")) {
            tags.add(ResponseCache.SEARCH);
            results(body).forEach(user -> addUserTags(tags, user));
        } else {
            addUserTags(tags, body);
        }
        return tags;
    }

    private static void addUserTags(Set<String> tags, JsonObject user) {
        tags.add(ResponseCache.userTag(string(user, "id")));
        tags.add(ResponseCache.userTag(string(user, "username")));
    }

    static Set<String> groupTags(JsonObject body) {
        Set<String> tags = new HashSet<>();
        if (body.has("results")) {
            tags.add(ResponseCache.SEARCH);
            results(body).forEach(group -> addGroupTags(tags, group));
        } else {
            addGroupTags(tags, body);
        }
        return tags;
    }

    private static void addGroupTags(Set<String> tags, JsonObject group) {
        tags.add(ResponseCache.groupTag(string(group, "id")));
        tags.add(ResponseCache.groupTag(string(group, "path")));
    }

    private User toUser(JsonObject json) {
        UserEntity user = new UserEntity(string(json, configuration.usernameIsUserId() ? "username" : "id"));
        user.setFirstName(string(json, "first_name"));
        user.setLastName(string(json, "last_name"));
        user.setEmail(string(json, "email"));
        return user;
    }

    private Group toGroup(JsonObject json) {
        GroupEntity group = new GroupEntity(string(json, configuration.pathIsGroupId() ? "path" : "id"));
        group.setName(string(json, "name"));
        group.setType(Translation.GROUP_TYPE);
        return group;
    }

    private static String string(JsonObject json, String name) {
        JsonElement value = json.get(name);
        return value == null || value.isJsonNull() ? null : value.getAsString();
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
}
