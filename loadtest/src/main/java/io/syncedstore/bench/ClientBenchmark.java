package io.syncedstore.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.Entry;
import io.syncedstore.api.ScanOptions;
import io.syncedstore.bench.SyncBenchmark.Latency;
import io.syncedstore.client.MutationHandle;
import io.syncedstore.client.SyncOptions;
import io.syncedstore.client.impl.SyncClientImpl;
import io.syncedstore.examples.todo.TodoApp;
import io.syncedstore.examples.todo.TodoApp.SetTodo;
import io.syncedstore.gateway.SyncServer;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.HdrHistogram.Histogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The client benchmark of docs/BENCHMARKS.md ("Client"): the Java client library
 * ({@code client-java}) against the real {@link SyncServer}, in one JVM on loopback, with the
 * todo example app ({@link TodoApp}) and instances of 1,000 todos:
 *
 * <ol>
 *   <li>rebase: a client holding 1,000 pending mutations ({@code setTodo} on 1,000 distinct ids,
 *       kept pending with the {@code holdOutbound} test hook) receives the poke of another client's
 *       write. (1) The time the client spends applying that poke and re-running its 1,000 pending
 *       mutations: the poke is held with the {@code holdInbound} test hook and released on the
 *       benchmark's thread, which applies it under the client's lock, so the release is timed from
 *       outside (the poke's JSON parsing, done before, is not included). (1b) End to end: from the
 *       writer's {@code mutate} call, and from the writer's confirmation, until a {@code subscribe}
 *       callback on the pending client has the new value.
 *   <li>local reads on a client holding 1,000 confirmed todos: one {@code get} and one 100-entry
 *       {@code scan} through {@code query}, in microseconds; also on the client with 1,000 pending.
 *   <li>remote write to callback: client A mutates one todo (a new text each time), client B has
 *       {@code subscribe(tx -> tx.table("todos").get(id), cb)}; from A's {@code mutate} call until B's
 *       callback has the value, one write in flight at a time; next to the raw WebSocket echo floor
 *       of {@link SyncBenchmark} (bare Pekko HTTP on the server's actor system) measured in the same run.
 * </ol>
 *
 * <p>Each figure is the median over the runs of each run's p50 and p99 (HdrHistogram), with the
 * runs' min-max. To tell the code from the machine (2 shared cores), (1) also reports the CPU time
 * and the memory allocated by the thread applying the poke, and every step prints the garbage
 * collections during it. No hook was added to the client for this: {@code holdOutbound},
 * {@code holdInbound} and {@code heldInboundCount} are its existing test hooks.
 */
@Command(name = "client-benchmark", mixinStandardHelpOptions = true,
    description = "Measures the Java client (rebase of pending mutations, local reads, remote write to subscription callback)"
        + " against the real server on loopback, next to a bare WebSocket echo floor.")
public final class ClientBenchmark implements Callable<Integer> {
  @Option(names = "--runs", description = "runs of every figure; medians of the runs are reported with their spread (default ${DEFAULT-VALUE})")
  int runs = 5;

  @Option(names = "--warmup-seconds", description = "unmeasured rounds of every figure before anything is measured (default ${DEFAULT-VALUE})")
  int warmupSeconds = 30;

  @Option(names = "--samples", description = "remote writes per run (figure 3) and echo round trips (floor) (default ${DEFAULT-VALUE})")
  int samples = 2000;

  @Option(names = "--rebase-samples", description = "pokes per run received by the client with pending mutations, for each of"
      + " (1) and (1b) (default ${DEFAULT-VALUE})")
  int rebaseSamples = 200;

  @Option(names = "--read-samples", description = "gets and scans per run and client (figure 2) (default ${DEFAULT-VALUE})")
  int readSamples = 20000;

  @Option(names = "--todos", description = "todos in the confirmed state of each instance (default ${DEFAULT-VALUE})")
  int todos = 1000;

  @Option(names = "--pending", description = "pending mutations of the rebasing client, setTodo on distinct ids (default ${DEFAULT-VALUE})")
  int pending = 1000;

  @Option(names = "--dir", description = "where the server's data goes (default: a temp dir)")
  Path dir;

  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final String TODOS = "todos";
  /** The todo the writers change; no client holds a pending mutation on it. */
  private static final String REMOTE_ID = "remote";
  private static final double REBASE_TARGET_MS = 20;
  private static final double CALLBACK_TARGET_MS = 50;

  private final Map<String, List<Latency>> results = new LinkedHashMap<>();
  private final AtomicLong markers = new AtomicLong();
  /** For (1): per run, the share of samples during which a garbage collection happened. */
  private final Map<String, List<Double>> collectedDuring = new LinkedHashMap<>();
  private boolean measuring;
  private SyncServer server;
  private SyncBenchmark floors;
  private String[] ids;
  private final List<SyncClientImpl> clients = new ArrayList<>();
  /** Instance "client-bench-reads": the writer A and the reader B of (2) and (3). */
  private SyncClientImpl writer;
  private SyncClientImpl reader;
  private final Watch readerWatch = new Watch();
  /** Instance "client-bench-rebase": a writer and the client with pending mutations of (1). */
  private SyncClientImpl rebaseWriter;
  private SyncClientImpl pendingClient;
  private final Watch pendingWatch = new Watch();

  /** Runs the benchmark with command-line options; {@code --help} lists them. */
  public static void main(String[] args) {
    System.exit(new CommandLine(new ClientBenchmark()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (todos < 100 || pending < 0 || runs < 1 || samples < 1 || rebaseSamples < 1 || readSamples < 1) {
      System.err.println("need --todos >= 100 (the scan reads 100), --pending >= 0 and at least 1 run and 1 sample of each kind");
      return 2;
    }
    Path base = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("synced-store-client-bench");
    ids = new String[Math.max(todos, pending)];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = String.format("todo-%05d", i);
    }
    server = SyncServer.start(SyncBenchmark.serverConfig(base.resolve("server")), SyncServer.discoverApps());
    try {
      floors = new SyncBenchmark();
      floors.http = HttpClient.newHttpClient();
      floors.startFloorServers(server.engine().system());
      System.out.printf("client benchmark, %s: %d runs, %d remote writes, %d pokes to the rebasing client, %d reads per run;"
              + " %,d todos, %,d pending, %d cores, java %s%n",
          LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME), runs, samples, rebaseSamples, readSamples, todos,
          pending, Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));
      System.out.println("SyncClients (each with its own java.net.http.HttpClient) and the server share this JVM and its cores,"
          + " loopback 127.0.0.1; the echo floor is bound on the server's actor system");
      long setUp = System.nanoTime();
      setUp();
      System.out.printf("set up in %.1f s: 2 instances of %,d todos; the rebasing client holds %,d pending mutations%n",
          (System.nanoTime() - setUp) / 1e9, todos, pendingClient.pendingCount());

      System.out.printf("warming up for %d s (not measured)...%n", warmupSeconds);
      long start = System.nanoTime();
      long deadline = start + TimeUnit.SECONDS.toNanos(warmupSeconds);
      int round = 0;
      do {
        floors.echo(300);
        remoteWrites(200);
        reads(reader, 2000, "get", "scan");
        reads(pendingClient, 500, "get-pending", "scan-pending");
        heldPoke(pendingClient, rebaseWriter, 20, "rebase");
        heldPoke(reader, writer, 50, "apply-no-pending");
        rebaseEndToEnd(20);
        round++;
      } while (System.nanoTime() < deadline);
      System.out.printf("warm-up done: %d rounds, %.0f s%n", round, (System.nanoTime() - start) / 1e9);

      measuring = true;
      for (int r = 0; r < runs; r++) {
        System.out.printf("run %d of %d (load average %.1f)...%n", r + 1, runs, SyncBenchmark.loadAverage());
        timed("echo", () -> record("echo", floors.echo(samples)));
        timed("remote writes", () -> remoteWrites(samples));
        timed("local reads", () -> {
          reads(reader, readSamples, "get", "scan");
          reads(pendingClient, readSamples, "get-pending", "scan-pending");
        });
        timed("rebase (held poke)", () -> {
          heldPoke(pendingClient, rebaseWriter, rebaseSamples, "rebase");
          heldPoke(reader, writer, rebaseSamples, "apply-no-pending");
        });
        Latency rebase = last("rebase");
        Latency rebaseCpu = last("rebase-cpu");
        System.out.printf("  %-22s (1) this run: p50 %s ms, p99 %s ms; CPU time p50 %s ms, p99 %s ms%n", "", SyncBenchmark.fmt(rebase.p50() / 1e6),
            SyncBenchmark.fmt(rebase.p99() / 1e6), SyncBenchmark.fmt(rebaseCpu.p50() / 1e6), SyncBenchmark.fmt(rebaseCpu.p99() / 1e6));
        timed("rebase (end to end)", () -> rebaseEndToEnd(rebaseSamples));
      }
      if (pendingClient.pendingCount() != pending) {
        throw new IllegalStateException("the rebasing client holds " + pendingClient.pendingCount() + " pending, not " + pending);
      }
      System.out.printf("done (load average %.1f)%n", SyncBenchmark.loadAverage());
      report();
      return 0;
    } finally {
      for (SyncClientImpl c : clients) {
        c.close();
      }
      server.close();
      SyncBenchmark.deleteTree(base);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Set-up

  private void setUp() throws Exception {
    writer = client("client-bench-reads", "writer");
    seed(writer);
    reader = client("client-bench-reads", "reader");
    reader.subscribe(tx -> tx.table(TODOS).get(REMOTE_ID), readerWatch);

    rebaseWriter = client("client-bench-rebase", "rebase-writer");
    seed(rebaseWriter);
    pendingClient = client("client-bench-rebase", "pending");
    pendingClient.holdOutbound(true);
    long now = System.currentTimeMillis();
    for (int i = 0; i < pending; i++) {
      pendingClient.mutate("setTodo", new SetTodo(ids[i], "pending " + i, Optional.empty(), now));
    }
    pendingClient.subscribe(tx -> tx.table(TODOS).get(REMOTE_ID), pendingWatch);
    for (SyncClientImpl c : List.of(reader, pendingClient)) {
      int n = c.query(tx -> tx.table(TODOS).entries().size());
      if (n < todos) {
        throw new IllegalStateException(c.clientId() + " holds " + n + " todos, expected at least " + todos);
      }
    }
  }

  private SyncClientImpl client(String instance, String clientId) {
    SyncClientImpl c = SyncClientImpl.start(SyncOptions.builder()
        .server("ws://127.0.0.1:" + server.port())
        .app(TodoApp.DEFINITION)
        .instanceId(instance)
        .clientGroupId("group-" + clientId)
        .clientId(clientId)
        .build());
    clients.add(c);
    if (!c.waitForBootstrap(WAIT)) {
      throw new IllegalStateException(clientId + " did not bootstrap from " + instance + " within " + WAIT);
    }
    return c;
  }

  /** Writes {@code todos} todos through {@code c} and the todo the writers change, and waits for their confirmation. */
  private void seed(SyncClientImpl c) throws Exception {
    long now = System.currentTimeMillis();
    for (int i = 0; i < todos; i++) {
      c.mutate("setTodo", new SetTodo(ids[i], "todo " + i, Optional.empty(), now));
    }
    c.mutate("setTodo", new SetTodo(REMOTE_ID, "first", Optional.empty(), now)).confirmed().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
  }

  // ---------------------------------------------------------------------------------------------
  // The figures

  /**
   * (3) the writer changes {@link #REMOTE_ID}, one write at a time; from its {@code mutate} call until
   * the reader's subscription callback has the value, and until the writer's own confirmation.
   */
  private void remoteWrites(int count) throws Exception {
    Histogram toCallback = SyncBenchmark.histogram();
    Histogram toConfirmation = SyncBenchmark.histogram();
    for (int k = 0; k < count; k++) {
      Sample s = write(writer, readerWatch);
      toCallback.recordValue(s.seen() - s.sent());
      toConfirmation.recordValue(s.confirmed() - s.sent());
    }
    record("remote", Latency.of(toCallback));
    record("remote-confirmed", Latency.of(toConfirmation));
  }

  /**
   * (1b) the same with the client holding the pending mutations as the receiver: from the writer's
   * {@code mutate} call, and from the writer's confirmation, until its subscription callback has the value.
   */
  private void rebaseEndToEnd(int count) throws Exception {
    Histogram toCallback = SyncBenchmark.histogram();
    long[] afterConfirmation = new long[count];
    for (int k = 0; k < count; k++) {
      Sample s = write(rebaseWriter, pendingWatch);
      toCallback.recordValue(s.seen() - s.sent());
      afterConfirmation[k] = s.seen() - s.confirmed(); // either client may be first: may be negative
    }
    record("rebase-e2e", Latency.of(toCallback));
    record("rebase-after-confirmed", signed(afterConfirmation));
  }

  /** nanoTimes of one write: before {@code mutate}, at the watcher's callback, at the writer's confirmation. */
  private record Sample(long sent, long seen, long confirmed) {}

  private Sample write(SyncClientImpl from, Watch to) throws Exception {
    String marker = marker();
    SetTodo input = new SetTodo(REMOTE_ID, marker, Optional.empty(), System.currentTimeMillis());
    CompletableFuture<Long> seen = to.arm(marker);
    long sent = System.nanoTime();
    MutationHandle handle = from.mutate("setTodo", input);
    // completes on the writer's callback thread, when the confirming poke has been applied
    CompletableFuture<Long> confirmed = handle.confirmed().thenApply(x -> System.nanoTime());
    long seenAt = await(seen, "the callback with " + marker);
    long confirmedAt = await(confirmed, "the confirmation of " + marker);
    return new Sample(sent, seenAt, confirmedAt);
  }

  /**
   * (1) the client {@code target} receives the poke of one write of {@code from} while its inbound
   * messages are held; releasing them applies the poke on this thread under the client's lock: the
   * patch, the confirmed mutations, re-running the pending ones, the subscriptions' queries.
   */
  private void heldPoke(SyncClientImpl target, SyncClientImpl from, int count, String figure) throws Exception {
    Histogram h = SyncBenchmark.histogram();
    Histogram cpu = SyncBenchmark.histogram();
    Histogram allocated = SyncBenchmark.histogram();
    Histogram withoutGc = SyncBenchmark.histogram();
    int withGc = 0;
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    com.sun.management.ThreadMXBean allocations = (com.sun.management.ThreadMXBean) threads;
    long self = Thread.currentThread().getId();
    target.holdInbound(true);
    try {
      for (int k = 0; k < count; k++) {
        String marker = marker();
        from.mutate("setTodo", new SetTodo(REMOTE_ID, marker, Optional.empty(), System.currentTimeMillis()))
            .confirmed().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (target.heldInboundCount() == 0) {
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException(target.clientId() + " did not receive the poke of " + marker + " within " + WAIT);
          }
          LockSupport.parkNanos(20_000);
        }
        long collectionsBefore = gc()[0];
        long allocatedBefore = allocations.getThreadAllocatedBytes(self);
        long cpuStart = threads.getCurrentThreadCpuTime();
        long start = System.nanoTime();
        target.holdInbound(false);
        long took = System.nanoTime() - start;
        long cpuTook = threads.getCurrentThreadCpuTime() - cpuStart;
        long allocatedBytes = allocations.getThreadAllocatedBytes(self) - allocatedBefore;
        boolean collected = gc()[0] != collectionsBefore;
        target.holdInbound(true);
        String text = target.query(tx -> tx.table(TODOS).get(REMOTE_ID).map(v -> v.path("text").asText()).orElse(null));
        if (!marker.equals(text)) {
          throw new IllegalStateException(target.clientId() + " shows '" + text + "' after the poke of " + marker);
        }
        h.recordValue(took);
        cpu.recordValue(Math.max(0, cpuTook));
        allocated.recordValue(Math.max(0, allocatedBytes));
        if (collected) {
          withGc++;
        } else {
          withoutGc.recordValue(took);
        }
      }
    } finally {
      target.holdInbound(false);
    }
    record(figure, Latency.of(h));
    record(figure + "-cpu", Latency.of(cpu));
    record(figure + "-allocated", Latency.of(allocated));
    record(figure + "-without-gc", Latency.of(withoutGc));
    if (measuring) {
      collectedDuring.computeIfAbsent(figure, f -> new ArrayList<>()).add((double) withGc / count);
    }
  }

  /** (2) {@code count} gets of distinct todos and as many scans of the first 100, each through {@code query}. */
  private void reads(SyncClientImpl c, int count, String getFigure, String scanFigure) {
    Histogram gets = SyncBenchmark.histogram();
    Histogram scans = SyncBenchmark.histogram();
    ScanOptions first100 = ScanOptions.all().limit(100);
    int found = 0;
    for (int k = 0; k < count; k++) {
      String id = ids[k % todos];
      long start = System.nanoTime();
      Optional<JsonNode> value = c.query(tx -> tx.table(TODOS).get(id));
      long took = System.nanoTime() - start;
      gets.recordValue(took);
      found += value.isPresent() ? 1 : 0;

      start = System.nanoTime();
      List<Entry> entries = c.query(tx -> tx.table(TODOS).scan(first100));
      took = System.nanoTime() - start;
      scans.recordValue(took);
      if (entries.size() != 100) {
        throw new IllegalStateException("a scan of 100 returned " + entries.size() + " entries");
      }
    }
    if (found != count) {
      throw new IllegalStateException(c.clientId() + " found " + found + " of " + count + " todos");
    }
    record(getFigure, Latency.of(gets));
    record(scanFigure, Latency.of(scans));
  }

  /** Completes the armed future when a subscription delivers the todo with the armed text. */
  private static final class Watch implements Consumer<Optional<JsonNode>> {
    private volatile CompletableFuture<Long> seen;
    private volatile String marker;

    CompletableFuture<Long> arm(String text) {
      CompletableFuture<Long> f = new CompletableFuture<>();
      seen = f;
      marker = text; // written last, read first
      return f;
    }

    @Override
    public void accept(Optional<JsonNode> value) {
      long now = System.nanoTime();
      String m = marker;
      CompletableFuture<Long> f = seen;
      if (m != null && value.isPresent() && m.equals(value.get().path("text").asText())) {
        f.complete(now);
      }
    }
  }

  private String marker() {
    return "~w" + markers.incrementAndGet() + "~";
  }

  private static long await(CompletableFuture<Long> f, String what) throws Exception {
    try {
      return f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new IllegalStateException("timed out after " + WAIT + " waiting for " + what, e);
    }
  }

  /** p50 and p99 (nearest rank) of samples that may be negative, which a histogram does not take. */
  private static Latency signed(long[] samples) {
    long[] sorted = samples.clone();
    Arrays.sort(sorted);
    return new Latency(sorted[rank(sorted.length, 50)], sorted[rank(sorted.length, 99)]);
  }

  private static int rank(int n, double percentile) {
    return Math.max(0, Math.min(n - 1, (int) Math.ceil(percentile / 100 * n) - 1));
  }

  // ---------------------------------------------------------------------------------------------
  // Reporting

  /** {@link SyncBenchmark#timed}, then the collections the JVM did meanwhile and their total time. */
  private static void timed(String what, SyncBenchmark.Step step) throws Exception {
    long[] before = gc();
    SyncBenchmark.timed(what, step);
    long[] after = gc();
    System.out.printf("  %-22s GC: %d collections, %d ms%n", "", after[0] - before[0], after[1] - before[1]);
  }

  /** @return the collections and their total milliseconds so far, over every collector */
  private static long[] gc() {
    long count = 0;
    long millis = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      count += Math.max(0, gc.getCollectionCount());
      millis += Math.max(0, gc.getCollectionTime());
    }
    return new long[] {count, millis};
  }

  private Latency last(String figure) {
    List<Latency> xs = results.get(figure);
    return xs.get(xs.size() - 1);
  }

  private void record(String figure, Latency latency) {
    if (measuring) {
      results.computeIfAbsent(figure, f -> new ArrayList<>()).add(latency);
    }
  }

  private void report() {
    System.out.println();
    System.out.printf("Medians of %d runs (min-max). Clients in the same JVM as the server; %,d todos per instance.%n", runs, todos);
    System.out.printf("%-74s %-26s %-26s%n", "figure", "p50", "p99");
    line("floor: WebSocket echo round trip, 200 B, 1 in flight (ms)", "echo", 1e6);
    line(String.format("(1) rebase: apply a poke, re-run %,d pending mutations (ms)", pending), "rebase", 1e6);
    line("      ...CPU time of the thread applying it (ms)", "rebase-cpu", 1e6);
    line("      ...memory it allocates (MB)", "rebase-allocated", 1e6);
    if (collectedDuring.containsKey("rebase")) {
      line(String.format("      ...samples with no GC during them (GC in %.1f %% of samples) (ms)",
          100 * SyncBenchmark.median(collectedDuring.get("rebase"))), "rebase-without-gc", 1e6);
    }
    line("      ...the same poke on a client with no pending mutations (ms)", "apply-no-pending", 1e6);
    line(String.format("(1b) remote write -> callback on the client with %,d pending (ms)", pending), "rebase-e2e", 1e6);
    line("      ...from the writer's confirmation (ms; < 0: the writer was later)", "rebase-after-confirmed", 1e6);
    line("(2) local get through query (us)", "get", 1e3);
    line("      ...100-entry scan through query (us)", "scan", 1e3);
    line(String.format("      ...get on the client with %,d pending (us)", pending), "get-pending", 1e3);
    line(String.format("      ...100-entry scan on the client with %,d pending (us)", pending), "scan-pending", 1e3);
    line("(3) remote write -> subscription callback, 1 in flight (ms)", "remote", 1e6);
    line("      ...until the writer's own confirmation (ms)", "remote-confirmed", 1e6);

    System.out.println();
    System.out.println("Targets, on p99 (median of the runs' p99; in brackets the runs' min-max):");
    System.out.printf("  %-62s %-26s %-10s %s%n", "target", "p99", "bound", "verdict");
    target(String.format("(1) rebase of %,d pending", pending), "rebase", REBASE_TARGET_MS);
    target("(3) remote write -> callback", "remote", CALLBACK_TARGET_MS);
    target(String.format("(1b) remote write -> callback, receiver with %,d pending", pending), "rebase-e2e", CALLBACK_TARGET_MS);
    if (results.containsKey("remote") && results.containsKey("echo")) {
      double remote = SyncBenchmark.median(values("remote", Latency::p99, 1e6));
      double echo = SyncBenchmark.median(values("echo", Latency::p99, 1e6));
      System.out.printf("  (3) against the echo floor: p99 %s ms / %s ms = %.1fx; p50 %s ms / %s ms = %.1fx%n",
          SyncBenchmark.fmt(remote), SyncBenchmark.fmt(echo), remote / echo,
          SyncBenchmark.fmt(SyncBenchmark.median(values("remote", Latency::p50, 1e6))),
          SyncBenchmark.fmt(SyncBenchmark.median(values("echo", Latency::p50, 1e6))),
          SyncBenchmark.median(values("remote", Latency::p50, 1e6)) / SyncBenchmark.median(values("echo", Latency::p50, 1e6)));
    }
  }

  private void target(String what, String figure, double boundMs) {
    if (!results.containsKey(figure)) {
      return;
    }
    List<Double> p99 = values(figure, Latency::p99, 1e6);
    System.out.printf("  %-62s %-26s %-10s %s%n", what, SyncBenchmark.spread(p99) + " ms", "< " + SyncBenchmark.fmt(boundMs) + " ms",
        SyncBenchmark.median(p99) < boundMs ? "MET" : "MISSED");
  }

  private void line(String what, String figure, double divisor) {
    if (!results.containsKey(figure)) {
      return;
    }
    System.out.printf("%-74s %-26s %-26s%n", what, SyncBenchmark.spread(values(figure, Latency::p50, divisor)),
        SyncBenchmark.spread(values(figure, Latency::p99, divisor)));
  }

  private List<Double> values(String figure, java.util.function.ToLongFunction<Latency> which, double divisor) {
    return results.get(figure).stream().map(l -> which.applyAsLong(l) / divisor).toList();
  }
}
