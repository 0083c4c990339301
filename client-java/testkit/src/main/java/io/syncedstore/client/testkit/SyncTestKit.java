package io.syncedstore.client.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Values;
import io.syncedstore.client.ConnectionStatus;
import io.syncedstore.client.ReadTransaction;
import io.syncedstore.client.SyncClient;
import io.syncedstore.client.SyncOptions;
import io.syncedstore.client.impl.SyncClientImpl;
import io.syncedstore.gateway.Main;
import io.syncedstore.gateway.SyncServer;
import io.syncedstore.persistence.SyncConfig;
import io.syncedstore.runtime.platform.PlatformServices;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Tests of an app against the real server, in-process: a server on 127.0.0.1 (a free port) with
 * a fresh H2 file in a temporary directory and the {@code dev} auth provider, clients connected
 * as any user, control of each client's network, and waits that fail with a description of what
 * each client holds.
 *
 * <pre>{@code
 * try (SyncTestKit kit = SyncTestKit.start(TodoApp.DEFINITION)) {
 *   SyncClient alice = kit.createClient("alice");
 *   SyncClient bob = kit.createClient("bob");
 *   alice.mutate(new SetTodo("t1", "milk", Optional.empty(), 1L));
 *   kit.waitForKeyExists(bob, "todos", "t1");
 *   kit.waitForAllClients();
 * }
 * }</pre>
 *
 * <p>Waits poll every 5 ms up to the kit's timeout (10 s unless set) and then throw an
 * {@link AssertionError} naming what was awaited and the state of the client(s).
 */
public final class SyncTestKit implements AutoCloseable {
  /** The default bound of every wait. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
  /** The instance clients connect to unless the test names another. */
  public static final String DEFAULT_INSTANCE = "test";

  /** JSON equality where numbers compare by value: 42 written as an int equals an expected 42L. */
  private static final Comparator<JsonNode> SAME_JSON = (a, b) -> {
    if (a.isNumber() && b.isNumber()) {
      return a.decimalValue().compareTo(b.decimalValue());
    }
    return a.equals(b) ? 0 : 1;
  };

  private record Tracked(SyncClientImpl client, String userId, String appName, String instanceId) {}

  private final List<AppDefinition> apps;
  private final Path dir;
  private final boolean ownsDir;
  private final Duration timeout;
  private final Map<String, Object> serverConfig;
  private final List<Tracked> clients = new CopyOnWriteArrayList<>();
  private final Map<String, io.syncedstore.api.PlatformService> services = new java.util.concurrent.ConcurrentHashMap<>();
  private final AtomicInteger storageDirs = new AtomicInteger();
  private SyncServer server;
  private int port;

  private SyncTestKit(Builder b) {
    this.apps = List.copyOf(b.apps);
    this.timeout = b.timeout;
    this.serverConfig = Map.copyOf(b.serverConfig);
    try {
      this.ownsDir = b.dataDir == null;
      this.dir = b.dataDir != null ? b.dataDir : Files.createTempDirectory("synced-store-testkit");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a temporary directory: " + e.getMessage(), e);
    }
    this.server = startServer(0);
    this.port = server.port();
  }

  /**
   * Starts a kit with the defaults.
   *
   * @param apps the apps the server runs (clients run the same definitions)
   * @return the started kit; close it to stop its clients and server and delete its files
   */
  public static SyncTestKit start(AppDefinition... apps) {
    return builder(apps).start();
  }

  /**
   * @param apps the apps the server runs
   * @return a builder for a kit with settings of its own
   */
  public static Builder builder(AppDefinition... apps) {
    return new Builder(List.of(apps));
  }

  private SyncServer startServer(int onPort) {
    Map<String, Object> config = new HashMap<>(Map.of(
        "synced-store.http.port", onPort,
        "synced-store.http.host", "127.0.0.1",
        "synced-store.data-dir", dir.resolve("server").toString(),
        "synced-store.auth.provider", "dev"));
    // Tests push as fast as they can: quotas out of the way unless the test sets them (serverSetting).
    config.putAll(io.syncedstore.gateway.Quotas.liftedSettings(true));
    config.putAll(serverConfig);
    SyncServer started = SyncServer.start(SyncConfig.load(ConfigFactory.parseMap(config), Main.GATEWAY_DEFAULTS), apps);
    services.forEach((name, service) -> PlatformServices.get(started.engine().system()).register(name, service));
    return started;
  }

