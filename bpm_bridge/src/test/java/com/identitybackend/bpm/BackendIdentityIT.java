package com.identitybackend.bpm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.cibseven.bpm.engine.AuthorizationException;
import org.cibseven.bpm.engine.IdentityService;
import org.cibseven.bpm.engine.ProcessEngine;
import org.cibseven.bpm.engine.ProcessEngineConfiguration;
import org.cibseven.bpm.engine.ProcessEngineException;
import org.cibseven.bpm.engine.authorization.Permissions;
import org.cibseven.bpm.engine.authorization.Resources;
import org.cibseven.bpm.engine.identity.Group;
import org.cibseven.bpm.engine.identity.User;
import org.cibseven.bpm.engine.impl.cfg.ProcessEngineConfigurationImpl;
import org.cibseven.bpm.engine.impl.identity.IdentityProviderException;
import org.cibseven.bpm.model.bpmn.Bpmn;
import org.cibseven.bpm.model.bpmn.BpmnModelInstance;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An embedded engine (in-memory H2) whose users and groups come from the real backend that
 * tests/test_bpm_bridge.py starts and seeds: tenant {@code bpm} with alice, bob, carol and dan and
 * the groups /camunda-admins (alice), /sales (alice, bob) and /sales/north (bob).
 */
class BackendIdentityIT {

    static final String BASE_URL = System.getenv("BPM_BRIDGE_BASE_URL");
    static final String TOKEN = System.getenv("BPM_BRIDGE_TOKEN");
    static final JsonObject SEED = JsonParser.parseString(System.getenv("BPM_BRIDGE_SEED")).getAsJsonObject();
    static final String ALICE_PASSWORD = SEED.get("password").getAsString();

    static ProcessEngine engine;
    static BackendIdentityProviderPlugin plugin;
    static IdentityService identity;

    static String user(String name) {
        return SEED.getAsJsonObject("users").get(name).getAsString();
    }

    static String group(String path) {
        return SEED.getAsJsonObject("groups").get(path).getAsString();
    }

    /** A plugin for the tenant; the backend's own timeouts are the defaults (the machine may be loaded). */
    static BackendIdentityProviderPlugin plugin(String baseUrl) {
        BackendIdentityProviderPlugin plugin = new BackendIdentityProviderPlugin();
        plugin.setBaseUrl(baseUrl);
        plugin.setToken(TOKEN);
        plugin.setTenantId("bpm");
        plugin.setTenantName("BPM tenant");
        plugin.setCacheTtlSeconds(2);
        return plugin;
    }

    static ProcessEngine engine(String name, BackendIdentityProviderPlugin plugin, boolean authorization) {
        ProcessEngineConfigurationImpl configuration =
            (ProcessEngineConfigurationImpl) ProcessEngineConfiguration.createStandaloneInMemProcessEngineConfiguration();
        configuration.setProcessEngineName(name);
        configuration.setJdbcUrl("jdbc:h2:mem:" + name + ";DB_CLOSE_DELAY=-1");
        configuration.setDatabaseSchemaUpdate("create-drop");
        configuration.setJobExecutorActivate(false);
        configuration.setAuthorizationEnabled(authorization);
        configuration.setProcessEnginePlugins(new ArrayList<>(List.of(plugin)));
        return configuration.buildProcessEngine();
    }

    @BeforeAll
    static void startEngine() {
        plugin = plugin(BASE_URL);
        plugin.setAdministratorGroupName("camunda-admins");
        engine = engine("bridge", plugin, true);
        identity = engine.getIdentityService();
    }

    @AfterAll
    static void stopEngine() {
        if (engine != null) {
            engine.close();
        }
    }

    static List<String> ids(List<? extends Object> rows) {
        return rows.stream().map(row -> row instanceof User u ? u.getId() : ((Group) row).getId()).collect(Collectors.toList());
    }

    static List<String> users(String... names) {
        return List.of(names).stream().map(BackendIdentityIT::user).collect(Collectors.toList());
    }

