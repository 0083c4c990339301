package io.syncedstore.client;

import io.syncedstore.api.AppDefinition;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/**
 * How a {@link SyncClient} connects: build with {@link #builder()}. Immutable.
 *
 * <pre>{@code
 * SyncOptions options = SyncOptions.builder()
 *     .server("ws://127.0.0.1:8080")
 *     .app(TodoApp.DEFINITION)
 *     .instanceId("list-1")
 *     .auth(() -> "dev:alice")
 *     .build();
 * }</pre>
 *
 * <p>A client of a cluster can be given every node with {@link Builder#servers(List)}: it connects
 * to the first and, whenever a connection attempt fails or an open connection drops, makes its
 * next attempt to the next URL in the list (round robin).
 */
public final class SyncOptions {
  /** First delay before a reconnect. */
  public static final Duration DEFAULT_RECONNECT_MIN_DELAY = Duration.ofMillis(250);
  /** Largest delay between reconnects. */
  public static final Duration DEFAULT_RECONNECT_MAX_DELAY = Duration.ofSeconds(30);
  /** A ping is sent this often while connected (the server closes connections idle for 60 s). */
  public static final Duration DEFAULT_PING_INTERVAL = Duration.ofSeconds(30);
  /** Bound on opening a socket. */
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
  /** Most mutations pending at once; every poke re-runs them all. */
  public static final int DEFAULT_MAX_PENDING_MUTATIONS = 10_000;

  private final List<URI> servers;
  private final AppDefinition app;
  private final String instanceId;
  private final Optional<String> clientGroupId;
  private final Optional<String> clientId;
  private final Supplier<CompletionStage<String>> auth;
  private final Clock clock;
  private final Supplier<String> idSource;
  private final ClientStorage storage;
  private final Optional<Path> storageDirectory;
  private final ConnectionListener connectionListener;
  private final MutationListener mutationListener;
  private final Duration reconnectMinDelay;
  private final Duration reconnectMaxDelay;
  private final Duration pingInterval;
  private final Duration connectTimeout;
  private final int maxPendingMutations;

  private SyncOptions(Builder b) {
    this.servers = Objects.requireNonNull(b.servers, "server");
    this.app = Objects.requireNonNull(b.app, "app");
    this.instanceId = Objects.requireNonNull(b.instanceId, "instanceId");
    this.clientGroupId = Optional.ofNullable(b.clientGroupId);
    this.clientId = Optional.ofNullable(b.clientId);
    this.auth = b.auth;
    this.clock = b.clock;
    this.idSource = b.idSource;
    this.storage = b.storage;
    this.storageDirectory = Optional.ofNullable(b.storageDirectory);
    this.connectionListener = b.connectionListener;
    this.mutationListener = b.mutationListener;
    this.reconnectMinDelay = b.reconnectMinDelay;
    this.reconnectMaxDelay = b.reconnectMaxDelay;
    this.pingInterval = b.pingInterval;
    this.connectTimeout = b.connectTimeout;
    this.maxPendingMutations = b.maxPendingMutations;
  }

  /** @return a builder with the defaults */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * @return the server's base URL, {@code ws://host:port}; when several were given with {@link
   *     Builder#servers(List)}, the first (the one the client connects to first)
   */
  public URI server() {
    return servers.get(0);
  }

  /**
   * @return every server base URL, in the order the client tries them (one element when set with
   *     {@link Builder#server(URI)})
   */
  public List<URI> servers() {
    return servers;
  }

  /** @return the app whose mutators run locally; the server must run the same definition */
  public AppDefinition app() {
    return app;
  }

  /** @return the app instance to sync */
  public String instanceId() {
    return instanceId;
  }

  /** @return the client group id, when given */
  public Optional<String> clientGroupId() {
    return clientGroupId;
  }

  /** @return the client id, when given */
  public Optional<String> clientId() {
    return clientId;
  }

  /** @return the token source, called on every (re)connect; an empty token is anonymous */
  public Supplier<CompletionStage<String>> auth() {
    return auth;
  }

