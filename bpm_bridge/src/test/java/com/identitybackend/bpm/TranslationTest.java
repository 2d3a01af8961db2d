package com.identitybackend.bpm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.cibseven.bpm.engine.impl.Direction;
import org.cibseven.bpm.engine.impl.GroupQueryProperty;
import org.cibseven.bpm.engine.impl.QueryOrderingProperty;
import org.cibseven.bpm.engine.impl.UserQueryProperty;
import org.cibseven.bpm.engine.impl.identity.IdentityProviderException;
import org.junit.jupiter.api.Test;

/** Engine queries as backend parameters; the backend's answers to them are in BackendIdentityIT. */
class TranslationTest {

    static final String ID = "0b4f2a8e-3c1d-4e5f-8a9b-0c1d2e3f4a5b";

    static BridgeConfiguration configuration(String userId, String groupId, String tenant) {
        BridgeConfiguration c = new BridgeConfiguration();
        c.setUserIdAttribute(userId);
        c.setGroupIdAttribute(groupId);
        c.setTenantId(tenant);
        return c;
    }

    private static String users(BackendUserQuery query, BridgeConfiguration c) {
        return Translation.users(query, c).map(QueryString::toString).orElse("NOTHING");
    }

    @Test
    void userFiltersBecomeSearchParameters() {
        BridgeConfiguration byId = configuration("id", "id", "acme");
        BackendUserQuery query = new BackendUserQuery();
        query.userFirstName("Alice").userLastNameLike("%smi%").userEmailLike("%@example.com").memberOfGroup(ID);
        assertEquals("first_name=Alice&last_name=%25smi%25&email=%25%40example.com&like=true&group_id=" + ID,
            users(query, byId));
        assertEquals("id=" + ID + "&like=true", users((BackendUserQuery) new BackendUserQuery().userId(ID), byId));
        assertEquals("like=true", users((BackendUserQuery) new BackendUserQuery().memberOfTenant("acme"), byId));
    }

    @Test
    void usernamesAndPathsWhenConfigured() {
        BridgeConfiguration byName = configuration("username", "path", null);
        BackendUserQuery query = new BackendUserQuery();
        query.userIdIn("alice", "bob").memberOfGroup("/sales/north");
        assertEquals("username_in=alice&username_in=bob&like=true&group=%2Fsales%2Fnorth", users(query, byName));
    }

    @Test
    void queriesThatMatchNothingNeverReachTheBackend() {
        BridgeConfiguration byId = configuration("id", "id", "acme");
        assertEquals("NOTHING", users((BackendUserQuery) new BackendUserQuery().userId("alice"), byId));
        assertEquals("NOTHING", users((BackendUserQuery) new BackendUserQuery().memberOfGroup("sales"), byId));
        assertEquals("NOTHING", users((BackendUserQuery) new BackendUserQuery().memberOfTenant("globex"), byId));
        BackendGroupQuery system = new BackendGroupQuery();
        system.groupType("SYSTEM");
        assertTrue(Translation.groups(system, byId, id -> ID).isEmpty());
        BackendGroupQuery unknownMember = new BackendGroupQuery();
        unknownMember.groupMember("nobody");
        assertTrue(Translation.groups(unknownMember, byId, id -> null).isEmpty());
    }

    @Test
    void groupFiltersBecomeListParameters() {
        BackendGroupQuery query = new BackendGroupQuery();
        query.groupNameLike("sal%").groupMember("alice").groupType("WORKFLOW");
        assertEquals("like=true&name=sal%25&member=" + ID,
            Translation.groups(query, configuration("username", "id", null), Map.of("alice", ID)::get).get().toString());
        BackendGroupQuery byPath = new BackendGroupQuery();
        byPath.groupIdIn("/a", "/b").groupName("b");
        assertEquals("path=%2Fa&path=%2Fb&name=b",
            Translation.groups(byPath, configuration("id", "path", null), id -> null).get().toString());
    }

    @Test
    void theFirstOrderingIsPushedDown() {
        BridgeConfiguration byName = configuration("username", "id", null);
        assertEquals("-username", Translation.userOrder(List.of(
            new QueryOrderingProperty(UserQueryProperty.USER_ID, Direction.DESCENDING),
            new QueryOrderingProperty(UserQueryProperty.EMAIL, Direction.ASCENDING)), byName));
        assertEquals("first_name", Translation.userOrder(List.of(
            new QueryOrderingProperty(UserQueryProperty.FIRST_NAME, Direction.ASCENDING)), byName));
        assertEquals("id", Translation.groupOrder(List.of(
            new QueryOrderingProperty(GroupQueryProperty.GROUP_ID, Direction.ASCENDING)), byName));
        assertEquals(null, Translation.groupOrder(List.of(
            new QueryOrderingProperty(GroupQueryProperty.TYPE, Direction.ASCENDING)), byName));
    }

    @Test
    void tooManyIdsAreAClearError() {
        String[] ids = new String[Translation.MAX_KEYS + 1];
        java.util.Arrays.fill(ids, ID);
        BackendUserQuery query = new BackendUserQuery();
        query.userIdIn(ids);
        IdentityProviderException e = assertThrows(IdentityProviderException.class,
            () -> Translation.users(query, configuration("id", "id", null)));
        assertTrue(e.getMessage().contains("at most " + Translation.MAX_KEYS), e.getMessage());
    }

    @Test
    void aConfigurationWithoutUrlOrTokenIsRefused() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> configuration("uuid", "id", null).validate());
        assertTrue(e.getMessage().contains("baseUrl") && e.getMessage().contains("token")
            && e.getMessage().contains("userIdAttribute"), e.getMessage());
    }

    @Test
    void tenantNamePatterns() {
        assertTrue(BackendIdentityProvider.like("Ac%", "Acme"));
        assertTrue(BackendIdentityProvider.like("%m.%", "Acm.e"));
        assertTrue(!BackendIdentityProvider.like("%m.%", "Acmxe"));
    }
}
