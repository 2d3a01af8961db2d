package com.identitybackend.keycloak.authenticator;

/** The authenticators' registrations (listed in META-INF/services). */
public final class Factories {

    private Factories() {
    }

    public static class CollectPhone extends IdentityAuthenticatorFactory {
        public CollectPhone() {
            super(CollectPhoneFormAuthenticator.PROVIDER_ID, "Identity backend: collect and verify phone",
                    "Asks for a phone number and the code the identity backend texts to it.",
                    new CollectPhoneFormAuthenticator());
        }
    }

    public static class FindOrCreateUser extends IdentityAuthenticatorFactory {
        public FindOrCreateUser() {
            super(FindOrCreateUserAuthenticator.PROVIDER_ID, "Identity backend: find or create user by phone",
                    "Finds the user with the verified phone number in the identity backend, or creates one.",
                    new FindOrCreateUserAuthenticator());
        }
    }

    public static class MagicLink extends IdentityAuthenticatorFactory {
        public MagicLink() {
            super(MagicLinkAuthenticator.PROVIDER_ID, "E-mail me a sign-in link",
                    "Passwordless: the identity backend e-mails a link that signs in once, within 24 hours.",
                    new MagicLinkAuthenticator());
        }
    }

    public static class SmsCode extends IdentityAuthenticatorFactory {
        public SmsCode() {
            super(SmsCodeAuthenticator.PROVIDER_ID, "Text me a sign-in code",
                    "Passwordless: the identity backend texts a 6-digit code that signs in once, within 10 minutes.",
                    new SmsCodeAuthenticator());
        }
    }
}