    // --- users ----------------------------------------------------------------------------------

    @Test
    void eachUserQueryGivesTheBackendsAnswer() {
        Map<String, Function<org.cibseven.bpm.engine.identity.UserQuery, org.cibseven.bpm.engine.identity.UserQuery>> shapes = Map.of(
            "userId", q -> q.userId(user("bob")),
            "userIdIn", q -> q.userIdIn(user("carol"), user("alice")),
            "firstName", q -> q.userFirstName("Alice"),
            "firstNameLike", q -> q.userFirstNameLike("%aro%"),
            "lastName", q -> q.userLastName("Smith"),
            "lastNameLike", q -> q.userLastNameLike("%smith%"),
            "email", q -> q.userEmail("bob@example.com"),
            "emailLike", q -> q.userEmailLike("%@example.com"),
            "memberOfGroup", q -> q.memberOfGroup(group("/sales")),
            "memberOfTenant", q -> q.memberOfTenant("bpm"));
        Map<String, List<String>> expected = Map.of(
            "userId", users("bob"),
            "userIdIn", users("alice", "carol"),
            "firstName", users("alice"),
            "firstNameLike", users("carol"),
            "lastName", users("alice"),
            "lastNameLike", users("alice", "bob", "dan"),
            "email", users("bob"),
            "emailLike", users("alice", "bob"),
            "memberOfGroup", users("alice", "bob"),
            "memberOfTenant", users("alice", "bob", "carol", "dan"));
        for (String shape : shapes.keySet()) {
            var query = shapes.get(shape).apply(identity.createUserQuery()).orderByUserEmail().asc();
            List<String> want = expected.get(shape);
            assertEquals(want.stream().sorted(this::byEmail).collect(Collectors.toList()), ids(query.list()), shape);
            assertEquals(want.size(), shapes.get(shape).apply(identity.createUserQuery()).count(), shape);
        }
        assertEquals(0, identity.createUserQuery().memberOfTenant("another").count());
        assertEquals(List.of(), identity.createUserQuery().userId("not-a-uuid").list());
        User alice = identity.createUserQuery().userId(user("alice")).singleResult();
        assertEquals("Alice", alice.getFirstName());
        assertEquals("Smith", alice.getLastName());
        assertEquals("alice@example.com", alice.getEmail());
    }

    private int byEmail(String a, String b) {
        List<String> order = users("alice", "bob", "carol", "dan");  // alice@, bob@, carol@corp, no address
        return Integer.compare(order.indexOf(a), order.indexOf(b));
    }

    @Test
    void sortingAndPagingArePushedToTheBackend() {
        assertEquals(users("dan", "carol", "bob", "alice"), ids(identity.createUserQuery().orderByUserFirstName().desc().list()));
        assertEquals(users("carol", "bob"), ids(identity.createUserQuery().orderByUserFirstName().desc().listPage(1, 2)));
        assertEquals(users("dan", "alice", "bob"),
            ids(identity.createUserQuery().userLastNameLike("%smith%").orderByUserLastName().asc().list()));
        List<String> byId = users("alice", "bob", "carol", "dan").stream().sorted().collect(Collectors.toList());
        assertEquals(byId, ids(identity.createUserQuery().orderByUserId().asc().list()));
    }

    @Test
    void passwordsAreCheckedByTheBackend() {
        assertTrue(identity.checkPassword(user("alice"), ALICE_PASSWORD));
        assertFalse(identity.checkPassword(user("alice"), ALICE_PASSWORD + "x"));
        assertFalse(identity.checkPassword("00000000-0000-4000-8000-000000000000", ALICE_PASSWORD));
    }

    // --- groups and tenants ---------------------------------------------------------------------

