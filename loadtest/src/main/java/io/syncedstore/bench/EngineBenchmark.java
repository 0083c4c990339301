package io.syncedstore.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.syncedstore.api.Json;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.examples.todo.TodoApp;
import io.syncedstore.persistence.SyncConfig;
import io.syncedstore.persistence.SyncEngine;
import io.syncedstore.runtime.InstanceId;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToDoubleFunction;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The engine benchmark of docs/BENCHMARKS.md. In one run it measures (a) the physical floor:
 * raw H2 inserts of journal-shaped rows, 100 per commit, with the journal's durability settings,
 * and the disk's fdatasync rate; (b) mutations/s that one instance applies and persists with 1,
 * 10 and 100 concurrent clients pushing {@code setTodo}; (c) push-to-acknowledged latency with
 * one client and one mutation in flight. Each figure is the median of {@code --runs} runs, with
 * the spread.
 */
@Command(name = "engine-benchmark", mixinStandardHelpOptions = true,
    description = "Measures the engine against the raw H2 and fsync floor of this machine.")
public final class EngineBenchmark implements Callable<Integer> {
  @Option(names = "--runs", description = "runs per figure; the median is reported (default ${DEFAULT-VALUE})")
  int runs = 3;

  @Option(names = "--seconds", description = "measured seconds per engine run (default ${DEFAULT-VALUE})")
  int seconds = 5;

  @Option(names = "--warmup-seconds", description = "unmeasured seconds of load before anything is measured, so the JIT"
      + " has compiled the hot paths; on 2 cores the compiler otherwise takes half the CPU of a short run (default ${DEFAULT-VALUE})")
  int warmupSeconds = 20;

  /** Unmeasured seconds at the start of every engine run (a fresh instance and database). */
  private static final int RUN_WARMUP_SECONDS = 2;

  @Option(names = "--clients", split = ",", description = "concurrent clients per engine run (default ${DEFAULT-VALUE})")
  List<Integer> clients = List.of(1, 10, 100);

  @Option(names = "--raw-rows", description = "measured rows per raw H2 run, after as many unmeasured (default ${DEFAULT-VALUE})")
  int rawRows = 50_000;

  @Option(names = "--todos", description = "distinct todos the clients update, i.e. the instance's size (default ${DEFAULT-VALUE})")
  int todos = 1000;

  @Option(names = "--dir", description = "where the temporary databases go (default: a temp dir on the same disk as /tmp)")
  Path dir;

  /** Runs the benchmark with command-line options; {@code --help} lists them. */
  public static void main(String[] args) {
    System.exit(new CommandLine(new EngineBenchmark()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    Path base = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("synced-store-bench");
    System.out.printf("engine benchmark: %d runs, %d s measured per engine run, instance of %d todos, %d cores, java %s%n",
        runs, seconds, todos, Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));

    System.out.printf("warming up for %d s (not measured)...%n", warmupSeconds);
    rawH2Inserts(base.resolve("raw-warmup"));
    engineRun(base.resolve("engine-warmup"), 100, warmupSeconds, 1);

    List<Double> raw = new ArrayList<>();
    List<Double> fsync = new ArrayList<>();
    for (int r = 0; r < runs; r++) {
      raw.add(rawH2Inserts(base.resolve("raw-" + r)));
      fsync.add(fdatasyncRate(base.resolve("fsync-" + r)));
    }
    print("(a) raw H2 inserts, 100 rows/commit, WRITE_DELAY=0", raw, "rows/s");
    print("(a) fdatasync (4 KiB write + force)", fsync, "syncs/s");

    double rawMedian = median(raw);
    for (int n : clients) {
      List<Result> results = new ArrayList<>();
      for (int r = 0; r < runs; r++) {
        results.add(engineRun(base.resolve("engine-" + n + "-" + r), n, RUN_WARMUP_SECONDS, seconds));
      }
      print(String.format("(b) one instance, %3d clients", n), values(results, Result::throughput), "mutations/s");
      if (n == 1) {
        print("(c) push->ack latency p50, 1 client, 1 in flight", values(results, x -> x.p50Micros / 1000.0), "ms");
        print("(c) push->ack latency p99, 1 client, 1 in flight", values(results, x -> x.p99Micros / 1000.0), "ms");
      } else {
        print(String.format("    latency p50 with %3d clients", n), values(results, x -> x.p50Micros / 1000.0), "ms");
        print(String.format("    latency p99 with %3d clients", n), values(results, x -> x.p99Micros / 1000.0), "ms");
      }
      System.out.printf("    ratio (b)/(a) with %d clients: %.1f%%%n", n, 100.0 * median(values(results, Result::throughput)) / rawMedian);
    }
    deleteTree(base);
    return 0;
  }

  private double rawH2Inserts(Path dir) throws Exception {
    return rawH2Inserts(dir, rawRows);
  }

  /**
   * Inserts journal-shaped rows 100 per commit into a fresh H2 file with the journal's URL settings
   * (also the floor {@link FloorServer} measures before it serves).
   *
   * @return rows per second over the second half of {@code 2 * rawRows}
   */
  static double rawH2Inserts(Path dir, int rawRows) throws Exception {
    try (RawJournal journal = new RawJournal(config(dir))) {
      // The first half warms up the JIT, as the engine runs' warm-up does; only the second half is timed.
      long start = 0;
      for (int i = 1; i <= 2 * rawRows; i++) {
        if (i == rawRows + 1) {
          start = System.nanoTime();
        }
        journal.add(i);
        if (i % 100 == 0) {
          journal.commit();
        }
      }
      journal.commit();
      return rawRows / ((System.nanoTime() - start) / 1e9);
    }
  }

  /** Writes 4 KiB and forces it to disk, repeatedly: the rate at which anything can be made crash-safe. */
  private static double fdatasyncRate(Path file) throws IOException {
    Files.createDirectories(file.getParent());
    ByteBuffer block = ByteBuffer.allocate(4096);
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      int n = 0;
      long start = System.nanoTime();
      long end = start + TimeUnit.SECONDS.toNanos(2);
      while (System.nanoTime() < end) {
        block.clear();
        ch.write(block, (long) (n % 256) * 4096);
        ch.force(false);
        n++;
      }
      return n / ((System.nanoTime() - start) / 1e9);
    }
  }

