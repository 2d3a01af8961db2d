<#import "template.ftl" as layout>
<@layout.registrationLayout displayMessage=true; section>
    <#if section = "header">
        <#if (purpose!'verify') == 'signin'>${msg("identitySmsSignInTitle")}<#else>${msg("identityPhoneTitle")}</#if>
    <#elseif section = "form">
        <form id="kc-phone-form" class="${properties.kcFormClass!}" action="${url.loginAction}" method="post">
            <div class="${properties.kcFormGroupClass!}">
                <label for="phone_number" class="${properties.kcLabelClass!}">${msg("identityPhoneLabel")}</label>
                <input id="phone_number" name="phone_number" type="tel" autocomplete="tel" autofocus
                       class="${properties.kcInputClass!}" value="${phoneNumber!''}"/>
            </div>
            <div id="kc-form-buttons" class="${properties.kcFormGroupClass!}">
                <input type="submit" class="${properties.kcButtonClass!} ${properties.kcButtonPrimaryClass!} ${properties.kcButtonBlockClass!}"
                       value="${msg("identitySendCode")}"/>
            </div>
        </form>
    </#if>
</@layout.registrationLayout>
