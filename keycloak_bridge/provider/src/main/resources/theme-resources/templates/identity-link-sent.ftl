<#import "template.ftl" as layout>
<@layout.registrationLayout displayMessage=true; section>
    <#if section = "header">
        ${msg("identityLinkSentTitle")}
    <#elseif section = "form">
        <p id="identity-link-sent">${msg("identityLinkSent", email)}</p>
        <form id="kc-restart-form" action="${url.loginAction}" method="post">
            <input type="hidden" name="restart" value="1"/>
            <input type="submit" class="${properties.kcButtonClass!} ${properties.kcButtonDefaultClass!} ${properties.kcButtonBlockClass!}"
                   value="${msg("identityUseAnotherAddress")}"/>
        </form>
    </#if>
</@layout.registrationLayout>
