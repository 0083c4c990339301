package io.syncedstore.loadtest.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.Json;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One server JVM of the test cluster: {@code java -cp <classpath> io.syncedstore.gateway.Main
 * --config nodeN.conf}, its output appended to {@code nodeN.log}. A restart reuses the node's
 * remoting port and the HTTP port it bound the first time, so that clients (which know every
 * node's URL) and seed lists stay valid.
 */
final class ClusterNode {
  /** Every node process started by this JVM, destroyed by a shutdown hook if a test could not. */
  private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(Process::destroyForcibly), "cluster-it-cleanup"));
  }

  private static final Pattern LISTENING = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)");
  /** AppInstance's log line when an instance has recovered (started) on a node. */
  private static final Pattern RECOVERED = Pattern.compile("instance \\[([^\\]]+)\\] recovered at version");
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  final int index;
  final int remotingPort;
  private final Path dir;
  private final Path log;
  private final Path pidFile;
  private Integer httpPort;
  private Process process;
  private long logOffset;
  private int incarnation;

  ClusterNode(int index, int remotingPort, Path dir) {
    this.index = index;
    this.remotingPort = remotingPort;
    this.dir = dir;
    this.log = dir.resolve("node" + index + ".log");
    this.pidFile = dir.resolve("node" + index + ".pid");
  }

  String name() {
    return "node" + index;
  }

  Path log() {
    return log;
  }

  /** @return the address other nodes know this one by */
  String address() {
    return "pekko://synced-store@127.0.0.1:" + remotingPort;
  }

  /** Starts the JVM (the first time with HTTP port 0, later with the port it bound then). */
  void start(String configIncludes, List<String> command) throws IOException {
    if (process != null && process.isAlive()) {
      throw new IllegalStateException(name() + " is running");
    }
    incarnation++;
    if (httpPort != null) {
      int port = httpPort;
      Waits.until(name() + "'s ports " + port + " and " + remotingPort + " free", Duration.ofSeconds(30), 200,
          () -> isFree(port) && isFree(remotingPort), () -> "still bound");
    }
    Path config = dir.resolve("node" + index + ".conf");
    Files.writeString(config, configIncludes
        + "synced-store.http.port = " + (httpPort == null ? 0 : httpPort) + "\n"
        + "synced-store.data-dir = \"" + dir.resolve("data-node" + index) + "\"\n"
        + "pekko.remote.artery.canonical.port = " + remotingPort + "\n");
    Files.writeString(log, "\n==== [cluster-it] " + LocalTime.now() + " starting " + name() + " (incarnation " + incarnation
        + ") ====\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    logOffset = Files.size(log);
    List<String> cmd = new ArrayList<>(command);
    cmd.add("--config");
    cmd.add(config.toString());
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    // The node's settings come from its config file only: no SYNC_* variable of the caller's shell.
    pb.environment().keySet().removeIf(k -> k.startsWith("SYNC_"));
    process = pb.start();
    LIVE.add(process);
    Files.writeString(pidFile, Long.toString(process.pid()));
  }

  /** @return the HTTP port, once the node logged that it is listening (bounded) */
  int awaitListening(Duration bound) {
    int[] port = new int[1];
    Waits.until(name() + " listening", bound, 100, () -> {
      if (!process.isAlive()) {
        throw new AssertionError(name() + " exited with " + process.exitValue() + " before listening; log:\n" + tail(60));
      }
      Matcher m = LISTENING.matcher(logSinceStart());
      if (m.find()) {
        port[0] = Integer.parseInt(m.group(1));
        return true;
      }
      return false;
    }, () -> "log:\n" + tail(40));
    if (httpPort != null && httpPort != port[0]) {
      throw new AssertionError(name() + " bound " + port[0] + " instead of " + httpPort);
    }
    httpPort = port[0];
    return httpPort;
  }

  /**
   * @return the instances that started on the running incarnation of this node, from its log
   *     ({@code instance [app/id] recovered at version ...}); some may have moved away since
   */
  java.util.SortedSet<String> instancesStartedHere() {
    java.util.SortedSet<String> ids = new java.util.TreeSet<>();
    Matcher m = RECOVERED.matcher(logSinceStart());
    while (m.find()) {
      ids.add(m.group(1));
    }
    return ids;
  }

  boolean isAlive() {
    return process != null && process.isAlive();
  }

  URI syncUrl() {
    return URI.create("ws://127.0.0.1:" + httpPort);
  }

  /** @return {@code GET /health}, or {@code null} when it does not answer */
  JsonNode health() {
    if (httpPort == null || !isAlive()) {
      return null;
    }
    try {
      HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/health"))
          .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? Json.mapper().readTree(r.body()) : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /** SIGKILL (Process.destroyForcibly on Linux); waits (bounded) until the process is gone. */
  void kill() {
    process.destroyForcibly();
    awaitExit(Duration.ofSeconds(30));
  }

  /** SIGTERM: the node leaves the cluster and exits by itself (bounded wait). @return its exit code */
  int terminate(Duration bound) {
    process.destroy();
    return awaitExit(bound);
  }

  private int awaitExit(Duration bound) {
    try {
      if (!process.waitFor(bound.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        throw new AssertionError(name() + " did not exit within " + bound.toSeconds() + " s; killed. Log:\n" + tail(60));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
      throw new AssertionError("interrupted", e);
    }
    LIVE.remove(process);
    return process.exitValue();
  }

  /** Kills the JVM if it runs (cleanup); bounded. */
  void destroy() {
    Process p = process;
    if (p != null && p.isAlive()) {
      p.destroyForcibly();
      try {
        p.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (p != null) {
      LIVE.remove(p);
    }
  }

  private String logSinceStart() {
    try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
      long length = f.length();
      if (length <= logOffset) {
        return "";
      }
      byte[] bytes = new byte[(int) Math.min(length - logOffset, 4 << 20)];
      f.seek(logOffset);
      f.readFully(bytes);
      return new String(bytes, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  /** @return the last {@code lines} lines of the log (all incarnations) */
  String tail(int lines) {
    try {
      List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  static boolean isFree(int port) {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** @return a port free on 127.0.0.1 now (bound to port 0 and released) */
  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
