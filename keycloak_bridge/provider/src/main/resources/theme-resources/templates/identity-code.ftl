<#import "template.ftl" as layout>
<@layout.registrationLayout displayMessage=true; section>
    <#if section = "header">
        ${msg("identityCodeTitle")}
    <#elseif section = "form">
        <p id="identity-code-sent">
            <#if (purpose!'verify') == 'signin'>${msg("identityCodeSignInSentTo", destination)}<#else>${msg("identityCodeSentTo", destination)}</#if>
        </p>
        <form id="kc-code-form" class="${properties.kcFormClass!}" action="${url.loginAction}" method="post">
            <div class="${properties.kcFormGroupClass!}">
                <label for="code" class="${properties.kcLabelClass!}">${msg("identityCodeLabel")}</label>
                <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" autofocus
                       class="${properties.kcInputClass!}"/>
            </div>
            <div id="kc-form-buttons" class="${properties.kcFormGroupClass!}">
                <input type="submit" class="${properties.kcButtonClass!} ${properties.kcButtonPrimaryClass!} ${properties.kcButtonBlockClass!}"
                       value="${msg("doSubmit")}"/>
            </div>
        </form>
        <form id="kc-restart-form" action="${url.loginAction}" method="post">
            <input type="hidden" name="restart" value="1"/>
            <input type="submit" class="${properties.kcButtonClass!} ${properties.kcButtonDefaultClass!} ${properties.kcButtonBlockClass!}"
                   value="${msg("identityUseAnotherNumber")}"/>
        </form>
    </#if>
</@layout.registrationLayout>
