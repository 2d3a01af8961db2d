package com.identitybackend.bpm;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/** A query string in the order its parameters are added, repeated names allowed. */
public final class QueryString {

    private final StringBuilder text = new StringBuilder();

    public QueryString add(String name, Object value) {
        if (value != null) {
            text.append(text.length() == 0 ? "" : "&")
                .append(URLEncoder.encode(name, StandardCharsets.UTF_8)).append('=')
                .append(URLEncoder.encode(value.toString(), StandardCharsets.UTF_8));
        }
        return this;
    }

    public QueryString copy() {
        QueryString copy = new QueryString();
        copy.text.append(text);
        return copy;
    }

    /** {@code path} with this query string, if any. */
    public String on(String path) {
        return text.length() == 0 ? path : path + "?" + text;
    }

    @Override
    public String toString() {
        return text.toString();
    }
}