  private record Result(double throughput, long p50Micros, long p99Micros) {}

  /** {@code clients} closed-loop clients push setTodo to one instance; counts acknowledged mutations. */
  private Result engineRun(Path dir, int clients, int warmup, int measured) throws Exception {
    try (SyncEngine engine = SyncEngine.start(config(dir), List.of(TodoApp.DEFINITION), "bench")) {
      InstanceId id = new InstanceId("todo", "bench");
      engine.pull(id, "warm", null, io.syncedstore.api.auth.Principal.ANONYMOUS).toCompletableFuture().get(30, TimeUnit.SECONDS);
      AtomicBoolean measuring = new AtomicBoolean();
      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong acked = new AtomicLong();
      Histogram latency = new Histogram(TimeUnit.SECONDS.toMicros(30), 3);
      List<CompletableFuture<Void>> loops = new ArrayList<>();
      for (int c = 0; c < clients; c++) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        loops.add(done);
        pushLoop(engine, id, "client-" + c, c, 1, measuring, stop, acked, latency, done);
      }
      Thread.sleep(warmup * 1000L);
      acked.set(0);
      synchronized (latency) {
        latency.reset();
      }
      measuring.set(true);
      long start = System.nanoTime();
      Thread.sleep(measured * 1000L);
      long count = acked.get();
      double elapsed = (System.nanoTime() - start) / 1e9;
      stop.set(true);
      CompletableFuture.allOf(loops.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
      synchronized (latency) {
        return new Result(count / elapsed, latency.getValueAtPercentile(50), latency.getValueAtPercentile(99));
      }
    }
  }

  private void pushLoop(SyncEngine engine, InstanceId id, String client, int clientIndex, long mutationId, AtomicBoolean measuring,
      AtomicBoolean stop, AtomicLong acked, Histogram latency, CompletableFuture<Void> done) {
    if (stop.get()) {
      done.complete(null);
      return;
    }
    ObjectNode args = Json.mapper().createObjectNode()
        .put("id", "todo-" + ((clientIndex * 7919L + mutationId) % todos)).put("text", "todo " + mutationId).put("updatedAt", mutationId);
    long sent = System.nanoTime();
    engine.push(id, "group-" + client, client, io.syncedstore.api.auth.Principal.ANONYMOUS, List.of(new MutationRequest(mutationId, "setTodo", args, mutationId)))
        .whenComplete((result, error) -> {
          if (error != null) {
            done.completeExceptionally(error);
            return;
          }
          if (measuring.get()) {
            acked.incrementAndGet();
            long micros = (System.nanoTime() - sent) / 1000;
            synchronized (latency) {
              latency.recordValue(Math.min(micros, latency.getHighestTrackableValue()));
            }
          }
          pushLoop(engine, id, client, clientIndex, mutationId + 1, measuring, stop, acked, latency, done);
        });
  }

  static Config config(Path dir) {
    return SyncConfig.load(ConfigFactory.parseMap(Map.of("synced-store.data-dir", dir.toString(), "pekko.loglevel", "WARNING")));
  }

  private static List<Double> values(List<Result> results, ToDoubleFunction<Result> f) {
    return results.stream().map(f::applyAsDouble).toList();
  }

  static double median(List<Double> xs) {
    List<Double> sorted = xs.stream().sorted().toList();
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  private static void print(String what, List<Double> xs, String unit) {
    double min = xs.stream().mapToDouble(Double::doubleValue).min().orElse(0);
    double max = xs.stream().mapToDouble(Double::doubleValue).max().orElse(0);
    System.out.printf("%-52s %12.1f %-12s (min %.1f, max %.1f, n=%d)%n", what, median(xs), unit, min, max, xs.size());
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
