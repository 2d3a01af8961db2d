<#import "template.ftl" as layout>
<@layout.registrationLayout displayMessage=true; section>
    <#if section = "header">
        ${msg("identityEmailTitle")}
    <#elseif section = "form">
        <form id="kc-email-form" class="${properties.kcFormClass!}" action="${url.loginAction}" method="post">
            <div class="${properties.kcFormGroupClass!}">
                <label for="email" class="${properties.kcLabelClass!}">${msg("identityEmailLabel")}</label>
                <input id="email" name="email" type="email" autocomplete="email" autofocus
                       class="${properties.kcInputClass!}" value="${email!''}"/>
            </div>
            <div id="kc-form-buttons" class="${properties.kcFormGroupClass!}">
                <input type="submit" class="${properties.kcButtonClass!} ${properties.kcButtonPrimaryClass!} ${properties.kcButtonBlockClass!}"
                       value="${msg("identitySendLink")}"/>
            </div>
        </form>
    </#if>
</@layout.registrationLayout>
