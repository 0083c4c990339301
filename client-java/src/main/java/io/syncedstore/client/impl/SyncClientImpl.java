package io.syncedstore.client.impl;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Entry;
import io.syncedstore.api.MutatorDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.Values;
import io.syncedstore.api.exec.MutationExecutor;
import io.syncedstore.api.exec.MutationInvocation;
import io.syncedstore.api.exec.MutationOutcome;
import io.syncedstore.api.protocol.ClientMessage;
import io.syncedstore.api.protocol.CloseCodes;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.api.protocol.ServerMessage;
import io.syncedstore.api.store.EntryStore;
import io.syncedstore.api.store.Overlay;
import io.syncedstore.api.store.Row;
import io.syncedstore.api.store.TableAddress;
import io.syncedstore.api.store.Write;
import io.syncedstore.client.ClientStorage;
import io.syncedstore.client.ConnectionStatus;
import io.syncedstore.client.MutationFailure;
import io.syncedstore.client.MutationHandle;
import io.syncedstore.client.ReadTransaction;
import io.syncedstore.client.Sequences;
import io.syncedstore.client.Subscription;
import io.syncedstore.client.SyncClient;
import io.syncedstore.client.SyncOptions;
import io.syncedstore.client.TableChanges;
import io.syncedstore.client.TableListener;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The {@link SyncClient}. All state is guarded by one lock; the socket's thread applies pokes
 * under it, and every callback is handed to a single callback thread.
 *
 * <p>The view is an {@link Overlay} over the confirmed {@link EntryStore} holding the writes of
 * the pending mutations, re-run in id order through the app's own mutators
 * ({@code isServer == false}) whenever the confirmed state changes.
 */
public final class SyncClientImpl implements SyncClient {
  private static final System.Logger LOG = System.getLogger(SyncClientImpl.class.getName());
  /** Close codes after which a retry cannot succeed. */
  private static final int MAX_MUTATIONS_PER_PUSH = 1000;

  private record Pending(MutationRequest request, CompletableFuture<Void> confirmed) {}

  /** An action call: sent once the mutations made before it are confirmed, answered on the connection it was sent on. */
  private static final class PendingAction {
    final String id;
    final String name;
    final JsonNode args;
    /** Sent once no pending mutation has an id up to this one. */
    long waitFor;
    final CompletableFuture<JsonNode> result = new CompletableFuture<>();
    Connection sentOn;

    PendingAction(String id, String name, JsonNode args, long waitFor) {
      this.id = id;
      this.name = name;
      this.args = args;
      this.waitFor = waitFor;
    }
  }

  /** Most action calls waiting or running at once per client. */
  private static final int MAX_ACTIONS = 1000;

  /** Something that re-reads the view after it changed. */
  private interface ViewWatcher extends Subscription {
    void refreshLocked(ViewTransaction tx);
  }

  private final class Sub<R> implements ViewWatcher {
    final Function<ReadTransaction, R> query;
    final Consumer<R> onResult;
    Object last;
    boolean delivered;

    Sub(Function<ReadTransaction, R> query, Consumer<R> onResult) {
      this.query = query;
      this.onResult = onResult;
    }

    @Override
    public void refreshLocked(ViewTransaction tx) {
      R result;
      try {
        result = query.apply(tx);
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.WARNING, "subscription query failed", e);
        reportError(e);
        return;
      }
      if (delivered && Objects.equals(result, last)) {
        return;
      }
      delivered = true;
      last = result;
      callback(() -> {
        if (subscriptions.contains(this)) {
          onResult.accept(result);
        }
      });
    }

