package io.syncedstore.bench;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.syncedstore.bench.ClusterNodes.MachineCpu;
import io.syncedstore.bench.ClusterNodes.Node;
import io.syncedstore.bench.ClusterNodes.Recovery;
import io.syncedstore.bench.SyncBenchmark.Pusher;
import io.syncedstore.bench.SyncBenchmark.Socket;
import io.syncedstore.persistence.SyncConfig;
import java.io.File;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The cluster benchmark of docs/BENCHMARKS.md ("Cluster: 1, 2, 3 nodes and recovery"). The nodes are
 * separate JVMs ({@link ClusterNodes}) on this machine, sharing its cores with this JVM, which is
 * the load generator, and with PostgreSQL.
 *
 * <ol>
 *   <li><b>Throughput</b>, for each node count: a fresh database, N nodes of the cluster profile,
 *       {@code --instances} todo instances x {@code --clients-per-instance} WebSocket clients (client
 *       i of instance i / clients-per-instance, connected to node i % N); every client keeps one
 *       {@code setTodo} push outstanding (closed loop, {@link SyncBenchmark.Pusher}) and waits for the
 *       poke whose {@code lastMutationIDChanges} confirms it. After {@code --warmup-seconds}, for
 *       {@code --seconds}: mutations confirmed per second, push-to-confirmation p50/p99, the server's
 *       meters ({@code /metrics}: mutations applied, journal writes, pokes sent), the CPU each process used
 *       ({@code /proc/<pid>/stat}) and the machine's busy share; afterwards, from the nodes'
 *       "recovered" log lines, on which node each instance lived, hence how many clients' sockets
 *       were on another node than their instance (cross-node sessions).
 *   <li><b>Floors</b>, in the same run: raw PostgreSQL single-row insert + commit of journal rows
 *       ({@link RawJournal}, the real {@code event_journal} table in a scratch database) with 8 x N
 *       connections, 8 being one node's journal pool ({@code config/postgres.conf}); the same with 10
 *       rows per commit (what group commit does); and a bare Pekko HTTP WebSocket echo
 *       ({@link SyncBenchmark#startFloorServers}, in a process of its own like a node) with as many
 *       closed-loop clients as the throughput figure.
 *   <li><b>Recovery</b> of an instance with {@code --recovery-events} events, with snapshots
 *       ({@code snapshot-every} 1,000, the default) and without (100,000,000): one node (PostgreSQL,
 *       cluster profile; and the embedded H2 profile), a 1 s {@code idle-timeout}; a writer pushes
 *       the events in batches and leaves, the instance stops when idle, then a new client's hello
 *       until its first poke is timed (the first pull, which starts and recovers the instance), next
 *       to the node's own "recovered ... in [n] ms" line and a second client's pull of the running
 *       instance.
 * </ol>
 *
 * <p>Runs are interleaved (floors, then 1, 2, 3 nodes; again), and every figure is the median of
 * {@code --runs} runs with its min-max.
 */
@Command(name = "cluster-benchmark", mixinStandardHelpOptions = true,
    description = "Throughput and push-to-confirmation with 1, 2, 3 cluster nodes on this machine, next to PostgreSQL and"
        + " WebSocket floors; recovery time with and without snapshots.")
public final class ClusterBenchmark implements Callable<Integer> {
  @Option(names = "--nodes", split = ",", description = "node counts (default ${DEFAULT-VALUE})")
  List<Integer> nodeCounts = List.of(1, 2, 3);

  @Option(names = "--runs", description = "runs of every throughput and floor figure, interleaved; medians are reported"
      + " (default ${DEFAULT-VALUE})")
  int runs = 3;

  @Option(names = "--seconds", description = "measured seconds per throughput and echo run (default ${DEFAULT-VALUE})")
  int seconds = 20;

  @Option(names = "--warmup-seconds", description = "unmeasured seconds of load first in every run: the nodes are fresh JVMs"
      + " (default ${DEFAULT-VALUE})")
  int warmupSeconds = 15;

  @Option(names = "--instances", description = "todo instances (default ${DEFAULT-VALUE})")
  int instances = 100;

  @Option(names = "--clients-per-instance", description = "WebSocket clients per instance (default ${DEFAULT-VALUE})")
  int clientsPerInstance = 10;

  @Option(names = "--message-bytes", description = "size of a push and of an echo message (default ${DEFAULT-VALUE})")
  int messageBytes = 200;

  @Option(names = "--floor-seconds", description = "measured seconds per PostgreSQL floor figure (default ${DEFAULT-VALUE})")
  int floorSeconds = 5;

  @Option(names = "--journal-pool", description = "journal connections per node, as config/postgres.conf's maxConnections"
      + " (default ${DEFAULT-VALUE})")
  int journalPool = 8;

  @Option(names = "--recovery-events", description = "events (mutations) of the recovered instance (default ${DEFAULT-VALUE})")
  int recoveryEvents = 10_000;

  @Option(names = "--recovery-todos", description = "distinct todos those mutations write, i.e. the instance's entries"
      + " (default ${DEFAULT-VALUE})")
  int recoveryTodos = 1_000;

  @Option(names = "--recovery-batch", description = "mutations per push while writing them (default ${DEFAULT-VALUE})")
  int recoveryBatch = 100;

  @Option(names = "--recovery-runs", description = "measured recoveries per configuration, after one unmeasured"
      + " (default ${DEFAULT-VALUE})")
  int recoveryRuns = 5;

  @Option(names = "--recovery-warmup-runs", description = "unmeasured recoveries first, per configuration: recovery code runs"
      + " once per instance, so the JIT needs several (default ${DEFAULT-VALUE})")
  int recoveryWarmupRuns = 3;

  @Option(names = "--recovery-journals", split = ",", description = "postgres (one node, cluster profile) and/or h2 (embedded"
      + " profile) (default ${DEFAULT-VALUE})")
  List<String> recoveryJournals = List.of("postgres", "h2");

  @Option(names = "--figures", split = ",", description = "a subset of floors,throughput,recovery (default ${DEFAULT-VALUE})")
  List<String> figures = List.of("floors", "throughput", "recovery");

  @Option(names = "--node-heap", description = "each node's -Xmx, as config/run-local-cluster.sh (default ${DEFAULT-VALUE})")
  String nodeHeap = "512m";

  @Option(names = "--postgres", description = "PostgreSQL host:port; user postgres, no password, database test must exist"
      + " (default ${DEFAULT-VALUE})")
  String postgres = "127.0.0.1:5432";

  @Option(names = "--profile", description = "the cluster profile the nodes include (default ${DEFAULT-VALUE})")
  Path profile = Path.of("config/cluster.conf");

  @Option(names = "--node-classpath", description = "the nodes' class path (default: this JVM's, i.e. the bench jar, which"
      + " holds the server and the example apps)")
  String nodeClassPath;

  @Option(names = "--wait-for-quiet-minutes", description = "first wait, up to this long, until no other server or surefire"
      + " JVM runs on the machine (default ${DEFAULT-VALUE})")
  int waitForQuietMinutes = 0;

  @Option(names = "--dir", description = "where node configs, logs and data go (default: a temp dir, deleted at the end)")
  Path dir;

  @Option(names = "--node-setting", description = "KEY=VALUE: one more setting for every node (repeatable), e.g."
      + " pekko.remote.artery.advanced.outbound-message-queue-size=100000")
  Map<String, String> nodeSettings = new LinkedHashMap<>();

  @Option(names = "--serve-echo", hidden = true, description = "internal: run the echo floor's server in this process")
  boolean serveEcho;

  private static final Duration START_BOUND = Duration.ofSeconds(120);
  private static final Pattern OTHER_SERVERS = Pattern.compile("surefire|gateway\\.Main|synced-store-server");
  private static final Pattern OVERFLOW = Pattern.compile("was dropped\\. Due to overflow of send queue");

  private Path base;
  private String classPath;
  private final SyncBenchmark bench = new SyncBenchmark();
  private ExecutorService continuations;
  private final Map<String, List<Double>> results = new LinkedHashMap<>();
  private final Map<String, List<String>> notes = new LinkedHashMap<>();
  private final List<String> failures = new ArrayList<>();

  /** Runs the benchmark with command-line options; {@code --help} lists them. */
  public static void main(String[] args) {
    System.exit(new CommandLine(new ClusterBenchmark()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (serveEcho) {
      return serveEcho();
    }
    int clients = instances * clientsPerInstance;
    classPath = nodeClassPath != null ? nodeClassPath : System.getProperty("java.class.path");
    base = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("synced-store-cluster-bench");
    bench.http = HttpClient.newHttpClient();
    bench.messageBytes = messageBytes;
    continuations = Executors.newFixedThreadPool(4, daemon("load"));
    // RawJournal prepares the schema once per connection of the floor: not worth a line each
    if (org.slf4j.LoggerFactory.getLogger(io.syncedstore.persistence.DatabaseSetup.class) instanceof ch.qos.logback.classic.Logger l) {
      l.setLevel(ch.qos.logback.classic.Level.WARN);
    }
    waitForQuiet();
    System.out.printf("cluster benchmark, %s: nodes %s, %d runs, %d instances x %d clients = %d WebSocket clients, %d s measured"
            + " after %d s warm-up, %d cores, java %s, load generator pid %d%n",
        LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME), nodeCounts, runs, instances, clientsPerInstance, clients,
        seconds, warmupSeconds, Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"),
        ProcessHandle.current().pid());
    System.out.printf("nodes: java -Xmx%s -cp %s %s, including %s%s; PostgreSQL at %s; files in %s%n", nodeHeap, shorten(classPath),
        ClusterNodes.NODE_MAIN, profile, nodeSettings.isEmpty() ? "" : " with " + nodeSettings, postgres, base);
    try {
      for (int run = 1; run <= runs && (figures.contains("floors") || figures.contains("throughput")); run++) {
        System.out.printf("%n== run %d of %d (load average %.1f)%n", run, runs, loadAverage());
        int r = run;
        if (figures.contains("floors")) {
          for (int n : nodeCounts) {
            attempt("PostgreSQL floor", () -> pgFloor(r, journalPool * n, 1));
          }
          attempt("PostgreSQL floor", () -> pgFloor(r, journalPool, 10));
          attempt("echo floor", () -> echoFloor(r, clients));
        }
        if (figures.contains("throughput")) {
          for (int n : nodeCounts) {
            attempt(n + " nodes", () -> throughput(r, n, clients));
          }
        }
      }
      if (figures.contains("recovery")) {
        System.out.printf("%n== recovery of an instance with %,d events (%,d entries), %d runs per configuration after %d"
            + " unmeasured%n", recoveryEvents, recoveryTodos, recoveryRuns, recoveryWarmupRuns);
        for (String journal : recoveryJournals) {
          attempt("recovery", () -> recovery(journal, true));
          attempt("recovery", () -> recovery(journal, false));
        }
      }
      report(clients);
      if (!failures.isEmpty()) {
        System.out.printf("%d figure runs FAILED (not in the medians): %s%n", failures.size(), failures);
      }
      return failures.isEmpty() ? 0 : 1;
    } finally {
      continuations.shutdownNow();
      if (dir == null) {
        SyncBenchmark.deleteTree(base);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Throughput

  /** One client of the throughput figure: one push outstanding at a time, the next sent when it is confirmed. */
  private final class LoadClient {
    private final int index;
    private final Pusher pusher;
    private final Load load;
    private long nextId = 1;
    private volatile boolean inFlight;
    private volatile long confirmed;
    /**
     * The next push goes once both the send has returned and the confirmation has come, in either
     * order: the JDK WebSocket refuses a send while the previous one is still completing, and the
     * confirming poke can arrive before that.
     */
    private final AtomicInteger gate = new AtomicInteger();

    LoadClient(int index, Pusher pusher, Load load) {
      this.index = index;
      this.pusher = pusher;
      this.load = load;
    }

    void pushNext() {
      if (!load.running) {
        inFlight = false;
        return;
      }
      long id = nextId++;
      String message = pusher.pushMessage(id, "~c" + index + "~");
      inFlight = true;
      gate.set(0);
      long sent = System.nanoTime();
      CompletableFuture<Long> done;
      try {
        done = pusher.push(id, message);
      } catch (RuntimeException e) {
        load.failed(this, e);
        return;
      }
      // never continue on the WebSocket's listener thread: the next send would wait there for its own write
      done.whenCompleteAsync((at, error) -> {
        if (error != null) {
          load.failed(this, error);
          return;
        }
        load.latency.recordValue(Math.max(0, at - sent));
        confirmed++;
        if (gate.incrementAndGet() == 2) {
          pushNext();
        }
      }, continuations);
      if (gate.incrementAndGet() == 2) {
        continuations.execute(this::pushNext);
      }
    }
  }

  /** The closed-loop load of one throughput run. */
  private static final class Load {
    final Recorder latency = new Recorder(3);
    final AtomicLong errors = new AtomicLong();
    final AtomicReference<String> firstError = new AtomicReference<>();
    volatile boolean running = true;

    void failed(LoadClient client, Throwable error) {
      client.inFlight = false;
      errors.incrementAndGet();
      firstError.compareAndSet(null, "client " + client.index + ": " + error);
    }
  }

  private void throughput(int run, int n, int total) throws Exception {
    String database = ClusterNodes.createDatabase(postgres, "bench_cluster_");
    Path runDir = base.resolve("run" + run + "-nodes" + n);
    ClusterNodes cluster = null;
    List<LoadClient> clients = new ArrayList<>();
    Load load = new Load();
    try {
      long startedAt = System.nanoTime();
      cluster = ClusterNodes.start(nodeSpec(runDir, database), n, START_BOUND);
      double startSeconds = (System.nanoTime() - startedAt) / 1e9;
      List<Node> nodes = cluster.nodes();

      startedAt = System.nanoTime();
      ExecutorService connecting = Executors.newFixedThreadPool(16, daemon("connect"));
      try {
        List<Future<LoadClient>> opening = new ArrayList<>();
        for (int i = 0; i < total; i++) {
          int index = i;
          Node node = nodes.get(i % n);
          String instance = "bench-" + (i / clientsPerInstance);
          opening.add(connecting.submit(() -> new LoadClient(index, Pusher.connect(bench, node.syncUri("todo", instance), "c" + index),
              load)));
        }
        for (Future<LoadClient> f : opening) {
          clients.add(f.get(120, TimeUnit.SECONDS));
        }
      } finally {
        connecting.shutdownNow();
      }
      double connectSeconds = (System.nanoTime() - startedAt) / 1e9;

      clients.forEach(LoadClient::pushNext);
      Thread.sleep(warmupSeconds * 1000L);
      Window window = Window.open(nodes, bench.http);
      load.latency.getIntervalHistogram(); // drops the warm-up's samples
      long[] before = clients.stream().mapToLong(c -> c.confirmed).toArray();
      Thread.sleep(seconds * 1000L);
      Histogram h = load.latency.getIntervalHistogram();
      Window.Usage usage = window.close();
      long[] perClient = new long[clients.size()];
      for (int i = 0; i < clients.size(); i++) {
        perClient[i] = clients.get(i).confirmed - before[i];
      }
      load.running = false;
      // A client whose confirming poke never comes waits forever (a closed loop has no timeout): counted, not waited for.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (clients.stream().anyMatch(c -> c.inFlight) && System.nanoTime() < deadline) {
        Thread.sleep(200);
      }
      long stuck = clients.stream().filter(c -> c.inFlight).count();
      long dropped = 0;
      for (Node node : nodes) {
        dropped += OVERFLOW.matcher(Files.readString(node.log())).results().count();
      }

      // Where each instance lived: the node that logged its recovery (a move would show on two nodes).
      Map<String, Integer> home = new HashMap<>();
      int moved = 0;
      for (Node node : nodes) {
        for (Recovery r : node.recoveries()) {
          Integer previous = home.put(r.instance(), node.index());
          if (previous != null && previous != node.index()) {
            moved++;
          }
        }
      }
      int cross = 0;
      int stuckCross = 0;
      int unknown = 0;
      int[] instancesPerNode = new int[n];
      for (int k = 0; k < instances; k++) {
        Integer node = home.get("todo/bench-" + k);
        if (node != null) {
          instancesPerNode[node - 1]++;
        }
      }
      for (int i = 0; i < total; i++) {
        Integer node = home.get("todo/bench-" + (i / clientsPerInstance));
        if (node == null) {
          unknown++;
        } else if (node != i % n + 1) {
          cross++;
          stuckCross += clients.get(i).inFlight ? 1 : 0;
        }
      }

      double rate = h.getTotalCount() / usage.seconds();
      double p50 = h.getValueAtPercentile(50) / 1e6;
      double p99 = h.getValueAtPercentile(99) / 1e6;
      double mean = h.getMean() / 1e6;
      String key = "nodes-" + n;
      add(key + "-rate", rate);
      add(key + "-server-rate", usage.applied() / usage.seconds());
      add(key + "-p50", p50);
      add(key + "-p99", p99);
      add(key + "-cross", cross);
      add(key + "-stuck", stuck);
      add(key + "-busy", usage.machine().busyShare() * 100);
      add(key + "-loadgen", usage.selfCores());
      add(key + "-postgres", usage.postgresCores());
      add(key + "-nodes-cores", usage.nodeCores().stream().mapToDouble(Double::doubleValue).sum());
      long idleClients = java.util.Arrays.stream(perClient).filter(c -> c == 0).count();
      long minPerClient = java.util.Arrays.stream(perClient).min().orElse(0);
      long maxPerClient = java.util.Arrays.stream(perClient).max().orElse(0);
      String line = String.format("%d node%s: %,.0f mutations/s confirmed (server: %,.0f/s applied), push->confirmation p50 %s ms,"
              + " p99 %s ms, mean %s ms (x rate = %.0f clients busy); per client %d-%d confirmed, %d with none; errors %d%s;"
              + " %d clients never got their last confirmation (%d of them cross-node)%s;"
              + " cross-node sessions %d of %d (instances per node %s%s%s); %s; started in %.1f s, clients connected in %.1f s",
          n, n == 1 ? "" : "s", rate, usage.applied() / usage.seconds(), SyncBenchmark.fmt(p50), SyncBenchmark.fmt(p99),
          SyncBenchmark.fmt(mean), rate * mean / 1000, minPerClient, maxPerClient, idleClients, load.errors.get(),
          load.firstError.get() == null ? "" : " (first: " + load.firstError.get() + ")", stuck, stuckCross, dropped == 0 ? ""
              : " (the nodes logged " + dropped + " messages dropped by Artery: \"overflow of send queue\"; Pekko logs at most"
              + " 10 dead letters per 5 minutes)", cross, total,
          java.util.Arrays.toString(instancesPerNode), moved > 0 ? ", " + moved + " moved" : "", unknown > 0 ? ", " + unknown
              + " clients' instance not found in the logs" : "", usage.describe(nodes) + "; " + usage.server(), startSeconds,
          connectSeconds);
      add(key + "-events-per-write", usage.grew("synced_store_journal_write_seconds_count") == 0 ? 0
          : usage.applied() / usage.grew("synced_store_journal_write_seconds_count"));
      add(key + "-pokes-per-mutation", usage.applied() == 0 ? 0 : usage.grew("synced_store_pokes_sent_total") / usage.applied());
      add(key + "-write-ms", usage.grew("synced_store_journal_write_seconds_count") == 0 ? 0
          : usage.grew("synced_store_journal_write_seconds_sum") / usage.grew("synced_store_journal_write_seconds_count") * 1000);
      add(key + "-confirm-ms", usage.grew("synced_store_push_confirm_seconds_count") == 0 ? 0
          : usage.grew("synced_store_push_confirm_seconds_sum") / usage.grew("synced_store_push_confirm_seconds_count") * 1000);
      System.out.println("  " + line);
      notes.computeIfAbsent(key, k -> new ArrayList<>()).add("run " + run + ": " + line);
    } finally {
      SyncBenchmark.closeAll(clients.stream().map(c -> c.pusher.socket).toList());
      if (cluster != null) {
        cluster.close();
      }
      ClusterNodes.dropDatabase(postgres, database);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Floors

  /**
   * Raw PostgreSQL: {@code connections} threads, each with its own connection, inserting journal rows
   * ({@link RawJournal}: the {@code event_journal} table, a real serialized event) {@code rowsPerCommit}
   * at a time and committing, into a scratch database with the profile's settings.
   */
  private void pgFloor(int run, int connections, int rowsPerCommit) throws Exception {
    String database = ClusterNodes.createDatabase(postgres, "bench_floor_");
    try {
      Config config = SyncConfig.load(ConfigFactory.parseString("pekko-persistence-jdbc.shared-databases.slick.db.url = \""
          + ClusterNodes.jdbcUrl(postgres, database) + "\"").withFallback(ConfigFactory.parseFile(profile.toFile())));
      io.syncedstore.persistence.DatabaseSetup.prepare(config);
      AtomicLong rows = new AtomicLong();
      AtomicInteger phase = new AtomicInteger(); // 0 warm-up, 1 measured, 2 stop
      List<Histogram> histograms = new ArrayList<>();
      List<Thread> threads = new ArrayList<>();
      AtomicReference<Exception> failure = new AtomicReference<>();
      for (int t = 0; t < connections; t++) {
        long firstSequenceNr = (t + 1) * 1_000_000_000L;
        Histogram h = SyncBenchmark.histogram();
        histograms.add(h);
        Thread thread = new Thread(() -> {
          try (RawJournal journal = new RawJournal(config)) {
            long seq = firstSequenceNr;
            while (phase.get() < 2) {
              long start = System.nanoTime();
              for (int r = 0; r < rowsPerCommit; r++) {
                journal.add(seq++);
              }
              journal.commit();
              if (phase.get() == 1) {
                h.recordValue(System.nanoTime() - start);
                rows.addAndGet(rowsPerCommit);
              }
            }
          } catch (Exception e) {
            failure.compareAndSet(null, e);
          }
        }, "pg-floor-" + t);
        threads.add(thread);
        thread.start();
      }
      Thread.sleep(3000);
      Window window = Window.open(List.of(), null);
      phase.set(1);
      Thread.sleep(floorSeconds * 1000L);
      phase.set(2);
      Window.Usage usage = window.close();
      for (Thread thread : threads) {
        thread.join(30_000);
      }
      if (failure.get() != null) {
        throw failure.get();
      }
      Histogram all = SyncBenchmark.histogram();
      histograms.forEach(all::add);
      double rate = rows.get() / usage.seconds();
      String key = "pg-" + connections + "-" + rowsPerCommit;
      add(key + "-rate", rate);
      add(key + "-p50", all.getValueAtPercentile(50) / 1e6);
      add(key + "-p99", all.getValueAtPercentile(99) / 1e6);
      add(key + "-busy", usage.machine().busyShare() * 100);
      String line = String.format("PostgreSQL floor, %d connections, %d row%s per commit: %,.0f rows/s (%,.0f commits/s), commit p50 %s ms,"
              + " p99 %s ms; %s", connections, rowsPerCommit, rowsPerCommit == 1 ? "" : "s", rate, rate / rowsPerCommit,
          SyncBenchmark.fmt(all.getValueAtPercentile(50) / 1e6), SyncBenchmark.fmt(all.getValueAtPercentile(99) / 1e6),
          usage.describe(List.of()));
      System.out.println("  " + line);
      notes.computeIfAbsent(key, k -> new ArrayList<>()).add("run " + run + ": " + line);
    } finally {
      ClusterNodes.dropDatabase(postgres, database);
    }
  }

  /**
   * A bare Pekko HTTP WebSocket echo ({@link SyncBenchmark#startFloorServers}) in a process of its own,
   * with {@code total} clients each keeping one {@code --message-bytes} message outstanding.
   */
  private void echoFloor(int run, int total) throws Exception {
    Path echoDir = base.resolve("run" + run + "-echo");
    Node echo = ClusterNodes.startProcess(echoDir, "echo", classPath, List.of("-Xmx" + nodeHeap), ClusterBenchmark.class.getName(),
        List.of("--serve-echo", "--dir", echoDir.resolve("data").toString()), START_BOUND);
    Recorder latency = new Recorder(3);
    AtomicInteger inFlight = new AtomicInteger();
    AtomicLong errors = new AtomicLong();
    AtomicBoolean running = new AtomicBoolean(true);
    String message = "{\"echo\":1,\"pad\":\"" + "x".repeat(Math.max(0, messageBytes - 20)) + "\"}";
    long[] sentAt = new long[total];
    // as for the pushes: the next message goes once the send has returned and the echo has come
    AtomicInteger[] gates = new AtomicInteger[total];
    for (int i = 0; i < total; i++) {
      gates[i] = new AtomicInteger();
    }
    AtomicReference<String> firstError = new AtomicReference<>();
    List<Socket> sockets = new ArrayList<>();
    try {
      URI uri = URI.create("ws://127.0.0.1:" + echo.httpPort() + "/echo");
      EchoSender sender = i -> {
        if (!running.get()) {
          inFlight.decrementAndGet();
          return;
        }
        gates[i].set(0);
        try {
          sentAt[i] = System.nanoTime();
          sockets.get(i).send(message);
        } catch (RuntimeException e) {
          errors.incrementAndGet();
          firstError.compareAndSet(null, e.toString());
          inFlight.decrementAndGet();
        }
      };
      List<Socket> opened = bench.connect(uri, total, i -> text -> {
        long now = System.nanoTime();
        latency.recordValue(Math.max(0, now - sentAt[i]));
        if (gates[i].incrementAndGet() == 2) {
          continuations.execute(() -> sendAndGate(sender, gates, i));
        }
      });
      sockets.addAll(opened);
      for (int i = 0; i < total; i++) {
        inFlight.incrementAndGet();
        int client = i;
        continuations.execute(() -> sendAndGate(sender, gates, client));
      }
      Thread.sleep(Math.min(warmupSeconds, 10) * 1000L);
      Window window = Window.open(List.of(echo), null);
      latency.getIntervalHistogram();
      Thread.sleep(seconds * 1000L);
      Histogram h = latency.getIntervalHistogram();
      Window.Usage usage = window.close();
      running.set(false);
      ClusterNodes.await("every echo answered", Duration.ofSeconds(30), () -> inFlight.get() == 0, () -> inFlight.get() + " waiting");
      double rate = h.getTotalCount() / usage.seconds();
      add("echo-rate", rate);
      add("echo-p50", h.getValueAtPercentile(50) / 1e6);
      add("echo-p99", h.getValueAtPercentile(99) / 1e6);
      add("echo-busy", usage.machine().busyShare() * 100);
      String line = String.format("WebSocket echo floor, %d clients, 1 message each outstanding: %,.0f round trips/s, p50 %s ms, p99 %s ms;"
              + " errors %d%s; %s", total, rate, SyncBenchmark.fmt(h.getValueAtPercentile(50) / 1e6),
          SyncBenchmark.fmt(h.getValueAtPercentile(99) / 1e6), errors.get(), firstError.get() == null ? "" : " (first: "
              + firstError.get() + ")", usage.describe(List.of(echo)));
      System.out.println("  " + line);
      notes.computeIfAbsent("echo", k -> new ArrayList<>()).add("run " + run + ": " + line);
    } finally {
      SyncBenchmark.closeAll(sockets);
      echo.kill();
    }
  }

  /** Sends echo client {@code i}'s next message. */
  private interface EchoSender {
    void send(int i);
  }

  /** Sends, then opens the gate from the sending side (the echo opens it from the other). */
  private void sendAndGate(EchoSender sender, AtomicInteger[] gates, int i) {
    sender.send(i);
    if (gates[i].incrementAndGet() == 2) {
      continuations.execute(() -> sendAndGate(sender, gates, i));
    }
  }

  /** {@code --serve-echo}: the echo floor's server, bare Pekko HTTP with the gateway's HTTP settings, until killed. */
  private int serveEcho() throws Exception {
    Path data = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("echo-floor");
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "echo-floor", SyncBenchmark.serverConfig(data));
    SyncBenchmark floor = new SyncBenchmark();
    floor.startFloorServers(system);
    System.out.println("listening on http://127.0.0.1:" + floor.echoUri.getPort());
    System.out.flush();
    system.getWhenTerminated().toCompletableFuture().join();
    return 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Recovery

  private void recovery(String journal, boolean snapshots) throws Exception {
    boolean postgresJournal = journal.equals("postgres");
    if (!postgresJournal && !journal.equals("h2")) {
      throw new IllegalArgumentException("--recovery-journals: postgres or h2, not " + journal);
    }
    String database = postgresJournal ? ClusterNodes.createDatabase(postgres, "bench_recovery_") : null;
    Path runDir = base.resolve("recovery-" + journal + (snapshots ? "-snapshots" : "-no-snapshots"));
    ClusterNodes one = null;
    String key = "recovery-" + journal + (snapshots ? "-snapshots" : "-none");
    try {
      ClusterNodes.Spec spec = nodeSpec(runDir, database)
          .with("synced-store.instance.idle-timeout", "1s")
          .with("synced-store.instance.snapshot-every", snapshots ? 1000 : 100_000_000);
      one = ClusterNodes.start(spec, 1, START_BOUND);
      Node node = one.node(1);
      System.out.printf("  %s journal (%s), snapshot-every %s:%n", journal, postgresJournal ? "cluster profile, 1 node"
          : "embedded profile", snapshots ? "1,000" : "100,000,000 (none)");
      for (int r = 1 - recoveryWarmupRuns; r <= recoveryRuns; r++) {
        String instance = "recovery-" + (r + recoveryWarmupRuns);
        URI uri = node.syncUri("todo", instance);
        Pusher writer = Pusher.connect(bench, uri, "writer");
        long started = System.nanoTime();
        for (int first = 1; first <= recoveryEvents; first += recoveryBatch) {
          int last = Math.min(recoveryEvents, first + recoveryBatch - 1);
          writer.push(last, batch(first, last)).get(60, TimeUnit.SECONDS);
        }
        double writeSeconds = (System.nanoTime() - started) / 1e9;
        SyncBenchmark.closeAll(List.of(writer.socket));
        // The instance stops once idle for 1 s (checked every 250 ms) with no session: wait well past that.
        Thread.sleep(3000);
        long recoveriesBefore = recoveriesOf(node, instance).size();

        started = System.nanoTime();
        Pusher reader = Pusher.connect(bench, uri, "reader");
        double coldMs = (System.nanoTime() - started) / 1e6;
        ClusterNodes.await("the node's recovery line for " + instance, Duration.ofSeconds(30),
            () -> recoveriesOf(node, instance).size() > recoveriesBefore, () -> "the instance may not have stopped: "
                + recoveriesOf(node, instance));
        List<Recovery> all = recoveriesOf(node, instance);
        Recovery recovered = all.get(all.size() - 1);
        started = System.nanoTime();
        Pusher second = Pusher.connect(bench, uri, "second");
        double warmMs = (System.nanoTime() - started) / 1e6;
        SyncBenchmark.closeAll(List.of(reader.socket, second.socket));
        String snapshot = postgresJournal ? snapshotAt(database, "todo|" + instance) : "";
        if (recovered.version() < recoveryEvents) {
          throw new IllegalStateException("recovered at version " + recovered.version() + ", expected at least " + recoveryEvents);
        }
        System.out.printf("    %s: wrote %,d events in %.1f s; first pull after the stop %s ms, the node's recovery line %d ms"
                + " (version %d, %d entries)%s; pull of the running instance %s ms%n", r <= 0 ? "unmeasured" : "run " + r,
            recoveryEvents, writeSeconds, SyncBenchmark.fmt(coldMs), recovered.millis(), recovered.version(), recovered.entries(),
            snapshot, SyncBenchmark.fmt(warmMs));
        if (r > 0) {
          add(key + "-cold", coldMs);
          add(key + "-log", recovered.millis());
          add(key + "-warm", warmMs);
          notes.computeIfAbsent(key, k -> new ArrayList<>()).add(String.format("version %d, %d entries%s", recovered.version(),
              recovered.entries(), snapshot));
        }
      }
    } finally {
      if (one != null) {
        one.close();
      }
      if (database != null) {
        ClusterNodes.dropDatabase(postgres, database);
      }
    }
  }

  /** @return a push of setTodo mutations {@code first..last}, over {@code --recovery-todos} todos */
  private String batch(int first, int last) {
    long now = System.currentTimeMillis();
    StringBuilder push = new StringBuilder("{\"type\":\"push\",\"mutations\":[");
    for (int id = first; id <= last; id++) {
      if (id > first) {
        push.append(',');
      }
      push.append("{\"id\":").append(id).append(",\"name\":\"setTodo\",\"args\":{\"id\":\"todo-").append(id % recoveryTodos)
          .append("\",\"text\":\"recovery ").append(id).append("\",\"updatedAt\":").append(now).append("},\"timestamp\":")
          .append(now).append('}');
    }
    return push.append("]}").toString();
  }

  private static long maxSequenceNr(Connection c, String table, String persistenceId) throws java.sql.SQLException {
    try (PreparedStatement p = c.prepareStatement("SELECT coalesce(max(sequence_number), 0) FROM " + table + " WHERE persistence_id = ?")) {
      p.setString(1, persistenceId);
      try (ResultSet rs = p.executeQuery()) {
        return rs.next() ? rs.getLong(1) : 0;
      }
    }
  }

  private static List<Recovery> recoveriesOf(Node node, String instance) {
    return node.recoveries().stream().filter(r -> r.instance().equals("todo/" + instance)).toList();
  }

  /** @return ", N events, snapshot at sequence number S (M events replayed)" from the journal database, for the record */
  private String snapshotAt(String database, String persistenceId) {
    try (Connection c = ClusterNodes.connect(postgres, database)) {
      long events = maxSequenceNr(c, "event_journal", persistenceId);
      long at = maxSequenceNr(c, "snapshot", persistenceId);
      return ", " + events + " events in the journal, " + (at == 0 ? "no snapshot (all replayed)"
          : "snapshot at sequence number " + at + " (" + (events - at) + " events replayed)");
    } catch (Exception e) {
      return ", snapshot unknown (" + e.getMessage() + ")";
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Measuring CPU

  /** CPU counters at the start of a measured window. */
  private record Window(long startNanos, List<Node> nodes, List<Double> nodeCpu, double selfCpu, double postgresCpu, MachineCpu machine,
      HttpClient http, Map<String, Double> metrics) {
    static Window open(List<Node> nodes, HttpClient http) {
      return new Window(System.nanoTime(), nodes, nodes.stream().map(Node::cpuSeconds).toList(), ownCpuSeconds(),
          ClusterNodes.postgresCpuSeconds(), MachineCpu.now(), http, http == null ? Map.of() : metrics(nodes, http));
    }

    Usage close() {
      double s = (System.nanoTime() - startNanos) / 1e9;
      List<Double> cores = new ArrayList<>();
      for (int i = 0; i < nodes.size(); i++) {
        cores.add((nodes.get(i).cpuSeconds() - nodeCpu.get(i)) / s);
      }
      Map<String, Double> delta = new HashMap<>();
      if (http != null) {
        metrics(nodes, http).forEach((name, value) -> delta.put(name, value - metrics.getOrDefault(name, 0.0)));
      }
      return new Usage(s, cores, (ownCpuSeconds() - selfCpu) / s, (ClusterNodes.postgresCpuSeconds() - postgresCpu) / s,
          MachineCpu.now().minus(machine), delta, otherServers());
    }

    private static double ownCpuSeconds() {
      return ClusterNodes.cpuSeconds(ProcessHandle.current().pid());
    }

    /** @return every metric of the nodes' {@code /metrics} (docs/METRICS.md) by name, summed over the nodes and labels */
    private static Map<String, Double> metrics(List<Node> nodes, HttpClient http) {
      Map<String, Double> sum = new HashMap<>();
      for (Node n : nodes) {
        try {
          String text = http.send(java.net.http.HttpRequest.newBuilder(URI.create(n.baseUrl() + "/metrics")).build(),
              java.net.http.HttpResponse.BodyHandlers.ofString()).body();
          java.util.regex.Matcher m = ServerMeters.METRIC.matcher(text);
          while (m.find()) {
            sum.merge(m.group(1), Double.parseDouble(m.group(3)), Double::sum);
          }
        } catch (Exception e) {
          System.out.printf("  (no /metrics from %s: %s)%n", n.name(), e);
        }
      }
      return sum;
    }

    /**
     * What a measured window used: cores (CPU seconds per second) of each node, this JVM and
     * PostgreSQL, the machine's counters, and the mutations the nodes applied.
     */
    record Usage(double seconds, List<Double> nodeCores, double selfCores, double postgresCores, MachineCpu machine,
        Map<String, Double> metrics, List<String> others) {
      /** @return how much {@code name} grew during the window (summed over the nodes) */
      double grew(String name) {
        return metrics.getOrDefault(name, 0.0);
      }

      double applied() {
        return grew("synced_store_mutations_applied_total");
      }

      /** @return what the nodes' meters say about the window: journal writes, events per write, pokes per mutation */
      String server() {
        double writes = grew("synced_store_journal_write_seconds_count");
        double confirms = grew("synced_store_push_confirm_seconds_count");
        double applied = applied();
        return String.format("server meters: %,.0f journal writes/s, %.1f events per write, write mean %s ms; push at its instance ->"
                + " answer mean %s ms; %.1f pokes per mutation, %,.0f coalesced, %,.0f catch-ups", writes / seconds,
            writes == 0 ? 0 : applied / writes, SyncBenchmark.fmt(writes == 0 ? 0 : grew("synced_store_journal_write_seconds_sum") / writes
                * 1000), SyncBenchmark.fmt(confirms == 0 ? 0 : grew("synced_store_push_confirm_seconds_sum") / confirms * 1000),
            applied == 0 ? 0 : grew("synced_store_pokes_sent_total") / applied, grew("synced_store_pokes_coalesced_total"),
            grew("synced_store_catch_ups_total"));
      }

      String describe(List<Node> nodes) {
        StringBuilder sb = new StringBuilder("CPU cores used: ");
        for (int i = 0; i < nodes.size(); i++) {
          sb.append(nodes.get(i).name()).append(' ').append(String.format("%.2f", nodeCores.get(i))).append(", ");
        }
        sb.append(String.format("load generator %.2f, PostgreSQL %.2f; machine %.0f %% busy of %d cores, steal %.1f %%",
            selfCores, postgresCores, machine.busyShare() * 100, Runtime.getRuntime().availableProcessors(),
            machine.stealShare() * 100));
        if (!others.isEmpty()) {
          sb.append("; OTHER SERVER/TEST JVMs RUNNING: ").append(others);
        }
        return sb.toString();
      }
    }
  }

  /** @return other server or surefire JVMs on the machine (not this one's children), which would share the cores */
  static List<String> otherServers() {
    long self = ProcessHandle.current().pid();
    return ProcessHandle.allProcesses()
        .filter(p -> p.pid() != self && p.parent().map(parent -> parent.pid() != self).orElse(true))
        .filter(p -> p.info().commandLine().map(cl -> OTHER_SERVERS.matcher(cl).find()).orElse(false))
        .map(p -> Long.toString(p.pid()))
        .toList();
  }

  private void waitForQuiet() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(waitForQuietMinutes);
    List<String> others = otherServers();
    while (!others.isEmpty() && System.nanoTime() < deadline) {
      System.out.printf("other server or surefire JVMs running (pids %s); waiting 60 s...%n", others);
      Thread.sleep(60_000);
      others = otherServers();
    }
    if (!others.isEmpty()) {
      System.out.printf("WARNING: other server or surefire JVMs are running (pids %s): the figures share the cores with them%n", others);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reporting

  private void add(String figure, double value) {
    results.computeIfAbsent(figure, f -> new ArrayList<>()).add(value);
  }

  private String ms(String figure) {
    List<Double> xs = results.get(figure);
    return xs == null ? "-" : SyncBenchmark.spread(xs);
  }

  private String count(String figure, String format) {
    List<Double> xs = results.get(figure);
    if (xs == null) {
      return "-";
    }
    double min = xs.stream().mapToDouble(Double::doubleValue).min().orElse(0);
    double max = xs.stream().mapToDouble(Double::doubleValue).max().orElse(0);
    return String.format(format + " (" + format + "-" + format + ")", SyncBenchmark.median(xs), min, max);
  }

  private void report(int clients) {
    System.out.printf("%nMedians of the runs (min-max). %d cores shared by the nodes, the load generator and PostgreSQL.%n",
        Runtime.getRuntime().availableProcessors());
    if (results.keySet().stream().anyMatch(k -> k.startsWith("pg-") || k.startsWith("echo"))) {
      System.out.println("Floors:");
      for (int n : nodeCounts) {
        String key = "pg-" + journalPool * n + "-1";
        if (results.containsKey(key + "-rate")) {
          System.out.printf("  PostgreSQL, %2d connections, 1 row/commit:   %s rows/s; commit p50 %s ms, p99 %s ms%n", journalPool * n,
              count(key + "-rate", "%,.0f"), ms(key + "-p50"), ms(key + "-p99"));
        }
      }
      String batched = "pg-" + journalPool + "-10";
      if (results.containsKey(batched + "-rate")) {
        System.out.printf("  PostgreSQL, %2d connections, 10 rows/commit: %s rows/s; commit p50 %s ms, p99 %s ms%n", journalPool,
            count(batched + "-rate", "%,.0f"), ms(batched + "-p50"), ms(batched + "-p99"));
      }
      if (results.containsKey("echo-rate")) {
        System.out.printf("  WebSocket echo, %,d clients: %s round trips/s; p50 %s ms, p99 %s ms; machine %s %% busy%n", clients,
            count("echo-rate", "%,.0f"), ms("echo-p50"), ms("echo-p99"), count("echo-busy", "%.0f"));
      }
    }
    if (results.keySet().stream().anyMatch(k -> k.startsWith("nodes-"))) {
      System.out.printf("Throughput, %d instances x %d clients, one push outstanding per client:%n", instances, clientsPerInstance);
      for (int n : nodeCounts) {
        String key = "nodes-" + n;
        if (results.containsKey(key + "-rate")) {
          System.out.printf("  %d node%s: %s mutations/s (server %s); push->confirmation p50 %s ms, p99 %s ms; cross-node sessions %s;"
                  + " clients stuck %s; CPU cores: nodes %s, load generator %s, PostgreSQL %s; machine %s %% busy; events per journal write"
                  + " %s, write mean %s ms, push at its instance -> answer mean %s ms, pokes per mutation %s%n", n, n == 1 ? " " : "s",
              count(key + "-rate", "%,.0f"), count(key + "-server-rate", "%,.0f"), ms(key + "-p50"), ms(key + "-p99"),
              count(key + "-cross", "%.0f"), count(key + "-stuck", "%.0f"), count(key + "-nodes-cores", "%.2f"), count(key + "-loadgen", "%.2f"),
              count(key + "-postgres", "%.2f"), count(key + "-busy", "%.0f"), count(key + "-events-per-write", "%.1f"),
              ms(key + "-write-ms"), ms(key + "-confirm-ms"), count(key + "-pokes-per-mutation", "%.1f"));
        }
      }
    }
    if (results.keySet().stream().anyMatch(k -> k.startsWith("recovery-"))) {
      System.out.printf("Recovery of an instance with %,d events and %,d entries (ms):%n", recoveryEvents, recoveryTodos);
      for (String journal : recoveryJournals) {
        for (String snap : List.of("snapshots", "none")) {
          String key = "recovery-" + journal + "-" + snap;
          if (results.containsKey(key + "-log")) {
            System.out.printf("  %-8s %-13s first pull after the stop %s; node's recovery line %s; pull of the running instance %s; %s%n",
                journal, snap.equals("none") ? "no snapshot" : "snapshots", ms(key + "-cold"), ms(key + "-log"), ms(key + "-warm"),
                notes.get(key).get(0));
          }
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Small things

  /** Runs one figure; a failure is reported and counted, and the benchmark goes on with the next. */
  private void attempt(String what, SyncBenchmark.Step step) {
    try {
      step.run();
    } catch (Exception e) {
      failures.add(what + ": " + e);
      System.out.printf("  FAILED, %s: %s%n", what, e);
      e.printStackTrace(System.out);
    }
  }

  private ClusterNodes.Spec nodeSpec(Path runDir, String database) {
    Map<String, Object> settings = new LinkedHashMap<>();
    // every benchmark client is anonymous on 127.0.0.1, one address's quotas (docs/SECURITY.md): lifted
    settings.putAll(io.syncedstore.gateway.Quotas.liftedSettings(false));
    settings.putAll(nodeSettings);
    return new ClusterNodes.Spec(runDir, profile, postgres, database, classPath, List.of("-Xmx" + nodeHeap), settings);
  }

  private static double loadAverage() {
    return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
  }

  private static String shorten(String classPath) {
    String[] parts = classPath.split(File.pathSeparator);
    return parts.length <= 2 ? classPath : parts[0] + File.pathSeparator + "... (" + parts.length + " entries)";
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
