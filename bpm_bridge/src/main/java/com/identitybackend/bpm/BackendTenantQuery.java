package com.identitybackend.bpm;

import java.util.List;
import org.cibseven.bpm.engine.identity.Tenant;
import org.cibseven.bpm.engine.impl.Page;
import org.cibseven.bpm.engine.impl.TenantQueryImpl;
import org.cibseven.bpm.engine.impl.interceptor.CommandContext;
import org.cibseven.bpm.engine.impl.interceptor.CommandExecutor;

/** The engine's tenant query: the one configured tenant, which every user and group belongs to. */
public class BackendTenantQuery extends TenantQueryImpl {

    private static final long serialVersionUID = 1L;

    public BackendTenantQuery() {
    }

    public BackendTenantQuery(CommandExecutor commandExecutor) {
        super(commandExecutor);
    }

    @Override
    public long executeCount(CommandContext commandContext) {
        return BackendUserQuery.provider(commandContext).findTenants(this, null).size();
    }

    @Override
    public List<Tenant> executeList(CommandContext commandContext, Page page) {
        return BackendUserQuery.provider(commandContext).findTenants(this, page);
    }
}
