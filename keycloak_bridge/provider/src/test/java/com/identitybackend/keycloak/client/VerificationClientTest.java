package com.identitybackend.keycloak.client;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static com.identitybackend.keycloak.client.Fixtures.ALICE_ID;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The calls behind the enrollment and passwordless authenticators. */
class VerificationClientTest {

    private static final String VERIFICATION_ID = "9b2f3c1e-1111-4222-8333-444455556666";

    private StubBackend stub;
    private VerificationClient client;

    @BeforeEach
    void setUp() throws Exception {
        stub = new StubBackend();
        client = new VerificationClient(new BackendHttp(BackendHttp.newHttpClient(Duration.ofSeconds(10)),
                stub.baseUrl(), "tok", Duration.ofSeconds(10)));
    }

    @AfterEach
    void tearDown() {
        stub.close();
    }

    @Test
    void phoneVerificationStartsWithTheEndUsersIpAndReturnsTheNormalisedNumber() {
        stub.on("POST", "/v1/phone-verifications", 201,
                "{\"id\": \"" + VERIFICATION_ID + "\", \"channel\": \"sms\", \"destination\": \"+15551234567\"}");
        VerificationClient.Verification v = client.startPhoneVerification("+1 555 123 4567", "203.0.113.9");
        assertEquals(VERIFICATION_ID, v.id());
        assertEquals("+15551234567", v.destination());
        assertEquals("{\"phone_number\":\"+1 555 123 4567\",\"client_ip\":\"203.0.113.9\"}", stub.last().body());
    }

    @Test
    void aRefusedCodeRaisesWithTheBackendsWords() {
        stub.on("POST", "/v1/phone-verifications/" + VERIFICATION_ID + ":confirm", 400,
                "{\"code\": \"invalid\", \"message\": \"Invalid input.\", \"fields\": {\"code\": [\"This code is wrong.\"]}}");
        BackendException e = assertThrows(BackendException.class,
                () -> client.confirmPhoneVerification(VERIFICATION_ID, "000000"));
        assertEquals(400, e.getStatus());
        assertEquals("This code is wrong.", e.getFields().get("code").get(0));
    }

    @Test
    void theRightCodeReturnsTheProof() {
        stub.on("POST", "/v1/phone-verifications/" + VERIFICATION_ID + ":confirm", 200, "{\"proof\": \"signed\"}");
        assertEquals("signed", client.confirmPhoneVerification(VERIFICATION_ID, "123456"));
        assertEquals("{\"code\":\"123456\"}", stub.last().body());
    }

    @Test
    void magicLinkRequestCarriesTheStateAndAThrottleRaises() {
        stub.on("POST", "/v1/magic-links", 202, "{\"status\": \"accepted\"}");
        client.requestMagicLink("a@example.com", "tab.nonce", "127.0.0.1");
        assertEquals("{\"email\":\"a@example.com\",\"state\":\"tab.nonce\",\"client_ip\":\"127.0.0.1\"}", stub.last().body());
        stub.on("POST", "/v1/magic-links", 429, "{\"code\": \"throttled\", \"message\": \"Slow down.\"}");
        assertTrue(assertThrows(BackendException.class,
                () -> client.requestMagicLink("a@example.com", "s", null)).isThrottled());
    }

    @Test
    void redeemingGivesTheUserOrNothing() {
        stub.on("POST", "/v1/magic-links:redeem", 200, "{\"user_id\": \"" + ALICE_ID + "\"}");
        assertEquals(ALICE_ID, client.redeemMagicLink("t").orElseThrow());
        stub.on("POST", "/v1/magic-links:redeem", 400, "{\"code\": \"invalid\", \"fields\": {\"token\": [\"used\"]}}");
        assertTrue(client.redeemMagicLink("t").isEmpty());
        stub.on("POST", "/v1/magic-sms:redeem", 400, "{\"code\": \"invalid\"}");
        assertTrue(client.redeemMagicSms("+15551234567", "1").isEmpty());
        stub.on("POST", "/v1/magic-sms:redeem", 503, "{\"code\": \"unavailable\"}");
        assertTrue(assertThrows(BackendException.class, () -> client.redeemMagicSms("+15551234567", "1")).isUnavailable());
    }
}
