package com.identitybackend.keycloak.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.identitybackend.keycloak.client.BackendHttp.Response;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The backend calls behind the sign-in authenticators: phone verification for enrollment, and
 * passwordless sign-in by e-mailed link or texted code. The backend keeps every code and token;
 * Keycloak keeps only ids and the outcome.
 */
public class VerificationClient {

    private final BackendHttp http;

    public VerificationClient(BackendHttp http) {
        this.http = http;
    }

    /** A started verification: its id and the number or address as the backend normalised it. */
    public record Verification(String id, String destination) {
    }

    /** {@code POST /v1/phone-verifications}: texts a code; 400 (bad number), 429 and 503 raise. */
    public Verification startPhoneVerification(String phoneNumber, String clientIp) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("phone_number", phoneNumber);
        body.put("client_ip", clientIp);
        JsonNode n = http.send("POST", "/v1/phone-verifications", null, body).expect(201).json();
        return new Verification(n.path("id").asText(), n.path("destination").asText());
    }

    /** {@code POST /v1/phone-verifications/{id}:confirm}: the signed proof; a wrong or dead code raises 400. */
    public String confirmPhoneVerification(String verificationId, String code) {
        BackendHttp.requireUuid(verificationId);
        return http.send("POST", "/v1/phone-verifications/" + verificationId + ":confirm", null,
                Map.of("code", orEmpty(code))).expect(200).json().path("proof").asText();
    }

    /** {@code POST /v1/magic-links}: the same answer whether or not a user has the address. */
    public void requestMagicLink(String email, String state, String clientIp) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("email", email);
        body.put("state", state);
        body.put("client_ip", clientIp);
        http.send("POST", "/v1/magic-links", null, body).expect(202);
    }

    /** {@code POST /v1/magic-links:redeem}: the user's id, or empty when the link is unknown, used or expired. */
    public Optional<String> redeemMagicLink(String token) {
        return redeemed(http.send("POST", "/v1/magic-links:redeem", null, Map.of("token", orEmpty(token))));
    }

    /** {@code POST /v1/magic-sms}: the same answer whether or not a user has the number. */
    public void requestMagicSms(String phoneNumber, String clientIp) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("phone_number", phoneNumber);
        body.put("client_ip", clientIp);
        http.send("POST", "/v1/magic-sms", null, body).expect(202);
    }

    /** {@code POST /v1/magic-sms:redeem}: the user's id, or empty when the code is wrong, used, expired or dead. */
    public Optional<String> redeemMagicSms(String phoneNumber, String code) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("phone_number", orEmpty(phoneNumber));
        body.put("code", orEmpty(code));
        return redeemed(http.send("POST", "/v1/magic-sms:redeem", null, body));
    }

    private static Optional<String> redeemed(Response r) {
        if (r.status == 400) {
            return Optional.empty();
        }
        String id = r.expect(200).json().path("user_id").asText("");
        return Optional.of(id).filter(BackendHttp::isUuid);
    }

    private static String orEmpty(String s) {
        return s == null ? "" : s;
    }
}
