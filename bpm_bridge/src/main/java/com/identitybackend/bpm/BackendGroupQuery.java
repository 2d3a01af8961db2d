package com.identitybackend.bpm;

import java.util.List;
import org.cibseven.bpm.engine.identity.Group;
import org.cibseven.bpm.engine.impl.GroupQueryImpl;
import org.cibseven.bpm.engine.impl.Page;
import org.cibseven.bpm.engine.impl.interceptor.CommandContext;
import org.cibseven.bpm.engine.impl.interceptor.CommandExecutor;

/** The engine's group query, answered by the backend's group list. */
public class BackendGroupQuery extends GroupQueryImpl {

    private static final long serialVersionUID = 1L;

    public BackendGroupQuery() {
    }

    public BackendGroupQuery(CommandExecutor commandExecutor) {
        super(commandExecutor);
    }

    @Override
    public long executeCount(CommandContext commandContext) {
        return BackendUserQuery.provider(commandContext).countGroups(this);
    }

    @Override
    public List<Group> executeList(CommandContext commandContext, Page page) {
        return BackendUserQuery.provider(commandContext).findGroups(this, page);
    }

    String getPotentialStarter() {
        return procDefId;
    }
}
