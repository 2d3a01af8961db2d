package com.identitybackend.keycloak.client;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;

/** A local stand-in for the backend: records requests, answers with canned responses by "METHOD path". */
final class StubBackend implements AutoCloseable {

    record Recorded(String method, String path, String rawQuery, String body, String authorization, int remotePort) {
    }

    record Canned(int status, String body, long delayMs) {
    }

    private final HttpServer server;
    final List<Recorded> requests = Collections.synchronizedList(new ArrayList<>());
    private final Map<String, Canned> responses = Collections.synchronizedMap(new LinkedHashMap<>());

    StubBackend() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.createContext("/", this::handle);
        server.start();
    }

    String baseUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    StubBackend on(String method, String path, int status, String body) {
        responses.put(method + " " + path, new Canned(status, body, 0));
        return this;
    }

    StubBackend onSlow(String method, String path, long delayMs) {
        responses.put(method + " " + path, new Canned(200, "{}", delayMs));
        return this;
    }

    Recorded last() {
        return requests.get(requests.size() - 1);
    }

    private void handle(HttpExchange ex) throws IOException {
        String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        String path = ex.getRequestURI().getRawPath();
        requests.add(new Recorded(ex.getRequestMethod(), path, ex.getRequestURI().getRawQuery(), body,
                ex.getRequestHeaders().getFirst("Authorization"), ex.getRemoteAddress().getPort()));
        Canned c = responses.get(ex.getRequestMethod() + " " + path);
        if (c == null) {
            c = new Canned(404, "{\"code\":\"not_found\",\"message\":\"Not found.\"}", 0);
        }
        if (c.delayMs() > 0) {
            try {
                Thread.sleep(c.delayMs());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        byte[] out = c.body() == null ? new byte[0] : c.body().getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        if (c.status() == 204 || out.length == 0) {
            ex.sendResponseHeaders(c.status(), -1);
        } else {
            ex.sendResponseHeaders(c.status(), out.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(out);
            }
        }
        ex.close();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