    @Test
    void eachGroupQueryGivesTheBackendsAnswer() {
        List<String> all = List.of(group("/camunda-admins"), group("/sales"), group("/sales/north"));
        assertEquals(List.of(group("/sales")), ids(identity.createGroupQuery().groupId(group("/sales")).list()));
        assertEquals(List.of(group("/camunda-admins"), group("/sales/north")),
            ids(identity.createGroupQuery().groupIdIn(group("/sales/north"), group("/camunda-admins")).orderByGroupName().asc().list()));
        assertEquals(List.of(group("/sales")), ids(identity.createGroupQuery().groupName("sales").list()));
        assertEquals(List.of(group("/sales")), ids(identity.createGroupQuery().groupNameLike("%ale%").list()));
        assertEquals(3, identity.createGroupQuery().groupType("WORKFLOW").count());
        assertEquals(0, identity.createGroupQuery().groupType("SYSTEM").count());
        assertEquals(List.of(group("/camunda-admins"), group("/sales")),
            ids(identity.createGroupQuery().groupMember(user("alice")).orderByGroupName().asc().list()));
        assertEquals(2, identity.createGroupQuery().groupMember(user("bob")).count());
        assertEquals(0, identity.createGroupQuery().groupMember(user("carol")).count());
        assertEquals(3, identity.createGroupQuery().memberOfTenant("bpm").count());
        assertEquals(0, identity.createGroupQuery().memberOfTenant("another").count());
        assertEquals(List.of("sales", "north", "camunda-admins"),
            identity.createGroupQuery().orderByGroupName().desc().list().stream().map(Group::getName).collect(Collectors.toList()));
        assertEquals(List.of("north"),
            identity.createGroupQuery().orderByGroupName().desc().listPage(1, 1).stream().map(Group::getName).collect(Collectors.toList()));
        assertEquals(all.size(), identity.createGroupQuery().count());
    }

    @Test
    void theTokensTenantIsTheEnginesOneTenant() {
        assertEquals(List.of("bpm"), identity.createTenantQuery().list().stream().map(t -> t.getId()).collect(Collectors.toList()));
        assertEquals("BPM tenant", identity.createTenantQuery().tenantId("bpm").singleResult().getName());
        assertEquals(1, identity.createTenantQuery().userMember(user("dan")).count());
        assertEquals(0, identity.createTenantQuery().userMember("00000000-0000-4000-8000-000000000000").count());
        assertEquals(1, identity.createTenantQuery().groupMember(group("/sales")).count());
        assertEquals(1, identity.createTenantQuery().tenantNameLike("BPM%").count());
        assertEquals(0, identity.createTenantQuery().tenantId("another").count());
    }

    // --- the engine at work ---------------------------------------------------------------------

    @Test
    void theAdministratorGroupAdministersTheEngine() {
        List<String> aliceGroups = ids(identity.createGroupQuery().groupMember(user("alice")).list());
        List<String> carolGroups = ids(identity.createGroupQuery().groupMember(user("carol")).list());
        assertTrue(((ProcessEngineConfigurationImpl) engine.getProcessEngineConfiguration()).getAdminGroups()
            .contains(group("/camunda-admins")));
        assertTrue(engine.getAuthorizationService().isUserAuthorized(user("alice"), aliceGroups, Permissions.ALL, Resources.USER));
        assertFalse(engine.getAuthorizationService().isUserAuthorized(user("carol"), carolGroups, Permissions.READ, Resources.USER));
        BpmnModelInstance model = Bpmn.createExecutableProcess("admin-only").startEvent().endEvent().done();
        try {
            identity.setAuthentication(user("carol"), carolGroups);
            assertThrows(AuthorizationException.class, () -> engine.getRepositoryService().createDeployment()
                .addModelInstance("admin-only.bpmn", model).deploy());
            identity.setAuthentication(user("alice"), aliceGroups);
            assertNotNull(engine.getRepositoryService().createDeployment().addModelInstance("admin-only.bpmn", model).deploy());
        } finally {
            identity.clearAuthentication();
        }
    }