  /** @return the clock that stamps mutations */
  public Clock clock() {
    return clock;
  }

  /** @return the source of generated ids */
  public Supplier<String> idSource() {
    return idSource;
  }

  /** @return the storage, used when no {@link #storageDirectory()} is set */
  public ClientStorage storage() {
    return storage;
  }

  /** @return the directory the client opens as its {@link ClientStorage#directory storage}, when set */
  public Optional<Path> storageDirectory() {
    return storageDirectory;
  }

  /** @return the connection listener */
  public ConnectionListener connectionListener() {
    return connectionListener;
  }

  /** @return the mutation listener */
  public MutationListener mutationListener() {
    return mutationListener;
  }

  /** @return the first reconnect delay */
  public Duration reconnectMinDelay() {
    return reconnectMinDelay;
  }

  /** @return the largest reconnect delay */
  public Duration reconnectMaxDelay() {
    return reconnectMaxDelay;
  }

  /** @return how often to ping while connected */
  public Duration pingInterval() {
    return pingInterval;
  }

  /** @return the bound on opening a socket */
  public Duration connectTimeout() {
    return connectTimeout;
  }

  /** @return the most mutations pending at once; {@code mutate} refuses more with {@code OVERLOADED} */
  public int maxPendingMutations() {
    return maxPendingMutations;
  }

  /** Builds {@link SyncOptions}; {@code server} (or {@code servers}), {@code app} and {@code instanceId} are required. */
  public static final class Builder {
    private List<URI> servers;
    private AppDefinition app;
    private String instanceId;
    private String clientGroupId;
    private String clientId;
    private Supplier<CompletionStage<String>> auth = () -> CompletableFuture.completedFuture("");
    private Clock clock = Clock.systemUTC();
    private Supplier<String> idSource = () -> UUID.randomUUID().toString();
    private ClientStorage storage = ClientStorage.inMemory();
    private Path storageDirectory;
    private ConnectionListener connectionListener = new ConnectionListener() {};
    private MutationListener mutationListener = new MutationListener() {};
    private Duration reconnectMinDelay = DEFAULT_RECONNECT_MIN_DELAY;
    private Duration reconnectMaxDelay = DEFAULT_RECONNECT_MAX_DELAY;
    private Duration pingInterval = DEFAULT_PING_INTERVAL;
    private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
    private int maxPendingMutations = DEFAULT_MAX_PENDING_MUTATIONS;

    private Builder() {}

    /** @param url the server's base URL, {@code ws://host:port} (or {@code wss://}) */
    public Builder server(String url) {
      return server(URI.create(url));
    }

    /** @param url the server's base URL */
    public Builder server(URI url) {
      this.servers = List.of(checkedServer(url));
      return this;
    }

    /**
     * Gives the client every node of a cluster (any node serves any instance). The client connects
     * to the first URL; whenever a connection attempt fails or an open connection drops, the next
     * attempt, after the usual {@link #reconnectDelay reconnect delay}, goes to the next URL in the
     * list, wrapping around at its end. The client never stays on a URL after a failure there: a
     * list of one behaves as {@link #server(URI)}. To spread clients over the nodes, give each
     * client the list in a different order (its "home" node first).
     *
     * @param urls the servers' base URLs, {@code ws://host:port} (or {@code wss://}); at least one,
     *     no duplicates
     */
    public Builder servers(List<URI> urls) {
      Objects.requireNonNull(urls, "urls");
      if (urls.isEmpty()) {
        throw new IllegalArgumentException("servers: need at least one URL");
      }
      List<URI> checked = urls.stream().map(Builder::checkedServer).toList();
      if (checked.stream().distinct().count() != checked.size()) {
        throw new IllegalArgumentException("servers: a URL is listed twice in " + checked);
      }
      this.servers = checked;
      return this;
    }

    /**
     * Like {@link #servers(List)}.
     *
     * @param urls the servers' base URLs, {@code ws://host:port}; at least one
     */
    public Builder servers(String... urls) {
      return servers(java.util.Arrays.stream(urls).map(URI::create).toList());
    }