    @Override
    public void close() {
      subscriptions.remove(this);
    }
  }

  /** A {@link TableListener}: diffs the table against what it last reported. */
  private final class TableSub implements ViewWatcher {
    final String table;
    final boolean privateTier;
    final TableListener listener;
    Map<String, Entry> last = Map.of();
    boolean delivered;

    TableSub(String table, boolean privateTier, TableListener listener) {
      this.table = table;
      this.privateTier = privateTier;
      this.listener = listener;
    }

    @Override
    public void refreshLocked(ViewTransaction tx) {
      List<Entry> entries = privateTier
          ? (userId == null ? List.of() : tx.privateOfUser(userId).table(table).entries())
          : tx.table(table).entries();
      Map<String, Entry> now = new LinkedHashMap<>(entries.size() * 2);
      List<Entry> added = new ArrayList<>();
      List<Entry> modified = new ArrayList<>();
      for (Entry e : entries) {
        now.put(e.itemKey(), e);
        Entry before = last.get(e.itemKey());
        if (before == null) {
          added.add(e);
        } else if (!before.equals(e)) {
          modified.add(e);
        }
      }
      List<Entry> removed = new ArrayList<>();
      for (Entry e : last.values()) {
        if (!now.containsKey(e.itemKey())) {
          removed.add(e);
        }
      }
      TableChanges changes = new TableChanges(added, modified, removed);
      if (delivered && changes.isEmpty()) {
        return;
      }
      delivered = true;
      last = now;
      List<Entry> snapshot = List.copyOf(entries);
      callback(() -> {
        if (subscriptions.contains(this)) {
          listener.onChange(snapshot, changes);
        }
      });
    }

    @Override
    public void close() {
      subscriptions.remove(this);
    }
  }

  private final SyncOptions options;
  private final io.syncedstore.client.UniqueIds uniqueIds;
  private final AppDefinition app;
  private final MutationExecutor executor;
  /** The sync URL on each server of {@link SyncOptions#servers()}, in the order they are tried. */
  private final List<URI> uris;
  private final ClientStorage storage;
  private final String clientGroupId;
  private final String clientId;
  private final Sequences sequences;
  /** The sequence counters as last persisted, for snapshots of the storage. */
  private final Map<String, Long> sequenceCounters;
  private final HttpClient http;
  private final ExecutorService callbacks;
  private final ScheduledExecutorService scheduler;
  private final List<ViewWatcher> subscriptions = new CopyOnWriteArrayList<>();
  private final CompletableFuture<Void> bootstrapped = new CompletableFuture<>();
  private final Object lock = new Object();
  private volatile Thread callbackThread;

  // All below guarded by lock.
  private EntryStore confirmed = new EntryStore();
  private long localVersion;
  private String cookie;
  private String userId;
  private final TreeMap<Long, Pending> pending = new TreeMap<>();
  private Overlay view;
  private long nextMutationId = 1;
  /** The highest id pushed on the current connection. */
  private long sentUpTo;
  /** The {@code connected.lastMutationId} not yet applied: it confirms with the next poke. */
  private long connectedLastId;
  private boolean holdOutbound;
  private boolean holdInbound;
  /** Whether the pending mutations' ids are known to be above the server's (true once connected, or when loaded from storage). */
  private boolean idsChecked;
  private final ArrayDeque<ServerMessage> heldInbound = new ArrayDeque<>();
  private final LinkedHashMap<String, PendingAction> actions = new LinkedHashMap<>();
  private long actionsCalled;
  private Connection connection;
  /** Index in {@link #uris} of the server the next (or current) connection goes to. */
  private int serverIndex;
  private ConnectionStatus status = ConnectionStatus.CONNECTING;
  private int attempts;
  /**
   * Set by a 4429 close, cleared when a poke confirms pending mutations: until then a successful
   * {@code connected} does not reset the backoff, since a client thrown out again at its first push
   * would otherwise reconnect at the same short delay each time (hello takes the one message the
   * retry-after waited for, the push is refused again) without ever backing off.
   */
  private boolean rateLimited;
  private boolean closed;

  private SyncClientImpl(SyncOptions options, ClientStorage storage, Optional<ClientStorage.Stored> stored) {
    this.options = options;
    this.uniqueIds = new io.syncedstore.client.UniqueIds(options.clock());
    this.app = options.app();
    this.executor = new MutationExecutor(app, false);
    this.storage = storage;
    if (stored.isPresent()) {
      ClientStorage.Stored s = stored.get();
      checkSameId("client group id", options.clientGroupId(), s.clientGroupId());
      checkSameId("client id", options.clientId(), s.clientId());
      this.clientGroupId = s.clientGroupId();
      this.clientId = s.clientId();
    } else {
      this.clientGroupId = options.clientGroupId().orElseGet(() -> "g-" + options.idSource().get());
      this.clientId = options.clientId().orElseGet(() -> "c-" + options.idSource().get());
    }
    this.uris = options.servers().stream().map(server -> syncUri(server, options)).toList();
    this.http = HttpClient.newBuilder().connectTimeout(options.connectTimeout()).build();
    this.callbacks = Executors.newSingleThreadExecutor(r -> callbackThread = daemon(r, "sync-client-callbacks-" + clientId));
    this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "sync-client-scheduler-" + clientId));
    this.sequenceCounters = new ConcurrentHashMap<>(stored.map(ClientStorage.Stored::sequences).orElse(Map.of()));
    // Not under the client's lock (app code holding it may call next()). The map first: a snapshot taken
    // meanwhile then holds the value even if this record lands in the log it replaces; a failed record
    // leaves a value in the map that was never handed out, which only skips it.
    this.sequences = new Sequences(options.clock(), clientId, Map.copyOf(sequenceCounters), (key, value) -> {
      sequenceCounters.merge(key, value, Math::max);
      storage.sequenceAdvanced(key, value); // before the value is handed out: never repeated after a restart
    });
    storage.identity(clientGroupId, clientId);
    stored.ifPresent(this::restore);
    this.view = view == null ? new Overlay(confirmed) : view;
  }

  private static void checkSameId(String what, Optional<String> given, String stored) {
    if (given.isPresent() && !given.get().equals(stored)) {
      throw new IllegalArgumentException("the storage belongs to " + what + " '" + stored + "', not '" + given.get() + "'");
    }
  }

  /** Shows the stored state at once: the confirmed state with the pending mutations re-run on it. */
  private void restore(ClientStorage.Stored s) {
    synchronized (lock) {
      idsChecked = true; // the storage recorded each id before it was pushed
      localVersion = 1;
      for (Write w : s.confirmed()) {
        confirmed.apply(w, localVersion);
      }
      cookie = s.cookie();
      userId = s.userId();
      for (MutationRequest m : s.pending()) {
        pending.put(m.id(), new Pending(m, new CompletableFuture<>()));
      }
      nextMutationId = Math.max(s.nextMutationId(), pending.isEmpty() ? 1 : pending.lastKey() + 1);
      rebaseLocked();
      if (!pending.isEmpty()) {
        int count = pending.size();
        callback(() -> options.mutationListener().onPendingChanged(count));
      }
    }
  }

  /**
   * Creates and starts a client.
   *
   * @param options how to connect
   * @return the client, connecting in the background
   */
  public static SyncClientImpl start(SyncOptions options) {
    ClientStorage storage = options.storageDirectory().map(ClientStorage::directory).orElse(options.storage());
    SyncClientImpl client;
    try {
      storage.bindTo(options.app().name(), options.instanceId());
      client = new SyncClientImpl(options, storage, storage.load());
    } catch (RuntimeException e) {
      storage.close(); // a client that did not start leaves its storage free for the next one
      throw e;
    }
    long ping = options.pingInterval().toMillis();
    client.scheduler.scheduleAtFixedRate(client::ping, ping, ping, TimeUnit.MILLISECONDS);
    client.scheduler.execute(client::connect);
    return client;
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  private static URI syncUri(URI server, SyncOptions options) {
    String base = server.toString();
    if (base.endsWith("/")) {
      base = base.substring(0, base.length() - 1);
    }
    return URI.create(base + "/v1/apps/" + enc(options.app().name()) + "/instances/" + enc(options.instanceId()) + "/sync");
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  @Override
  public String clientGroupId() {
    return clientGroupId;
  }

  @Override
  public String clientId() {
    return clientId;
  }

  // ---- mutations -------------------------------------------------------------------------

  @Override
  public MutationHandle mutate(String name, Object input) {
    Objects.requireNonNull(name, "name");
    JsonNode args = input instanceof JsonNode node ? node.deepCopy()
        : Values.toJson(input, app.limits().maxJsonDepth(), "input of " + name);
    synchronized (lock) {
      if (closed) {
        throw new IllegalStateException("the client is closed");
      }
      if (pending.size() >= options.maxPendingMutations()) {
        throw new SyncException(ErrorCode.OVERLOADED, pending.size() + " mutations are pending, the most this client allows"
            + " (SyncOptions.maxPendingMutations); wait for the server to confirm some");
      }
      long id = nextMutationId;
      long timestamp = options.clock().millis();
      MutationOutcome outcome = executor.run(view, new MutationInvocation(clientId, id, name, args, userId, timestamp));
      if (outcome instanceof MutationOutcome.Failed failed) {
        throw new SyncException(failed.code(), failed.message());
      }
      MutationRequest request = new MutationRequest(id, name, args, timestamp);
      Pending p = new Pending(request, new CompletableFuture<>());
      // Recorded before it is pushed or shown; when the storage fails, the call fails and the id is not used.
      storage.pendingAdded(request);
      nextMutationId++;
      ((MutationOutcome.Applied) outcome).writes().forEach(view::write);
      pending.put(id, p);
      flushLocked();
      viewChangedLocked();
      pendingChangedLocked();
      return new MutationHandle(id, name, p.confirmed());
    }
  }

  @Override
  public MutationHandle mutate(Object input) {
    Objects.requireNonNull(input, "input");
    List<String> names = new ArrayList<>(2);
    for (MutatorDefinition<?> m : app.mutators().values()) {
      if (m.inputType() == input.getClass()) {
        names.add(m.name());
      }
    }
    if (names.size() != 1) {
      throw new SyncException(ErrorCode.UNKNOWN_MUTATOR, (names.isEmpty() ? "no mutator of app '" + app.name() + "' takes "
          : "mutators " + names + " of app '" + app.name() + "' all take ") + input.getClass().getName()
          + (names.isEmpty() ? "" : "; name the mutator: mutate(name, input)"));
    }
    return mutate(names.get(0), input);
  }

  @Override
  public Sequences sequences() {
    return sequences;
  }

  @Override
  public CompletableFuture<JsonNode> action(String name, Object input) {
    Objects.requireNonNull(name, "name");
    JsonNode args = input instanceof JsonNode node ? node.deepCopy()
        : Values.toJson(input, app.limits().maxJsonDepth(), "input of action " + name);
    synchronized (lock) {
      if (closed) {
        throw new IllegalStateException("the client is closed");
      }
      if (actions.size() >= MAX_ACTIONS) {
        throw new SyncException(ErrorCode.OVERLOADED, actions.size() + " action calls are waiting or running; wait for some to finish");
      }
      PendingAction a = new PendingAction("a" + (++actionsCalled), name, args, pending.isEmpty() ? 0 : pending.lastKey());
      actions.put(a.id, a);
      sendActionsLocked();
      // completed on the callback thread, like confirmed()
      return a.result;
    }
  }

  @Override
  public <O> CompletableFuture<O> action(String name, Object input, Class<O> outputType) {
    return action(name, input).thenApply(out -> Values.convert(out, outputType, "output of action " + name, ErrorCode.INVALID_VALUE));
  }

  /** Sends the action calls whose earlier mutations are all confirmed (or failed), in call order. */
  private void sendActionsLocked() {
    Connection c = connection;
    if (c == null || !c.online || actions.isEmpty()) {
      return;
    }
    long firstPending = pending.isEmpty() ? Long.MAX_VALUE : pending.firstKey();
    for (PendingAction a : actions.values()) {
      if (a.sentOn == null && a.waitFor < firstPending) {
        a.sentOn = c;
        c.send(new ClientMessage.Action(a.id, a.name, a.args));
      }
    }
  }

  private void onActionAnswer(String id, JsonNode output, ServerMessage.ErrorBody error) {
    PendingAction a = actions.remove(id);
    if (a == null) {
      return;
    }
    callback(() -> {
      if (error == null) {
        a.result.complete(output);
      } else {
        a.result.completeExceptionally(new SyncException(error.code(), error.message()));
      }
    });
  }

  /** The connection died: calls it carried may or may not have run, and are not retried. */
  private void failActionsSentOn(Connection c) {
    var it = actions.values().iterator();
    while (it.hasNext()) {
      PendingAction a = it.next();
      if (a.sentOn == c) {
        it.remove();
        callback(() -> a.result.completeExceptionally(new SyncException(ErrorCode.TIMEOUT,
            "the connection was lost while action " + a.name + " ran; it may or may not have run")));
      }
    }
  }

  private void pendingChangedLocked() {
    int count = pending.size();
    callback(() -> options.mutationListener().onPendingChanged(count));
  }

  /** Runs {@code r} on the callback thread; what it throws goes to {@code onError}. */
  private void callback(Runnable r) {
    try {
      callbacks.execute(() -> {
        try {
          r.run();
        } catch (RuntimeException e) {
          LOG.log(System.Logger.Level.WARNING, "a callback threw", e);
          try {
            options.connectionListener().onError(e);
          } catch (RuntimeException again) {
            LOG.log(System.Logger.Level.WARNING, "onError threw", again);
          }
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed: callbacks after close are dropped
    }
  }

  private void reportError(Throwable error) {
    callback(() -> options.connectionListener().onError(error));
  }

  @Override
  public String makeUniqueId() {
    return uniqueIds.next();
  }

  @Override
  public int pendingCount() {
    synchronized (lock) {
      return pending.size();
    }
  }

  /** Re-runs the pending mutations on the confirmed state. */
  private void rebaseLocked() {
    Overlay next = new Overlay(confirmed);
    for (Pending p : pending.values()) {
      MutationRequest m = p.request();
      MutationOutcome outcome = executor.run(next, new MutationInvocation(clientId, m.id(), m.name(), m.args(), userId, m.timestamp()));
      if (outcome instanceof MutationOutcome.Applied applied) {
        applied.writes().forEach(next::write);
      }
      // A mutation that fails locally on rebase stays pending without writes: the server decides.
    }
    view = next;
  }

  // ---- reads -----------------------------------------------------------------------------

  @Override
  public <R> R query(Function<ReadTransaction, R> query) {
    synchronized (lock) {
      return query.apply(new ViewTransaction(app, view, userId));
    }
  }

  /**
   * Reads the confirmed state only, without pending mutations (for tests and test kits).
   *
   * @param query the read
   * @return its result
   */
  public <R> R queryConfirmed(Function<ReadTransaction, R> query) {
    synchronized (lock) {
      return query.apply(new ViewTransaction(app, confirmed, userId));
    }
  }

  @Override
  public <R> Subscription subscribe(Function<ReadTransaction, R> query, Consumer<R> onResult) {
    return watch(new Sub<>(query, onResult));
  }

  @Override
  public Subscription subscribeToTable(String table, TableListener listener) {
    return watch(new TableSub(checkedTable(table), false, listener));
  }

  @Override
  public Subscription subscribeToPrivateTable(String table, TableListener listener) {
    return watch(new TableSub(checkedTable(table), true, listener));
  }

  private String checkedTable(String table) {
    app.requireTable(table);
    return table;
  }

  private Subscription watch(ViewWatcher watcher) {
    synchronized (lock) {
      subscriptions.add(watcher);
      watcher.refreshLocked(new ViewTransaction(app, view, userId));
    }
    return watcher;
  }

  private void viewChangedLocked() {
    if (subscriptions.isEmpty()) {
      return;
    }
    ViewTransaction tx = new ViewTransaction(app, view, userId);
    for (ViewWatcher sub : subscriptions) {
      sub.refreshLocked(tx);
    }
  }

  @Override
  public boolean waitForBootstrap(Duration timeout) {
    try {
      bootstrapped.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (TimeoutException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (Exception e) {
      return false;
    }
  }

  // ---- connection --------------------------------------------------------------------------

  @Override
  public ConnectionStatus connectionStatus() {
    synchronized (lock) {
      return status;
    }
  }

  /**
   * Test hook: while held, pending mutations are not pushed (they stay pending and keep being
   * rebased); releasing pushes them all.
   *
   * @param hold whether to hold outbound mutations
   */
  public void holdOutbound(boolean hold) {
    synchronized (lock) {
      holdOutbound = hold;
      flushLocked();
    }
  }

  /** @return the cookie of the confirmed state, {@code null} before the first poke (test hook) */
  public String confirmedCookie() {
    synchronized (lock) {
      return cookie;
    }
  }

  /**
   * Test hook: while held, messages from the server are kept, in order, instead of being applied
   * (the view keeps showing optimistic state); releasing applies them all. Messages of a
   * connection that has gone by then are discarded, as the network would have lost them.
   *
   * @param hold whether to hold inbound messages
   */
  public void holdInbound(boolean hold) {
    synchronized (lock) {
      holdInbound = hold;
      if (hold) {
        return;
      }
      Connection c = connection;
      while (!heldInbound.isEmpty() && !holdInbound) {
        ServerMessage m = heldInbound.pollFirst();
        if (c != null && c == connection) {
          try {
            dispatchLocked(c, m);
          } catch (RuntimeException e) {
            heldInbound.clear();
            failConnectionLater(c, e);
          }
        }
      }
      heldInbound.clear();
    }
  }

  /** @return the number of held inbound messages (test hook) */
  public int heldInboundCount() {
    synchronized (lock) {
      return heldInbound.size();
    }
  }

  /**
   * Test hook: stops the client as a killed process would: no close frame, no more storage writes,
   * pending futures left as they are. The storage is released so that a new client can open it.
   */
  public void abandon() {
    Connection c;
    synchronized (lock) {
      closed = true;
      status = ConnectionStatus.CLOSED; // no listener hears it: a dead process tells nobody
      c = connection;
      connection = null;
      subscriptions.clear();
    }
    if (c != null && c.socket != null) {
      c.socket.abort();
    }
    scheduler.shutdownNow();
    callbacks.shutdownNow();
    storage.close();
  }

  /**
   * @return the base URL of the server the current connection (or, while offline, the next attempt)
   *     goes to: one of {@link SyncOptions#servers()}
   */
  public URI currentServer() {
    synchronized (lock) {
      return options.servers().get(serverIndex);
    }
  }

  /** Test hook: drops the socket as if the network failed; the client reconnects with backoff. */
  public void dropConnection() {
    Connection c;
    synchronized (lock) {
      c = connection;
    }
    if (c != null) {
      WebSocket ws = c.socket;
      if (ws != null) {
        ws.abort();
      }
      disconnected(c, 1006, "connection dropped");
    }
  }

  private void setStatusLocked(ConnectionStatus next) {
    if (status == next) {
      return;
    }
    status = next;
    callback(() -> options.connectionListener().onStatusChanged(next));
  }

  /** The retry-after of the last quota error, in milliseconds; 0 when none. Guarded by {@code lock}. */
  private long retryAfterMs;

  private void connect() {
    Connection c;
    URI uri;
    synchronized (lock) {
      if (closed || status == ConnectionStatus.STOPPED) {
        return;
      }
      uri = uris.get(serverIndex);
      c = new Connection();
      connection = c;
      // Retries after a disconnect stay OFFLINE until one succeeds: apps see offline, then online.
      if (status != ConnectionStatus.OFFLINE) {
        setStatusLocked(ConnectionStatus.CONNECTING);
      }
    }
    CompletionStage<String> token;
    try {
      token = options.auth().get();
    } catch (RuntimeException e) {
      token = CompletableFuture.failedFuture(e);
    }
    token.thenCompose(t -> {
      // The token goes with the upgrade request, where the server checks it before upgrading.
      java.net.http.WebSocket.Builder builder = http.newWebSocketBuilder().connectTimeout(options.connectTimeout());
      if (t != null && !t.isEmpty()) {
        builder.header("Authorization", "Bearer " + t);
      }
      return builder.buildAsync(uri, c);
    }).whenComplete((ws, error) -> {
      if (error != null) {
        Throwable cause = error.getCause() != null ? error.getCause() : error;
        if (cause instanceof java.net.http.WebSocketHandshakeException refused
            && (refused.getResponse().statusCode() == 401 || refused.getResponse().statusCode() == 403)) {
          // Refused before the upgrade: the same as the close codes a refused hello gets.
          int code = refused.getResponse().statusCode() == 401 ? 4401 : 4403;
          Object body = refused.getResponse().body();
          disconnected(c, code, body == null ? "HTTP " + refused.getResponse().statusCode() : body.toString());
          return;
        }
        disconnected(c, 1006, String.valueOf(cause));
      } else if (isStale(c)) {
        ws.abort(); // closed or dropped while connecting: this socket must not speak for the client
      }
    });
  }

  /** @return whether {@code c} is no longer the client's connection (it was dropped, replaced or the client closed) */
  private boolean isStale(Connection c) {
    synchronized (lock) {
      return c != connection || closed;
    }
  }

  private void disconnected(Connection c, int code, String reason) {
    synchronized (lock) {
      if (c != connection || closed) {
        return;
      }
      connection = null;
      heldInbound.clear();
      failActionsSentOn(c);
      callback(() -> options.connectionListener().onDisconnected(code, reason));
      if (CloseCodes.isFinal(code)) {
        setStatusLocked(ConnectionStatus.STOPPED);
        if (code == 4401 || code == 4403) {
          callback(() -> options.connectionListener().onAuthFailed(code, reason));
        } else if (code == 4412) {
          int version = app.schemaVersion();
          callback(() -> options.connectionListener().onSchemaVersionMismatch(version, reason));
        }
        callback(() -> options.connectionListener().onStopped(code, reason));
        return;
      }
      setStatusLocked(ConnectionStatus.OFFLINE);
      if (code == CloseCodes.TOKEN_EXPIRED) {
        // The token expired: tell the app, and reconnect at once with a fresh one from the auth callback.
        callback(() -> options.connectionListener().onAuthFailed(code, reason));
        attempts = 0;
      }
      long min = options.reconnectMinDelay().toMillis();
      long max = options.reconnectMaxDelay().toMillis();
      long backoff = Math.min(max, min << Math.min(attempts, 20));
      if (code == CloseCodes.RATE_LIMITED) {
        rateLimited = true;
        if (retryAfterMs > 0) {
          backoff = Math.max(backoff, 2 * retryAfterMs); // at least the server's retry-after (the jitter halves it)
        }
      }
      retryAfterMs = 0;
      if (uris.size() > 1) {
        // Another node of the cluster may be up while this one is not: the next attempt goes there.
        serverIndex = (serverIndex + 1) % uris.size();
      }
      // "equal jitter": at least half the backoff, so clients that dropped together spread out
      long delay = backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1);
      attempts++;
      scheduler.schedule(this::connect, delay, TimeUnit.MILLISECONDS);
    }
    if (c.socket != null) {
      c.socket.abort();
    }
  }

  private void ping() {
    synchronized (lock) {
      if (connection != null && connection.online) {
        connection.send(new ClientMessage.Ping());
      }
    }
  }

  /** Pushes the pending mutations the server has not been sent on this connection. */
  private void flushLocked() {
    Connection c = connection;
    if (c == null || !c.online || holdOutbound) {
      return;
    }
    while (true) {
      List<MutationRequest> batch = pending.tailMap(sentUpTo, false).values().stream()
          .limit(MAX_MUTATIONS_PER_PUSH).map(Pending::request).toList();
      if (batch.isEmpty()) {
        return;
      }
      c.send(new ClientMessage.Push(batch));
      sentUpTo = batch.get(batch.size() - 1).id();
    }
  }

  private void onMessage(Connection c, ServerMessage message) {
    synchronized (lock) {
      if (c != connection || closed) {
        return;
      }
      if (holdInbound) {
        heldInbound.addLast(message);
        return;
      }
      dispatchLocked(c, message);
    }
  }

  /** A message this client cannot apply (a bug on either side): start over from a new connection. */
  private void failConnectionLater(Connection c, RuntimeException e) {
    LOG.log(System.Logger.Level.ERROR, "cannot apply a server message; dropping the connection", e);
    reportError(e);
    scheduler.execute(() -> {
      if (c.socket != null) {
        c.socket.abort();
      }
      disconnected(c, 1006, "cannot apply a server message: " + e);
    });
  }

  private void dispatchLocked(Connection c, ServerMessage message) {
    if (message instanceof ServerMessage.Connected connected) {
      onConnected(c, connected);
    } else if (message instanceof ServerMessage.Poke poke) {
      onPoke(poke);
    } else if (message instanceof ServerMessage.MutationFailed failed) {
      onMutationFailed(failed);
    } else if (message instanceof ServerMessage.ActionResult r) {
      onActionAnswer(r.id(), r.output() == null ? com.fasterxml.jackson.databind.node.NullNode.getInstance() : r.output(), null);
    } else if (message instanceof ServerMessage.ActionFailed f) {
      onActionAnswer(f.id(), null, f.error());
    } else if (message instanceof ServerMessage.Error error) {
      if (error.error().retryAfterMs() != null) {
        retryAfterMs = error.error().retryAfterMs(); // a quota: the close (4429) that follows waits this long
      }
      callback(() -> options.connectionListener().onServerError(error.error().code(), error.error().message()));
    }
  }

  private void onConnected(Connection c, ServerMessage.Connected connected) {
    c.online = true;
    if (pending.isEmpty()) {
      rateLimited = false; // nothing to push: no refusal to back off from
    }
    if (!rateLimited) {
      attempts = 0;
    }
    if (!idsChecked) {
      idsChecked = true;
      renumberPendingAbove(connected.lastMutationId());
    }
    userId = connected.userId();
    connectedLastId = connected.lastMutationId();
    sentUpTo = connected.lastMutationId();
    nextMutationId = Math.max(nextMutationId, connected.lastMutationId() + 1);
    setStatusLocked(ConnectionStatus.ONLINE);
    flushLocked();
    sendActionsLocked();
  }

  /**
   * A client that started without stored state but with a client id the server already knows (an
   * app that sets {@code clientId} and keeps no storage) counted its ids from 1: the ones the
   * server has seen would be taken as applied. Moves the pending mutations above the server's last id.
   */
  private void renumberPendingAbove(long serverLastId) {
    if (pending.isEmpty() || pending.firstKey() > serverLastId) {
      return;
    }
    long shift = serverLastId + 1 - pending.firstKey();
    List<Pending> moved = new ArrayList<>(pending.values());
    pending.clear();
    for (Pending p : moved) {
      MutationRequest m = p.request();
      MutationRequest renumbered = new MutationRequest(m.id() + shift, m.name(), m.args(), m.timestamp());
      storage.pendingRemoved(m.id());
      storage.pendingAdded(renumbered);
      pending.put(renumbered.id(), new Pending(renumbered, p.confirmed()));
    }
    nextMutationId = pending.lastKey() + 1;
    long firstMoved = moved.get(0).request().id();
    for (PendingAction a : actions.values()) {
      if (a.sentOn == null && a.waitFor >= firstMoved) {
        a.waitFor += shift; // it still waits for the same mutations, under their new ids
      }
    }
    LOG.log(System.Logger.Level.INFO, "client {0}: the server already has mutations up to {1}; {2} pending mutations renumbered",
        clientId, serverLastId, moved.size());
  }

  private void onPoke(ServerMessage.Poke poke) {
    boolean startsWithClear = !poke.patch().isEmpty() && "clear".equals(poke.patch().get(0).op());
    if (!startsWithClear && !Objects.equals(poke.baseCookie(), cookie)) {
      // Applying it would corrupt the replica; the caller drops the connection and the reconnect catches up from our cookie.
      throw new IllegalStateException("poke from " + poke.baseCookie() + " does not continue the replica at " + cookie);
    }
    boolean cleared = false;
    List<Write> writes = new ArrayList<>(poke.patch().size());
    for (PatchOp op : poke.patch()) {
      switch (op.op()) {
        case "clear" -> {
          cleared = true;
          writes.clear();
        }
        case "put", "del" -> {
          TableAddress address = "private".equals(op.tier())
              ? TableAddress.privateTable(userId, op.table()) : TableAddress.publicTable(op.table());
          writes.add("put".equals(op.op())
              ? Write.put(address, op.itemKey(), op.sortKey() == null ? "" : op.sortKey(), op.value())
              : Write.delete(address, op.itemKey()));
        }
        default -> LOG.log(System.Logger.Level.WARNING, "ignoring unknown patch op {0}", op.op());
      }
    }
    // Recorded before it is applied: if the storage fails, nothing changes and the next connection
    // catches up from the cookie the replica (and the storage) still have.
    storage.confirmedChanged(poke.cookie(), userId, cleared, writes);
    if (cleared) {
      confirmed = new EntryStore();
    }
    long version = ++localVersion;
    for (Write w : writes) {
      confirmed.apply(w, version);
    }
    confirmed.pruneTombstones(0);
    cookie = poke.cookie();
    Map<String, Long> changes = poke.lastMutationIdChanges() == null ? Map.of() : poke.lastMutationIdChanges();
    long own = Math.max(changes.getOrDefault(clientId, 0L), connectedLastId);
    connectedLastId = 0;
    int before = pending.size();
    while (!pending.isEmpty() && pending.firstKey() <= own) {
      storage.pendingRemoved(pending.firstKey()); // a confirmed mutation left in the storage would only be skipped as a duplicate
      Pending p = pending.pollFirstEntry().getValue();
      callback(() -> p.confirmed().complete(null));
    }
    rebaseLocked();
    bootstrapped.complete(null);
    viewChangedLocked();
    if (pending.size() < before && rateLimited) {
      rateLimited = false; // mutations get through again: the next drop starts from the shortest delay
      attempts = 0;
    }
    if (pending.size() != before) {
      pendingChangedLocked();
      sendActionsLocked();
    }
    if (storage.wantsSnapshot()) {
      try {
        storage.snapshot(storedLocked());
      } catch (RuntimeException e) {
        // The log keeps everything; compaction is tried again after a later poke.
        LOG.log(System.Logger.Level.WARNING, "cannot compact the client's storage", e);
        reportError(e);
      }
    }
  }

  /** @return the whole state as a storage keeps it */
  private ClientStorage.Stored storedLocked() {
    List<Write> rows = new ArrayList<>(confirmed.liveRows());
    confirmed.forEachLive(change -> {
      Row row = change.row();
      rows.add(Write.put(change.table(), row.itemKey(), row.sortKey(), row.value()));
    });
    return new ClientStorage.Stored(clientGroupId, clientId, userId, cookie, rows,
        pending.values().stream().map(Pending::request).toList(), nextMutationId, Map.copyOf(sequenceCounters));
  }

  private void onMutationFailed(ServerMessage.MutationFailed failed) {
    Pending p = pending.remove(failed.id());
    if (p == null) {
      return;
    }
    storage.pendingRemoved(failed.id());
    rebaseLocked();
    viewChangedLocked();
    MutationRequest m = p.request();
    MutationFailure failure = new MutationFailure(m.id(), m.name(), m.args(), failed.error().code(), failed.error().message());
    callback(() -> {
      p.confirmed().completeExceptionally(new SyncException(failure.code(), failure.message()));
      options.mutationListener().onMutationFailed(failure);
    });
    pendingChangedLocked();
    sendActionsLocked();
  }

  @Override
  public void close() {
    Connection c;
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      c = connection;
      connection = null;
      setStatusLocked(ConnectionStatus.CLOSED);
      for (Pending p : pending.values()) {
        callback(() -> p.confirmed().completeExceptionally(new IllegalStateException("the client was closed")));
      }
      for (PendingAction a : actions.values()) {
        callback(() -> a.result.completeExceptionally(new IllegalStateException("the client was closed")));
      }
      actions.clear();
      subscriptions.clear();
      storage.close();
    }
    if (c != null && c.socket != null) {
      c.socket.sendClose(WebSocket.NORMAL_CLOSURE, "").whenComplete((ws, e) -> c.socket.abort());
    }
    scheduler.shutdownNow();
    callbacks.shutdown();
    if (Thread.currentThread() == callbackThread) {
      return; // closed from a callback: the queued callbacks run after this one returns
    }
    try {
      callbacks.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** One socket: its listener and its send queue (the JDK WebSocket allows one send at a time). */
  private final class Connection implements WebSocket.Listener {
    private final StringBuilder partial = new StringBuilder();
    private CompletableFuture<?> sends = CompletableFuture.completedFuture(null);
    volatile WebSocket socket;
    /** Set under the client's lock once the server said {@code connected}. */
    boolean online;

    @Override
    public void onOpen(WebSocket webSocket) {
      socket = webSocket;
      if (isStale(this)) {
        webSocket.abort(); // no hello from a connection the client has given up
        return;
      }
      send(new ClientMessage.Hello(ClientMessage.PROTOCOL_VERSION, clientGroupId, clientId, Optional.ofNullable(confirmedCookie()),
          app.schemaVersion(), Optional.empty())); // the token went with the upgrade request
      webSocket.request(1);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        String text = partial.toString();
        partial.setLength(0);
        ServerMessage message;
        try {
          message = Json.mapper().readValue(text, ServerMessage.class);
        } catch (Exception e) {
          LOG.log(System.Logger.Level.WARNING, "unreadable server message; dropping the connection", e);
          reportError(e);
          webSocket.abort();
          disconnected(this, 1006, "unreadable server message: " + e.getMessage());
          return null;
        }
        try {
          onMessage(this, message);
        } catch (RuntimeException e) {
          // A message this client cannot apply (a bug on either side): start over from a new connection.
          LOG.log(System.Logger.Level.ERROR, "cannot apply a server message; dropping the connection", e);
          reportError(e);
          webSocket.abort();
          disconnected(this, 1006, "cannot apply a server message: " + e);
          return null;
        }
      }
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      disconnected(this, statusCode, reason);
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      disconnected(this, 1006, String.valueOf(error));
    }

    synchronized void send(ClientMessage message) {
      String text;
      try {
        text = Json.mapper().writeValueAsString(message);
      } catch (Exception e) {
        throw new SyncException(ErrorCode.BAD_MESSAGE, "cannot encode " + message.getClass().getSimpleName() + ": " + e.getMessage());
      }
      WebSocket ws = socket;
      sends = sends.handle((r, e) -> null).thenCompose(x -> ws.sendText(text, true));
    }
  }

}
