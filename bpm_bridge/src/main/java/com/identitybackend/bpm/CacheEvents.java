package com.identitybackend.bpm;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.net.ssl.SSLContext;

/**
 * The backend's user and group events, consumed from RabbitMQ to drop what the cache holds about
 * them (see {@link EventInvalidation}). Each engine has its own exclusive, auto-deleted queue bound
 * to the exchanges with the events' routing keys: every engine sees every event, and nothing is left
 * on the broker when it goes.
 *
 * <p>Nothing here may stop or fail the engine: the first connection is made in the background and
 * retried every {@code eventsRetryMillis} while the broker cannot be reached; a lost connection is
 * recovered by the client itself (queue, bindings and consumer included). While there is no
 * connection, the TTL alone bounds staleness; events missed meanwhile are unknown, so a connection
 * made or recovered drops the whole cache.
 */
final class CacheEvents {

    private static final Logger LOG = Logger.getLogger(CacheEvents.class.getName());
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final BridgeConfiguration configuration;
    private final ResponseCache cache;
    private final EventInvalidation invalidation;
    private final String connectionName;
    private final String where;
    private final ScheduledExecutorService connector;
    private volatile Connection connection;
    private volatile boolean listening;
    private volatile boolean closed;
    private int failedTries;  // on the connecting thread only

    CacheEvents(BridgeConfiguration configuration, ResponseCache cache, String engineName) {
        this.configuration = configuration;
        this.cache = cache;
        this.invalidation = new EventInvalidation(cache, configuration.getEventsTenant());
        this.connectionName = "identity cache of process engine " + engineName;
        this.where = withoutPassword(configuration.getEventsBrokerUrl().strip()) + " " + configuration.eventsExchangeNames();
        this.connector = Executors.newSingleThreadScheduledExecutor(daemon("identity-events-connect"));
    }

    /** Connects in the background; returns at once. */
    void start() {
        later(this::connect, 0);
    }

    boolean listening() {
        return listening;
    }

    void close() {
        closed = true;
        listening = false;
        connector.shutdownNow();
        Connection open = connection;
        if (open != null) {
            open.abort(2000);
        }
    }

    private void connect() {
        if (closed) {
            return;
        }
        Connection opened = null;
        try {
            opened = factory().newConnection(connectionName);
            opened.addShutdownListener(cause -> {
                if (!cause.isInitiatedByApplication()) {
                    listening = false;
                    LOG.warning(() -> "Identity events from " + where + " lost (" + cause.getMessage()
                        + "); reconnecting, the cache relies on its TTL meanwhile");
                }
            });
            ((Recoverable) opened).addRecoveryListener(new RecoveryListener() {
                @Override
                public void handleRecovery(Recoverable recovered) {
                    nowListening("again ");
                }

                @Override
                public void handleRecoveryStarted(Recoverable recovering) {
                }
            });
            subscribe(opened.createChannel());
            connection = opened;
            if (closed) {  // closed while connecting
                opened.abort(2000);
                return;
            }
            failedTries = 0;
            nowListening("");
        } catch (Exception e) {  // whatever failed, the engine goes on with the TTL
            if (opened != null) {
                opened.abort(2000);
            }
            if (!closed) {
                // Said once per outage, not at every try.
                LOG.log(failedTries++ == 0 ? Level.WARNING : Level.FINE, () -> "Identity events from " + where
                    + " cannot be received (" + e + "); the cache relies on its TTL; trying again every "
                    + configuration.getEventsRetryMillis() + " ms");
                later(this::connect, configuration.getEventsRetryMillis());
            }
        }
    }

    private void nowListening(String again) {
        cache.invalidateAll();  // what happened while not listening is unknown
        listening = true;
        LOG.info(() -> "The identity cache listens " + again + "to the backend's events at " + where);
    }

    /** {@code task} on the connecting thread after {@code delayMillis}, unless the listener is closed. */
    private void later(Runnable task, long delayMillis) {
        try {
            if (!closed) {
                connector.schedule(task, delayMillis, TimeUnit.MILLISECONDS);
            }
        } catch (RejectedExecutionException closedMeanwhile) {
            // closed: nothing more to do
        }
    }

    private ConnectionFactory factory() throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        String url = configuration.getEventsBrokerUrl().strip();
        if (url.startsWith("amqps:")) {
            factory.useSslProtocol(SSLContext.getDefault());  // the JVM's trust store, not the client's trust-all default
            factory.enableHostnameVerification();
        }
        factory.setUri(url);
        factory.setAutomaticRecoveryEnabled(true);
        factory.setTopologyRecoveryEnabled(true);
        factory.setNetworkRecoveryInterval(configuration.getEventsRetryMillis());
        factory.setConnectionTimeout(configuration.getConnectTimeoutMillis());
        factory.setThreadFactory(daemon("identity-events"));  // never what keeps a JVM alive
        return factory;
    }

    /** The engine's queue, bound to each exchange with each routing key, consumed with automatic acks. */
    private void subscribe(Channel channel) throws Exception {
        String queue = BridgeConfiguration.blank(configuration.getEventsQueue()) ? "" : configuration.getEventsQueue().strip();
        queue = channel.queueDeclare(queue, false, true, true, null).getQueue();
        for (String exchange : configuration.eventsExchangeNames()) {
            channel.exchangeDeclare(exchange, "topic", true);  // as the backend declares it
            for (String key : EventInvalidation.ROUTING_KEYS) {
                channel.queueBind(queue, exchange, key);
            }
        }
        channel.basicConsume(queue, true, new DefaultConsumer(channel) {
            @Override
            public void handleDelivery(String tag, Envelope envelope, AMQP.BasicProperties properties, byte[] body) {
                received(envelope, properties);
            }

            @Override
            public void handleCancel(String tag) {
                listening = false;
                LOG.warning(() -> "The broker cancelled the identity cache's queue at " + where + "; listening again");
                later(() -> {
                    Connection old = connection;
                    if (old != null) {
                        old.abort(2000);
                    }
                    connect();
                }, 0);
            }
        });
    }

    private void received(Envelope envelope, AMQP.BasicProperties properties) {
        try {
            Map<String, Object> headers = properties.getHeaders() == null ? Map.of() : properties.getHeaders();
            String type = header(headers, "ce-type");
            String subject = header(headers, "ce-subject");
            String done = invalidation.apply(type == null ? envelope.getRoutingKey() : type, subject,
                header(headers, "ce-tenant"));
            LOG.fine(() -> "Identity event " + type + " about " + subject + ": dropped " + done);
        } catch (RuntimeException e) {
            cache.invalidateAll();
            LOG.log(Level.WARNING, "An identity event could not be read; the whole cache was dropped", e);
        }
    }

    private static String header(Map<String, Object> headers, String name) {
        Object value = headers.get(name);
        return value == null ? null : value.toString();  // AMQP strings arrive as LongString
    }

    /** The URL for the log, its password left out. */
    static String withoutPassword(String url) {
        return url.replaceFirst("^(amqps?://[^:@/]*):[^@/]*@", "$1:***@");
    }

    private static ThreadFactory daemon(String prefix) {
        return runnable -> {
            Thread thread = new Thread(runnable, prefix + "-" + THREADS.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}