    private static URI checkedServer(URI url) {
      Objects.requireNonNull(url, "url");
      String scheme = url.getScheme();
      if (!"ws".equals(scheme) && !"wss".equals(scheme)) {
        throw new IllegalArgumentException("server URL must be ws:// or wss://, got " + url);
      }
      return url;
    }

    /** @param app the app definition, the same the server runs */
    public Builder app(AppDefinition app) {
      this.app = app;
      return this;
    }

    /** @param instanceId the instance to sync */
    public Builder instanceId(String instanceId) {
      this.instanceId = instanceId;
      return this;
    }

    /** @param clientGroupId the client group; generated when not set */
    public Builder clientGroupId(String clientGroupId) {
      this.clientGroupId = clientGroupId;
      return this;
    }

    /** @param clientId the client; generated when not set */
    public Builder clientId(String clientId) {
      this.clientId = clientId;
      return this;
    }

    /** @param auth returns the token, called on every (re)connect; {@code null} or empty is anonymous */
    public Builder auth(Supplier<String> auth) {
      Objects.requireNonNull(auth, "auth");
      this.auth = () -> CompletableFuture.completedFuture(auth.get());
      return this;
    }

    /** @param auth returns the token asynchronously, called on every (re)connect */
    public Builder authAsync(Supplier<CompletionStage<String>> auth) {
      this.auth = Objects.requireNonNull(auth, "auth");
      return this;
    }

    /** @param clock stamps mutations (for tests) */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** @param idSource generates the client group and client ids when not given (for tests) */
    public Builder idSource(Supplier<String> idSource) {
      this.idSource = Objects.requireNonNull(idSource, "idSource");
      return this;
    }

    /** @param storage where the client keeps its state; {@link ClientStorage#inMemory()} by default */
    public Builder storage(ClientStorage storage) {
      this.storage = Objects.requireNonNull(storage, "storage");
      return this;
    }

    /**
     * Keeps the client's state in {@code directory} ({@link ClientStorage#directory}), opened when
     * the client starts: its pending mutations, confirmed state, ids and sequences survive a
     * restart of the process. Use one directory per client (per app instance, user and device).
     *
     * @param directory the directory, created when missing
     */
    public Builder storageDirectory(Path directory) {
      this.storageDirectory = Objects.requireNonNull(directory, "directory");
      return this;
    }

    /** @param listener hears about the connection */
    public Builder connectionListener(ConnectionListener listener) {
      this.connectionListener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /** @param listener hears about failed mutations */
    public Builder mutationListener(MutationListener listener) {
      this.mutationListener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /**
     * @param min the first delay before a reconnect
     * @param max the largest delay; delays double up to it, with jitter
     */
    public Builder reconnectDelay(Duration min, Duration max) {
      if (min.isNegative() || min.isZero() || max.compareTo(min) < 0) {
        throw new IllegalArgumentException("need 0 < min <= max, got " + min + ", " + max);
      }
      this.reconnectMinDelay = min;
      this.reconnectMaxDelay = max;
      return this;
    }

    /** @param interval how often to ping while connected */
    public Builder pingInterval(Duration interval) {
      this.pingInterval = Objects.requireNonNull(interval, "interval");
      return this;
    }

    /** @param timeout bound on opening a socket */
    public Builder connectTimeout(Duration timeout) {
      this.connectTimeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    /**
     * @param max the most mutations pending at once (default 10,000): beyond it {@code mutate}
     *     throws {@code OVERLOADED} until the server confirms some. It bounds the memory of a
     *     client that stays offline and the time of each rebase (every poke re-runs them all).
     */
    public Builder maxPendingMutations(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxPendingMutations must be at least 1, got " + max);
      }
      this.maxPendingMutations = max;
      return this;
    }

    /** @return the options */
    public SyncOptions build() {
      return new SyncOptions(this);
    }
  }
}
