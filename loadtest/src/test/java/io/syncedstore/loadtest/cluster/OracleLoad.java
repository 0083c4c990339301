package io.syncedstore.loadtest.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.Entry;
import io.syncedstore.api.SyncException;
import io.syncedstore.client.ConnectionListener;
import io.syncedstore.client.MutationFailure;
import io.syncedstore.client.MutationHandle;
import io.syncedstore.client.MutationListener;
import io.syncedstore.client.SyncClient;
import io.syncedstore.client.SyncOptions;
import io.syncedstore.client.impl.SyncClientImpl;
import io.syncedstore.loadtest.cluster.OracleApp.Append;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * The clients of a cluster test and their steady push load with oracle tokens: client {@code i}
 * of {@value #CLIENTS} syncs instance {@code i % INSTANCES} and has node {@code i % nodes} as its
 * home (first in its URL list, the other nodes after it), so every instance has a client on every
 * node. Each client appends a token every {@code intervalMs} (±1/3, jittered per client) while
 * fewer than {@code maxPending} of its mutations are pending.
 */
final class OracleLoad implements AutoCloseable {
  static final int CLIENTS = Integer.getInteger("cluster.it.clients", 30);
  static final int INSTANCES = Integer.getInteger("cluster.it.instances", 10);
  static final long INTERVAL_MS = Long.getLong("cluster.it.intervalMs", 75);
  static final int MAX_PENDING = Integer.getInteger("cluster.it.maxPending", 200);

  /** One client and what it issued and saw confirmed. */
  static final class OracleClient {
    final String name;
    final String instanceId;
    final int home;
    final List<URI> servers;
    final SyncClientImpl client;
    /** Tokens in the order they were issued (mutate returned). */
    final List<String> issued = Collections.synchronizedList(new ArrayList<>());
    /** Tokens whose {@code confirmed()} completed normally: acknowledged. */
    final Set<String> acked = ConcurrentHashMap.newKeySet();
    final List<Long> ackNanos = Collections.synchronizedList(new ArrayList<>());
    final Map<String, String> failed = new ConcurrentHashMap<>();
    final AtomicInteger disconnects = new AtomicInteger();
    final AtomicInteger errors = new AtomicInteger();
    final AtomicInteger overloaded = new AtomicInteger();
    final Map<Integer, AtomicInteger> closeCodes = new ConcurrentHashMap<>();
    final Map<String, AtomicInteger> serverErrors = new ConcurrentHashMap<>();
    final Map<Integer, String> closeReasons = new ConcurrentHashMap<>();
    final Map<String, String> serverErrorMessages = new ConcurrentHashMap<>();
    volatile String stopped;
    volatile String lastError;
    private long seq;

    OracleClient(String name, String instanceId, int home, List<URI> servers) {
      this.name = name;
      this.instanceId = instanceId;
      this.home = home;
      this.servers = servers;
      this.client = (SyncClientImpl) SyncClient.connect(SyncOptions.builder()
          .servers(servers)
          .app(OracleApp.DEFINITION)
          .instanceId(instanceId)
          // A node failover takes seconds (failure detection, the split-brain resolver's stable-after):
          // the default 30 s cap on the backoff would measure the backoff, not the cluster.
          .reconnectDelay(Duration.ofMillis(100), Duration.ofSeconds(2))
          .connectTimeout(Duration.ofSeconds(5))
          .connectionListener(new ConnectionListener() {
            @Override
            public void onDisconnected(int code, String reason) {
              disconnects.incrementAndGet();
              closeCodes.computeIfAbsent(code, k -> new AtomicInteger()).incrementAndGet();
              closeReasons.putIfAbsent(code, String.valueOf(reason));
            }

            @Override
            public void onServerError(io.syncedstore.api.ErrorCode code, String message) {
              serverErrors.computeIfAbsent(String.valueOf(code), k -> new AtomicInteger()).incrementAndGet();
              serverErrorMessages.putIfAbsent(String.valueOf(code), String.valueOf(message));
            }

            @Override
            public void onStopped(int code, String reason) {
              stopped = code + " " + reason;
            }

            @Override
            public void onError(Throwable error) {
              errors.incrementAndGet();
              lastError = String.valueOf(error);
            }
          })
          .mutationListener(new MutationListener() {
            @Override
            public void onMutationFailed(MutationFailure failure) {
              lastError = "mutation " + failure.id() + " failed: " + failure.code() + " " + failure.message();
            }
          })
          .build());
    }

    /** Issues the next token unless too many are pending. Runs on one ticker thread at a time. */
    void tick() {
      if (client.pendingCount() >= MAX_PENDING) {
        overloaded.incrementAndGet();
        return;
      }
      String token = name + "#" + (seq + 1);
      MutationHandle h;
      try {
        h = client.mutate("append", new Append(name, token));
      } catch (SyncException e) {
        overloaded.incrementAndGet();
        return;
      }
      seq++;
      issued.add(token);
      h.confirmed().whenComplete((v, e) -> {
        if (e == null) {
          acked.add(token);
          ackNanos.add(System.nanoTime());
        } else {
          failed.put(token, String.valueOf(e));
        }
      });
    }

    /** @return whether everything issued has an outcome and nothing is pending */
    boolean settled() {
      return client.pendingCount() == 0 && acked.size() + failed.size() == issued.size();
    }

    /** @return when the first confirmation after {@code sinceNanos} arrived, or null */
    Long firstAckAfter(long sinceNanos) {
      synchronized (ackNanos) {
        for (int i = ackNanos.size() - 1; i >= 0; i--) {
          long t = ackNanos.get(i);
          if (t - sinceNanos <= 0) {
            return i == ackNanos.size() - 1 ? null : ackNanos.get(i + 1);
          }
        }
        return ackNanos.isEmpty() ? null : ackNanos.get(0);
      }
    }

    /** @return the longest time between two confirmations of this client */
    Duration longestPause() {
      List<Long> times;
      synchronized (ackNanos) {
        times = new ArrayList<>(ackNanos);
      }
      Collections.sort(times);
      long max = 0;
      for (int i = 1; i < times.size(); i++) {
        max = Math.max(max, times.get(i) - times.get(i - 1));
      }
      return Duration.ofNanos(max);
    }
  }

  /**
   * The verdict of one run.
   *
   * @param issued tokens issued by all clients
   * @param acknowledged tokens whose mutation was confirmed
   * @param failed tokens whose mutation the server refused
   * @param lost acknowledged tokens missing, summed over clients (the worst view of each client's tokens)
   * @param duplicated tokens present more than once
   * @param outOfOrder tokens applied before a token their client issued earlier
   * @param phantom tokens present that their client never issued
   * @param misnumbered rows whose number is not their position, or counters not equal to their row count
   * @param instances instances checked
   * @param identical instances whose client replicas and a fresh pull hold identical state
   * @param differences what differed, when something did
   */
  record Report(long issued, long acknowledged, long failed, long lost, long duplicated, long outOfOrder, long phantom,
      long misnumbered, int instances, int identical, List<String> differences) {
    boolean clean() {
      return failed == 0 && lost == 0 && duplicated == 0 && outOfOrder == 0 && phantom == 0 && misnumbered == 0
          && identical == instances && acknowledged == issued;
    }

    @Override
    public String toString() {
      return "acknowledged " + acknowledged + " (issued " + issued + ", failed " + failed + "), lost " + lost + ", duplicated "
          + duplicated + ", out-of-order " + outOfOrder + ", phantom " + phantom + ", misnumbered " + misnumbered
          + "; replicas and a fresh pull identical in " + identical + "/" + instances + " instances";
    }
  }

  final List<OracleClient> clients = new ArrayList<>();
  private final List<ClusterNode> nodes;
  private final ScheduledExecutorService ticker = Executors.newScheduledThreadPool(4, r -> {
    Thread t = new Thread(r, "oracle-load");
    t.setDaemon(true);
    return t;
  });
  private volatile boolean issuing;

  private OracleLoad(List<ClusterNode> nodes) {
    this.nodes = List.copyOf(nodes);
  }

  static String instanceId(int instance) {
    return String.format("inst-%02d", instance);
  }

  /** Connects the clients (home node first in each URL list) and waits (bounded) until every one has the instance's state. */
  static OracleLoad connect(List<ClusterNode> nodes, Duration bound) {
    OracleLoad load = new OracleLoad(nodes);
    try {
      for (int i = 0; i < CLIENTS; i++) {
        int home = i % nodes.size();
        List<URI> servers = new ArrayList<>();
        for (int k = 0; k < nodes.size(); k++) {
          servers.add(nodes.get((home + k) % nodes.size()).syncUrl());
        }
        load.clients.add(new OracleClient(String.format("c%02d", i), instanceId(i % INSTANCES), home, servers));
      }
      long deadline = System.nanoTime() + bound.toNanos();
      for (OracleClient c : load.clients) {
        long left = Math.max(1, deadline - System.nanoTime());
        if (!c.client.waitForBootstrap(Duration.ofNanos(left))) {
          throw new AssertionError("client " + c.name + " (" + c.instanceId + ", home node" + (c.home + 1) + ") has no state after "
              + bound.toSeconds() + " s: " + c.client.connectionStatus() + (c.stopped == null ? "" : ", stopped: " + c.stopped)
              + (c.lastError == null ? "" : ", last error: " + c.lastError));
        }
      }
      return load;
    } catch (RuntimeException | Error e) {
      load.close();
      throw e;
    }
  }

  /** Starts issuing: each client on its own jittered period. */
  void start() {
    issuing = true;
    for (OracleClient c : clients) {
      ThreadLocalRandom r = ThreadLocalRandom.current();
      long period = Math.max(1, INTERVAL_MS * 2 / 3 + r.nextLong(INTERVAL_MS * 2 / 3 + 1));
      ticker.scheduleAtFixedRate(() -> {
        if (issuing) {
          try {
            c.tick();
          } catch (RuntimeException e) {
            c.lastError = "tick: " + e;
          }
        }
      }, r.nextLong(period), period, TimeUnit.MILLISECONDS);
    }
  }

  /** Stops issuing; returns once no tick runs any more (bounded). */
  void stop() throws InterruptedException {
    issuing = false;
    ticker.shutdown();
    if (!ticker.awaitTermination(30, TimeUnit.SECONDS)) {
      throw new AssertionError("the load did not stop");
    }
  }

  /** @return one line: acknowledged so far, pending, online clients */
  String progress() {
    long acked = clients.stream().mapToLong(c -> c.acked.size()).sum();
    long issued = clients.stream().mapToLong(c -> c.issued.size()).sum();
    long pending = clients.stream().mapToLong(c -> c.client.pendingCount()).sum();
    long online = clients.stream().filter(c -> c.client.isOnline()).count();
    return "issued " + issued + ", acknowledged " + acked + ", pending " + pending + ", online " + online + "/" + clients.size();
  }

  /** @return the full state a client holds (confirmed; nothing is pending once settled), key "table/itemKey" */
  static Map<String, JsonNode> state(SyncClientImpl c) {
    return c.queryConfirmed(tx -> {
      Map<String, JsonNode> all = new TreeMap<>();
      for (String table : List.of("counters", "tokens")) {
        for (Entry e : tx.table(table).entries()) {
          all.put(table + "/" + e.itemKey(), e.value());
        }
      }
      return all;
    });
  }

  private Map<String, List<OracleClient>> byInstance() {
    Map<String, List<OracleClient>> m = new TreeMap<>();
    for (OracleClient c : clients) {
      m.computeIfAbsent(c.instanceId, k -> new ArrayList<>()).add(c);
    }
    return m;
  }

  /**
   * Waits (bounded) until every client has an outcome for everything it issued, nothing pending,
   * and the clients of each instance hold identical state.
   *
   * @return how long it took
   */
  Duration awaitConverged(Duration bound) {
    return Waits.until("every client settled and the clients of each instance identical", bound, 250, () -> {
      for (OracleClient c : clients) {
        if (c.stopped != null) {
          throw new AssertionError("client " + c.name + " was stopped by the server for good: " + c.stopped);
        }
        if (!c.settled()) {
          return false;
        }
      }
      for (List<OracleClient> group : byInstance().values()) {
        Map<String, JsonNode> first = state(group.get(0).client);
        for (OracleClient c : group.subList(1, group.size())) {
          if (!first.equals(state(c.client))) {
            return false;
          }
        }
      }
      return true;
    }, this::unsettled);
  }

  /**
   * Waits (bounded) until every client has had a mutation confirmed after {@code sinceNanos}: the
   * clients of instances that lived on a lost node got them back, wherever they live now.
   *
   * @return how long after {@code sinceNanos} the last client got its first confirmation
   */
  Duration awaitEveryClientConfirmingAfter(long sinceNanos, Duration bound) {
    Waits.until("every client confirming again", bound, 100, () -> {
      for (OracleClient c : clients) {
        if (c.stopped != null) {
          throw new AssertionError("client " + c.name + " was stopped by the server for good: " + c.stopped);
        }
        if (c.firstAckAfter(sinceNanos) == null) {
          return false;
        }
      }
      return true;
    }, () -> "not confirming yet: " + clients.stream().filter(c -> c.firstAckAfter(sinceNanos) == null)
        .map(c -> c.name + " (" + c.instanceId + ", " + c.client.connectionStatus() + ", pending " + c.client.pendingCount() + ")")
        .toList());
    long last = clients.stream().mapToLong(c -> c.firstAckAfter(sinceNanos)).max().orElse(sinceNanos);
    return Duration.ofNanos(Math.max(0, last - sinceNanos));
  }

  private String unsettled() {
    List<String> lines = new ArrayList<>();
    for (OracleClient c : clients) {
      if (!c.settled() || c.stopped != null) {
        lines.add(c.name + " (" + c.instanceId + ", home node" + (c.home + 1) + ", on " + c.client.currentServer() + ", "
            + c.client.connectionStatus() + "): issued " + c.issued.size() + ", acked " + c.acked.size() + ", failed "
            + c.failed.size() + ", pending " + c.client.pendingCount() + ", disconnects " + c.disconnects.get()
            + (c.stopped == null ? "" : ", STOPPED " + c.stopped) + (c.lastError == null ? "" : ", last error: " + c.lastError));
      }
    }
    for (Map.Entry<String, List<OracleClient>> e : byInstance().entrySet()) {
      Set<Map<String, JsonNode>> states = new HashSet<>();
      for (OracleClient c : e.getValue()) {
        states.add(state(c.client));
      }
      if (states.size() > 1) {
        lines.add(e.getKey() + ": its clients hold " + states.size() + " different states (rows "
            + e.getValue().stream().map(c -> c.name + "=" + state(c.client).size()).toList() + ")");
      }
    }
    return lines.isEmpty() ? "all settled" : lines.size() + " unsettled:\n  " + String.join("\n  ", lines);
  }

  /**
   * Checks every instance: each client replica and a fresh pull (a new client, connected through a
   * node of its own) hold identical state, and in each of these views every client's tokens are
   * the ones it issued, each once, in issue order, numbered 1..n.
   */
  Report verify(Duration bound) {
    long lost = 0;
    long duplicated = 0;
    long outOfOrder = 0;
    long phantom = 0;
    long misnumbered = 0;
    int identical = 0;
    List<String> differences = new ArrayList<>();
    int index = 0;
    for (Map.Entry<String, List<OracleClient>> e : byInstance().entrySet()) {
      String instance = e.getKey();
      List<OracleClient> group = e.getValue();
      List<Map<String, JsonNode>> views = new ArrayList<>();
      List<String> viewNames = new ArrayList<>();
      for (OracleClient c : group) {
        views.add(state(c.client));
        viewNames.add(c.name);
      }
      views.add(freshPull(instance, index++, bound));
      viewNames.add("fresh pull");
      boolean same = views.stream().distinct().count() == 1;
      if (same) {
        identical++;
      } else {
        for (int v = 1; v < views.size(); v++) {
          if (!views.get(v).equals(views.get(0))) {
            differences.add(instance + ": " + viewNames.get(v) + " differs from " + viewNames.get(0) + ": " + diff(views.get(0), views.get(v)));
          }
        }
      }
      for (OracleClient c : group) {
        long[] worst = new long[5];
        for (int v = 0; v < views.size(); v++) {
          long[] counts = check(c, views.get(v));
          for (int k = 0; k < counts.length; k++) {
            if (counts[k] > worst[k]) {
              worst[k] = counts[k];
            }
          }
          if (Arrays.stream(counts).anyMatch(x -> x > 0)) {
            differences.add(instance + ": " + c.name + "'s tokens as " + viewNames.get(v) + " sees them: lost " + counts[0] + ", duplicated "
                + counts[1] + ", out-of-order " + counts[2] + ", phantom " + counts[3] + ", misnumbered " + counts[4]);
          }
        }
        lost += worst[0];
        duplicated += worst[1];
        outOfOrder += worst[2];
        phantom += worst[3];
        misnumbered += worst[4];
      }
    }
    long issued = clients.stream().mapToLong(c -> c.issued.size()).sum();
    long acked = clients.stream().mapToLong(c -> c.acked.size()).sum();
    long failed = clients.stream().mapToLong(c -> c.failed.size()).sum();
    clients.stream().filter(c -> !c.failed.isEmpty()).limit(5)
        .forEach(c -> differences.add(c.name + ": " + c.failed.size() + " refused mutations, e.g. " + c.failed.values().iterator().next()));
    return new Report(issued, acked, failed, lost, duplicated, outOfOrder, phantom, misnumbered, byInstance().size(), identical,
        differences.size() > 40 ? differences.subList(0, 40) : differences);
  }

  /** @return lost, duplicated, out-of-order, phantom, misnumbered for {@code c}'s tokens in {@code view} */
  private static long[] check(OracleClient c, Map<String, JsonNode> view) {
    String prefix = "tokens/" + c.name + "/";
    List<String> tokens = new ArrayList<>();
    long misnumbered = 0;
    long position = 0;
    for (Map.Entry<String, JsonNode> row : view.entrySet()) { // a TreeMap: key order is application order
      if (!row.getKey().startsWith(prefix)) {
        continue;
      }
      position++;
      JsonNode v = row.getValue();
      if (v.path("n").asLong() != position || !c.name.equals(v.path("client").asText())) {
        misnumbered++;
      }
      tokens.add(v.path("token").asText());
    }
    JsonNode counter = view.get("counters/" + c.name);
    if ((counter == null ? 0 : counter.asLong()) != tokens.size()) {
      misnumbered++;
    }
    Map<String, Integer> issueIndex = new HashMap<>();
    synchronized (c.issued) {
      for (int i = 0; i < c.issued.size(); i++) {
        issueIndex.put(c.issued.get(i), i);
      }
    }
    Set<String> present = new HashSet<>(tokens);
    long lost = c.acked.stream().filter(t -> !present.contains(t)).count();
    long duplicated = tokens.size() - present.size();
    long phantom = present.stream().filter(t -> !issueIndex.containsKey(t)).count();
    long outOfOrder = 0;
    int previous = -1;
    Set<String> seen = new HashSet<>();
    for (String t : tokens) {
      Integer i = issueIndex.get(t);
      if (i == null || !seen.add(t)) {
        continue;
      }
      if (i < previous) {
        outOfOrder++;
      }
      previous = Math.max(previous, i);
    }
    return new long[] {lost, duplicated, outOfOrder, phantom, misnumbered};
  }

  private static String diff(Map<String, JsonNode> a, Map<String, JsonNode> b) {
    List<String> onlyA = a.keySet().stream().filter(k -> !b.containsKey(k)).limit(5).toList();
    List<String> onlyB = b.keySet().stream().filter(k -> !a.containsKey(k)).limit(5).toList();
    List<String> changed = a.keySet().stream().filter(k -> b.containsKey(k) && !Objects.equals(a.get(k), b.get(k))).limit(5).toList();
    return a.size() + " vs " + b.size() + " rows; only in the first " + onlyA + ", only in the second " + onlyB + ", different " + changed;
  }

  /** @return the state of {@code instance} as a new client gets it from the server (connected through node {@code index % nodes}) */
  private Map<String, JsonNode> freshPull(String instance, int index, Duration bound) {
    List<URI> servers = new ArrayList<>();
    for (int k = 0; k < nodes.size(); k++) {
      servers.add(nodes.get((index + k) % nodes.size()).syncUrl());
    }
    try (SyncClientImpl fresh = (SyncClientImpl) SyncClient.connect(SyncOptions.builder().servers(servers).app(OracleApp.DEFINITION)
        .instanceId(instance).reconnectDelay(Duration.ofMillis(100), Duration.ofSeconds(2)).build())) {
      if (!fresh.waitForBootstrap(bound)) {
        throw new AssertionError("a fresh client of " + instance + " got no state within " + bound.toSeconds() + " s: "
            + fresh.connectionStatus());
      }
      return state(fresh);
    }
  }

  /**
   * @param instances instance ids ({@code app/instanceId} or {@code instanceId}) that ran on a node that went away
   * @return the longest pause between two confirmations among the clients of those instances, and among the others
   */
  String pausesByInstanceFate(Set<String> instances) {
    Set<String> ids = new java.util.TreeSet<>();
    instances.forEach(i -> ids.add(i.substring(i.indexOf('/') + 1)));
    Duration affected = clients.stream().filter(c -> ids.contains(c.instanceId)).map(OracleClient::longestPause)
        .max(Duration::compareTo).orElse(Duration.ZERO);
    Duration others = clients.stream().filter(c -> !ids.contains(c.instanceId)).map(OracleClient::longestPause)
        .max(Duration::compareTo).orElse(Duration.ZERO);
    return String.format("  longest pause between two confirmations: %s for the clients of %s (on the node that went away),"
        + " %s for the clients of the other instances%n", Waits.seconds(affected), ids, Waits.seconds(others));
  }

  /** @return per home node: the longest pause between two confirmations of any client homed there, and moves */
  /** @return how many times clients were disconnected, by close code */
  Map<Integer, Integer> closeCodes() {
    Map<Integer, Integer> codes = new TreeMap<>();
    for (OracleClient c : clients) {
      c.closeCodes.forEach((k, v) -> codes.merge(k, v.get(), Integer::sum));
    }
    return codes;
  }

  String pausesByHome() {
    StringBuilder sb = new StringBuilder();
    for (int home = 0; home < nodes.size(); home++) {
      int h = home;
      List<OracleClient> homed = clients.stream().filter(c -> c.home == h).toList();
      Duration longest = homed.stream().map(OracleClient::longestPause).max(Duration::compareTo).orElse(Duration.ZERO);
      long moved = homed.stream().filter(c -> !c.client.currentServer().equals(c.servers.get(0))).count();
      int disconnects = homed.stream().mapToInt(c -> c.disconnects.get()).sum();
      sb.append(String.format("  clients homed on node%d: longest pause between two confirmations %s, %d disconnects,"
          + " %d/%d now on another node%n", home + 1, Waits.seconds(longest), disconnects, moved, homed.size()));
    }
    Map<Integer, Integer> codes = new TreeMap<>();
    Map<String, Integer> serverErrors = new TreeMap<>();
    for (OracleClient c : clients) {
      c.closeCodes.forEach((k, v) -> codes.merge(k, v.get(), Integer::sum));
      c.serverErrors.forEach((k, v) -> serverErrors.merge(k, v.get(), Integer::sum));
    }
    Map<Integer, String> reasons = new TreeMap<>();
    Map<String, String> messages = new TreeMap<>();
    for (OracleClient c : clients) {
      c.closeReasons.forEach(reasons::putIfAbsent);
      c.serverErrorMessages.forEach(messages::putIfAbsent);
    }
    sb.append("  disconnects by close code ").append(codes).append(", server error messages by code ").append(serverErrors).append('\n');
    reasons.forEach((code, reason) -> sb.append("    e.g. ").append(code).append(": ")
        .append(reason.length() > 200 ? reason.substring(0, 200) + "..." : reason).append('\n'));
    messages.forEach((code, message) -> sb.append("    e.g. ").append(code).append(": ")
        .append(message.length() > 200 ? message.substring(0, 200) + "..." : message).append('\n'));
    int errors = clients.stream().mapToInt(c -> c.errors.get()).sum();
    if (errors > 0) {
      sb.append("  client errors (messages a client could not apply; it reconnected): ").append(errors).append(", e.g. ")
          .append(clients.stream().map(c -> c.lastError).filter(Objects::nonNull).findFirst().orElse("")).append('\n');
    }
    return sb.toString();
  }

  @Override
  public void close() {
    issuing = false;
    ticker.shutdownNow();
    for (OracleClient c : clients) {
      try {
        c.client.close();
      } catch (RuntimeException e) {
        // closing the others matters more
      }
    }
  }

  @Override
  public String toString() {
    return clients.stream().collect(Collectors.groupingBy(c -> c.instanceId, TreeMap::new, Collectors.counting())).toString();
  }
}