  /**
   * Replaces (or adds) platform service {@code name} on the server, now and after every restart:
   * how a test stubs {@code http.fetch}.
   *
   * @param name the service's name, e.g. {@code http.fetch}
   * @param service what actions get when they call it
   */
  public synchronized void registerService(String name, io.syncedstore.api.PlatformService service) {
    services.put(name, service);
    if (server != null) {
      PlatformServices.get(server.engine().system()).register(name, service);
    }
  }

  // ---- server ----------------------------------------------------------------------------

  /** @return the server's base URL, {@code ws://127.0.0.1:port} */
  public String serverUrl() {
    return "ws://127.0.0.1:" + port;
  }

  /** @return the server's port (the same across {@link #restartServer()}) */
  public int port() {
    return port;
  }

  /** @return the running server; throws while it is stopped */
  public synchronized SyncServer server() {
    if (server == null) {
      throw new IllegalStateException("the server is stopped");
    }
    return server;
  }

  /** Stops the server (as SIGTERM would); its clients go offline and keep retrying. */
  public synchronized void stopServer() {
    if (server != null) {
      server.close();
      server = null;
    }
  }

  /** Starts the server again on the same port and H2 file. */
  public synchronized void startServer() {
    if (server == null) {
      server = startServer(port);
    }
  }

  /** Stops and starts the server on the same port and H2 file. */
  public void restartServer() {
    stopServer();
    startServer();
  }

  // ---- clients ---------------------------------------------------------------------------

  /**
   * Connects a client of the kit's first app to {@link #DEFAULT_INSTANCE} as {@code userId}.
   *
   * @param userId the user, or {@code null} for an anonymous client
   * @return the client, connecting in the background (see {@link #waitForAllClients()})
   */
  public SyncClient createClient(String userId) {
    return createClient(userId, b -> {});
  }

  /**
   * Like {@link #createClient(String)}, with options of the test's own, e.g.
   * {@code b -> b.instanceId("room-2").storageDirectory(kit.newStorageDirectory())}.
   *
   * @param userId the user, or {@code null} for an anonymous client
   * @param customize changes the options after the kit's defaults are set
   * @return the client
   */
  public SyncClient createClient(String userId, Consumer<SyncOptions.Builder> customize) {
    SyncOptions.Builder b = SyncOptions.builder()
        .server(serverUrl())
        .app(apps.get(0))
        .instanceId(DEFAULT_INSTANCE)
        .auth(() -> userId == null ? "" : "dev:" + userId)
        .reconnectDelay(Duration.ofMillis(20), Duration.ofMillis(500));
    customize.accept(b);
    SyncOptions options = b.build();
    SyncClientImpl client = (SyncClientImpl) SyncClient.connect(options);
    clients.add(new Tracked(client, userId, options.app().name(), options.instanceId()));
    return client;
  }

