package io.syncedstore.loadtest;

import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.scenario;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;

/**
 * The soak variant of {@link PushConfirmSimulation}: the same open workload for
 * {@code soakMinutes} (10), and a monitor that every {@code sampleSeconds} (30) asks the server for
 * a full GC ({@code jcmd <serverPid> GC.run}; {@code run-simulation.sh} passes {@code serverPid})
 * and then records from {@code /metrics}: heap used after that GC, live threads, open file
 * descriptors, sessions and mutations applied, one CSV line per sample in
 * {@code loadtest/target/soak-<start>.csv} (also printed). How to read it: loadtest/README.md.
 *
 * <p>Properties: those of {@link PushConfirmSimulation} ({@code rate}, {@code instances},
 * {@code pushesPerClient}, {@code paceMs}, {@code distinctTodos}, {@code p99Ms}, {@code maxErrorPercent}), plus
 * {@code soakMinutes}, {@code sampleSeconds}, {@code httpBaseUrl}, {@code serverPid} (without it,
 * no GC is forced and the heap figure is the heap in use at the sample).
 */
public class PushConfirmSoakSimulation extends Simulation {
  private static final int SOAK_MINUTES = Integer.getInteger("soakMinutes", 10);
  private static final int SAMPLE_SECONDS = Integer.getInteger("sampleSeconds", 30);
  private static final String HTTP_BASE_URL = System.getProperty("httpBaseUrl", "http://127.0.0.1:8080");
  private static final String SERVER_PID = System.getProperty("serverPid", "");

  /** Under loadtest/target, whether Maven runs from the repository's root ({@code -pl loadtest}) or from loadtest/. */
  private final Path csv = (Files.isDirectory(Path.of("loadtest")) ? Path.of("loadtest", "target") : Path.of("target"))
      .resolve("soak-" + Instant.now().toString().replace(':', '-') + ".csv");
  private final HttpClient http = HttpClient.newHttpClient();
  private final long started = System.nanoTime();

  private final ScenarioBuilder monitor = scenario("monitor")
      .during(Duration.ofMinutes(SOAK_MINUTES).plusSeconds(SAMPLE_SECONDS)).on(
          io.gatling.javaapi.core.CoreDsl.exec(session -> {
            sample();
            return session;
          }).pause(Duration.ofSeconds(SAMPLE_SECONDS)));

  @Override
  public void before() {
    try {
      Files.createDirectories(csv.getParent());
      Files.writeString(csv, "seconds,heap_after_gc_mib,threads,open_fds,sessions,mutations_applied\n");
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    System.out.println("soak samples: " + csv.toAbsolutePath());
  }

  private void sample() {
    try {
      io.syncedstore.bench.ServerMeters m = io.syncedstore.bench.ServerMeters.read(http, HTTP_BASE_URL, SERVER_PID);
      String line = String.format("%d,%.1f,%.0f,%.0f,%.0f,%.0f%n", (System.nanoTime() - started) / 1_000_000_000L,
          m.heapMiB(), m.threads(), m.openFiles(), m.sessions(), m.mutationsApplied());
      Files.writeString(csv, line, StandardOpenOption.APPEND);
      System.out.print("soak sample: " + line);
    } catch (IOException | InterruptedException e) {
      System.out.println("soak sample failed: " + e);
    }
  }

  {
    double arrivalsPerSecond = (double) PushConfirmSimulation.RATE / PushConfirmSimulation.PUSHES;
    setUp(
        PushConfirmSimulation.CLIENTS.injectOpen(constantUsersPerSec(arrivalsPerSecond).during(Duration.ofMinutes(SOAK_MINUTES))),
        monitor.injectOpen(atOnceUsers(1)))
        .protocols(PushConfirmSimulation.PROTOCOL)
        .assertions(
            global().failedRequests().percent().lte(PushConfirmSimulation.MAX_ERROR_PERCENT),
            details("confirmed").responseTime().percentile(99.0).lt(PushConfirmSimulation.P99_MS));
  }
}
