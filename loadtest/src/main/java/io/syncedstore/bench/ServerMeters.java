package io.syncedstore.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A server process's meters as the idle-sessions benchmark and the soak read them: optionally a
 * full GC first ({@code jcmd <pid> GC.run}), then {@code /metrics} (docs/METRICS.md).
 *
 * @param heapBytes heap in use (after the GC, when one was asked for)
 * @param threads live threads
 * @param openFiles open file descriptors
 * @param sessions connected sync sessions
 * @param mutationsApplied mutations applied since start
 */
public record ServerMeters(double heapBytes, double threads, double openFiles, double sessions, double mutationsApplied) {
  static final Pattern METRIC = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})? ([0-9.eE+-]+|NaN)$", Pattern.MULTILINE);

  /** @return the heap in MiB */
  public double heapMiB() {
    return heapBytes / (1 << 20);
  }

  /**
   * @param http a client
   * @param baseUrl the server, {@code http://host:port}
   * @param pid the server's process id for a full GC first, or {@code null} for none
   * @return the meters; -1 for one the server does not report
   */
  public static ServerMeters read(HttpClient http, String baseUrl, String pid) throws IOException, InterruptedException {
    if (pid != null && !pid.isEmpty()) {
      Process gc = new ProcessBuilder("jcmd", pid, "GC.run").redirectErrorStream(true).start();
      gc.getInputStream().readAllBytes();
      gc.waitFor(60, TimeUnit.SECONDS);
    }
    String text = http.send(HttpRequest.newBuilder(URI.create(baseUrl + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
    double heap = 0;
    double threads = -1;
    double files = -1;
    double sessions = -1;
    double applied = -1;
    Matcher m = METRIC.matcher(text);
    while (m.find()) {
      String labels = m.group(2) == null ? "" : m.group(2);
      double value = Double.parseDouble(m.group(3));
      switch (m.group(1)) {
        case "jvm_memory_used_bytes" -> heap += labels.contains("area=\"heap\"") ? value : 0;
        case "jvm_threads_live_threads" -> threads = value;
        case "process_files_open_files" -> files = value;
        case "synced_store_sessions" -> sessions = value;
        case "synced_store_mutations_applied_total" -> applied = value;
        default -> { }
      }
    }
    return new ServerMeters(heap, threads, files, sessions, applied);
  }
}