    @Test
    void aTaskForACandidateGroupIsVisibleToItsMembers() {
        BpmnModelInstance model = Bpmn.createExecutableProcess("review").startEvent()
            .userTask("check").camundaCandidateGroups(group("/sales/north")).endEvent().done();
        engine.getRepositoryService().createDeployment().addModelInstance("review.bpmn", model).deploy();
        engine.getRuntimeService().startProcessInstanceByKey("review");
        var tasks = engine.getTaskService();
        assertEquals(1, tasks.createTaskQuery().processDefinitionKey("review").taskCandidateUser(user("bob")).count());
        assertEquals(0, tasks.createTaskQuery().processDefinitionKey("review").taskCandidateUser(user("alice")).count());
        assertEquals(0, tasks.createTaskQuery().processDefinitionKey("review").taskCandidateUser(user("carol")).count());
    }

    // --- failures and freshness -----------------------------------------------------------------

    @Test
    void aBackendThatIsDownIsAClearErrorNotAHang() throws IOException {
        ProcessEngine refused = engine("refused", plugin("http://127.0.0.1:1"), false);
        try (ServerSocket silent = new ServerSocket(0)) {
            List<Socket> held = new ArrayList<>();
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) held.add(silent.accept());  // accepts, never answers
                } catch (IOException closed) {
                    // the test is over
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            BackendIdentityProviderPlugin muted = plugin("http://127.0.0.1:" + silent.getLocalPort());
            muted.setRequestTimeoutMillis(1000);
            ProcessEngine mute = engine("mute", muted, false);
            try {
                ProcessEngineException down = assertThrows(IdentityProviderException.class,
                    () -> refused.getIdentityService().createUserQuery().userFirstName("Alice").list());
                assertTrue(down.getMessage().contains("http://127.0.0.1:1/v1") && down.getMessage().contains("unreachable"),
                    down.getMessage());
                ProcessEngineException slow = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> assertThrows(
                    IdentityProviderException.class, () -> mute.getIdentityService().checkPassword(user("alice"), ALICE_PASSWORD)));
                assertTrue(slow.getMessage().contains("http://127.0.0.1:" + silent.getLocalPort() + "/v1")
                    && slow.getMessage().contains("timed out"), slow.getMessage());
            } finally {
                mute.close();
                refused.close();
            }
        }
        BackendIdentityProviderPlugin noGroup = plugin("http://127.0.0.1:1");
        noGroup.setAdministratorGroupName("camunda-admins");
        IdentityProviderException atStart = assertThrows(IdentityProviderException.class, () -> engine("start", noGroup, true));
        assertTrue(atStart.getMessage().contains("http://127.0.0.1:1/v1"), atStart.getMessage());
    }

    @Test
    void aChangeInTheBackendReachesTheEngineAfterInvalidationOrTheTtl() throws Exception {
        String carol = user("carol");
        assertEquals("Carol", identity.createUserQuery().userId(carol).singleResult().getFirstName());
        patchFirstName(carol, "Caroline");
        assertEquals("Carol", identity.createUserQuery().userId(carol).singleResult().getFirstName(), "kept for the TTL");
        plugin.invalidateUser(carol);
        assertEquals("Caroline", identity.createUserQuery().userId(carol).singleResult().getFirstName());
        assertEquals(carol, identity.createUserQuery().userFirstName("Caroline").singleResult().getId());
        patchFirstName(carol, "Carol");
        String seen = "Caroline";
        User stale = null;
        for (int i = 0; i < 100 && (!"Carol".equals(seen) || stale != null); i++) {  // the TTL is 2 s: wait it out
            Thread.sleep(100);
            seen = identity.createUserQuery().userId(carol).singleResult().getFirstName();
            stale = identity.createUserQuery().userFirstName("Caroline").singleResult();
        }
        assertEquals("Carol", seen);
        assertNull(stale);
    }

    static void patchFirstName(String userId, String firstName) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(BASE_URL + "/v1/users/" + userId))
            .header("Authorization", "Bearer " + TOKEN)
            .header("Content-Type", "application/json")
            .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"first_name\": \"" + firstName + "\"}"))
            .build();
        HttpResponse<String> response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
    }
}