  /** @return a new, empty directory for a client's {@link SyncOptions.Builder#storageDirectory storage} */
  public Path newStorageDirectory() {
    Path p = dir.resolve("client-" + storageDirs.incrementAndGet());
    try {
      return Files.createDirectories(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * @param client a client of this kit
   * @return the control of its network
   */
  public NetworkControl network(SyncClient client) {
    return new NetworkControl(tracked(client).client());
  }

  private Tracked tracked(SyncClient client) {
    return clients.stream().filter(t -> t.client() == client).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("not a client of this kit: " + client.clientId()));
  }

  /**
   * Reads {@code client}'s confirmed state only: what the server has sent, without the pending
   * mutations (which {@link SyncClient#query} includes).
   *
   * @param client a client of this kit
   * @param query the read
   * @return its result
   */
  public <R> R queryConfirmed(SyncClient client, Function<ReadTransaction, R> query) {
    return tracked(client).client().queryConfirmed(query);
  }

  // ---- waits -----------------------------------------------------------------------------

  /**
   * Waits until {@code client}'s view has an entry {@code key} in public table {@code table}.
   *
   * @param client the client
   * @param table the table
   * @param key the item key
   */
  public void waitForKeyExists(SyncClient client, String table, String key) {
    waitUntil(client, table + "/" + key + " to exist", tx -> tx.table(table).has(key), table);
  }

  /**
   * Waits until {@code client}'s view has no entry {@code key} in public table {@code table}.
   *
   * @param client the client
   * @param table the table
   * @param key the item key
   */
  public void waitForKeyMissing(SyncClient client, String table, String key) {
    waitUntil(client, table + "/" + key + " to be absent", tx -> !tx.table(table).has(key), table);
  }

  /**
   * Waits until the value of {@code key} in public table {@code table} satisfies {@code match}.
   *
   * @param client the client
   * @param table the table
   * @param key the item key
   * @param match tested on each value seen (as JSON)
   */
  public void waitForKeyMatch(SyncClient client, String table, String key, Predicate<JsonNode> match) {
    waitUntil(client, table + "/" + key + " to match", tx -> tx.table(table).get(key).map(match::test).orElse(false), table);
  }

  /**
   * Waits until the value of {@code key}, read as {@code type}, satisfies {@code match}.
   *
   * @param client the client
   * @param table the table
   * @param key the item key
   * @param type the value's type
   * @param match tested on each value seen
   */
  public <T> void waitForKeyMatch(SyncClient client, String table, String key, Class<T> type, Predicate<T> match) {
    waitUntil(client, table + "/" + key + " to match", tx -> tx.table(table).get(key, type).map(match::test).orElse(false), table);
  }

  /**
   * Waits until the value of {@code key} equals {@code expected} (compared as JSON, so a record
   * and the map of its fields are equal, and numbers by value: {@code 42} and {@code 42L} are equal).
   *
   * @param client the client
   * @param table the table
   * @param key the item key
   * @param expected the value
   */
  public void waitForValue(SyncClient client, String table, String key, Object expected) {
    JsonNode want = Values.toJson(expected, 64, "expected value");
    waitUntil(client, table + "/" + key + " to be " + want, tx -> tx.table(table).get(key).map(v -> v.equals(SAME_JSON, want))
        .orElse(false), table);
  }

  /**
   * Waits until {@code condition} holds on {@code client}'s view.
   *
   * @param client the client
   * @param what what is awaited, for the error
   * @param condition read on the view
   */
  public void waitUntil(SyncClient client, String what, Predicate<ReadTransaction> condition) {
    waitUntil(client, what, condition, null);
  }

  /**
   * Waits until {@code condition} holds on {@code client}'s confirmed state (without its pending
   * mutations), e.g. to know that another client's write has reached it while its own mutation
   * is still pending.
   *
   * @param client the client
   * @param what what is awaited, for the error
   * @param condition read on the confirmed state
   */
  public void waitUntilConfirmed(SyncClient client, String what, Predicate<ReadTransaction> condition) {
    Tracked t = tracked(client);
    waitFor(describe(t) + ": confirmed state " + what, () -> t.client().queryConfirmed(condition::test), () -> state(t, null));
  }

  private void waitUntil(SyncClient client, String what, Predicate<ReadTransaction> condition, String table) {
    Tracked t = tracked(client);
    waitFor(describe(t) + ": " + what, () -> client.query(condition::test), () -> state(t, table));
  }

  /**
   * Waits until every open client of the kit is connected, has nothing pending, and holds
   * everything the server has for it: the point where every mutation made so far has been applied
   * by the server and seen by every client that may see it. (Clients need not share a cookie: a
   * commit that holds nothing a client may see, such as another user's private row, sends it no
   * poke.) The kit asks the server, as a pull from each client's cookie, whether anything is
   * missing. A stopped client fails the wait at once.
   */
  public void waitForAllClients() {
    waitFor("all clients to be online, with nothing pending and nothing missing", () -> {
      List<Tracked> open = open();
      for (Tracked t : open) {
        if (t.client().connectionStatus() == ConnectionStatus.STOPPED) {
          throw new AssertionError(describe(t) + " was stopped by the server; " + allStates());
        }
        if (!t.client().isOnline() || t.client().pendingCount() > 0 || t.client().confirmedCookie() == null) {
          return false;
        }
      }
      for (Tracked t : open) {
        if (!upToDate(t)) {
          return false;
        }
      }
      return true;
    }, this::allStates);
  }

  /** @return whether the server has nothing for {@code t} beyond its cookie: no rows, no confirmations */
  private boolean upToDate(Tracked t) {
    SyncServer s;
    synchronized (this) {
      s = server;
    }
    if (s == null) {
      return false;
    }
    try {
      var engine = s.engine();
      var pull = engine.pull(engine.instanceId(t.appName(), t.instanceId()), t.client().clientGroupId(),
          t.client().confirmedCookie(), t.userId()).toCompletableFuture().get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
      // The same cookie: nothing was written since (this covers an instance nothing was ever written to).
      return pull.cookie().equals(t.client().confirmedCookie())
          || (!pull.reset() && pull.patch().isEmpty() && pull.lastMutationIdChanges().isEmpty());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (Exception e) {
      return false; // the server is restarting: try again
    }
  }

  /**
   * Waits until no action runs, waits or is due on the instances of the kit's open clients, and
   * then until all clients are up to date ({@link #waitForAllClients()}): enqueued actions have
   * finished and their completion is recorded (a restart now does not run them again). Scheduled
   * actions not yet due are not waited for.
   */
  public void waitForActions() {
    waitFor("no action running, waiting or due", () -> {
      SyncServer s;
      synchronized (this) {
        s = server;
      }
      if (s == null) {
        return false;
      }
      for (Tracked t : open()) {
        try {
          var engine = s.engine();
          if (!engine.actionStatus(engine.instanceId(t.appName(), t.instanceId())).toCompletableFuture()
              .get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS).idle()) {
            return false;
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        } catch (Exception e) {
          return false;
        }
      }
      return true;
    }, this::allStates);
    waitForAllClients();
  }

  /**
   * Waits until {@code condition} holds.
   *
   * @param what what is awaited, for the error
   * @param condition polled
   * @param state describes the state when the wait times out
   */
  public void waitFor(String what, Supplier<Boolean> condition, Supplier<String> state) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.get()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for " + what + "; " + state.get());
      }
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting for " + what);
      }
    }
  }

  private List<Tracked> open() {
    return clients.stream().filter(t -> t.client().connectionStatus() != ConnectionStatus.CLOSED).toList();
  }

  private static String describe(Tracked t) {
    return "client " + t.client().clientId() + " (" + (t.userId() == null ? "anonymous" : "user " + t.userId())
        + ", instance " + t.instanceId() + ")";
  }

  private String state(Tracked t, String table) {
    SyncClientImpl c = t.client();
    StringBuilder sb = new StringBuilder();
    sb.append(describe(t)).append(" is ").append(c.connectionStatus()).append(", ").append(c.pendingCount())
        .append(" pending, cookie ").append(c.confirmedCookie());
    if (table != null) {
      List<String> keys = c.query(tx -> tx.table(table).keys());
      sb.append(", ").append(table).append(" has ").append(keys.size() > 20
          ? keys.subList(0, 20) + " and " + (keys.size() - 20) + " more" : keys);
    }
    return sb.toString();
  }

  private String allStates() {
    return open().stream().map(t -> state(t, null)).collect(Collectors.joining("; "));
  }

  /** Closes every client, stops the server and deletes the kit's files (when it created them). */
  @Override
  public void close() {
    for (Tracked t : clients) {
      t.client().close();
    }
    stopServer();
    if (ownsDir) {
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException e) {
        // best effort: it is a temporary directory
      }
    }
  }

  /** Settings of a {@link SyncTestKit}. */
  public static final class Builder {
    private final List<AppDefinition> apps;
    private Duration timeout = DEFAULT_TIMEOUT;
    private Path dataDir;
    private final Map<String, Object> serverConfig = new HashMap<>();

    private Builder(List<AppDefinition> apps) {
      if (apps.isEmpty()) {
        throw new IllegalArgumentException("a test kit needs at least one app");
      }
      this.apps = apps;
    }

    /**
     * @param timeout the bound of every wait
     * @return this builder
     */
    public Builder timeout(Duration timeout) {
      this.timeout = Objects.requireNonNull(timeout);
      return this;
    }

    /**
     * @param dir where the server's H2 file and client storages go, kept after close; a new
     *     temporary directory (deleted on close) when not set
     * @return this builder
     */
    public Builder dataDir(Path dir) {
      this.dataDir = dir;
      return this;
    }

    /**
     * @param path a server setting, e.g. {@code synced-store.session.max-queued-messages}
     * @param value its value
     * @return this builder
     */
    public Builder serverSetting(String path, Object value) {
      serverConfig.put(path, value);
      return this;
    }

    /** @return the started kit */
    public SyncTestKit start() {
      return new SyncTestKit(this);
    }
  }
}
