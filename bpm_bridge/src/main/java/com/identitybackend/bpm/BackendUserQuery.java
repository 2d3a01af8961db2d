package com.identitybackend.bpm;

import java.util.List;
import org.cibseven.bpm.engine.identity.User;
import org.cibseven.bpm.engine.impl.Page;
import org.cibseven.bpm.engine.impl.UserQueryImpl;
import org.cibseven.bpm.engine.impl.interceptor.CommandContext;
import org.cibseven.bpm.engine.impl.interceptor.CommandExecutor;

/** The engine's user query, answered by the backend's user search. */
public class BackendUserQuery extends UserQueryImpl {

    private static final long serialVersionUID = 1L;

    public BackendUserQuery() {
    }

    public BackendUserQuery(CommandExecutor commandExecutor) {
        super(commandExecutor);
    }

    @Override
    public long executeCount(CommandContext commandContext) {
        return provider(commandContext).countUsers(this);
    }

    @Override
    public List<User> executeList(CommandContext commandContext, Page page) {
        return provider(commandContext).findUsers(this, page);
    }

    String getPotentialStarter() {
        return procDefId;
    }

    static BackendIdentityProvider provider(CommandContext commandContext) {
        return (BackendIdentityProvider) commandContext.getReadOnlyIdentityProvider();
    }
}
