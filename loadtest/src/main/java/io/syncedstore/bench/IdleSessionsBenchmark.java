package io.syncedstore.bench;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Idle sessions on one node (docs/BENCHMARKS.md, "Idle sessions"): starts the server jar as its
 * own process (its heap capped by {@code --server-heap}), opens {@code --sessions} sync
 * WebSockets from this JVM to {@code --instances} todo instances, each saying hello and reading
 * its {@code connected} and initial poke, then leaves them idle (a ping every 30 s, as the Java
 * client does, so the server's idle timeout does not end them). It reports the server's heap
 * after a full GC ({@code jcmd GC.run}, then {@code /metrics}) before and after, per session, the
 * server's live threads and open files, and checks that every session is still open at the end.
 */
@Command(name = "idle-sessions", mixinStandardHelpOptions = true,
    description = "Opens N idle sync WebSockets to a server process and reports its heap per session.")
public final class IdleSessionsBenchmark implements Callable<Integer> {
  @Option(names = "--sessions", description = "sessions to open (default ${DEFAULT-VALUE})")
  int sessions = 10_000;

  @Option(names = "--instances", description = "todo instances they spread over (default ${DEFAULT-VALUE})")
  int instances = 100;

  @Option(names = "--server-heap", description = "the server's -Xmx (default ${DEFAULT-VALUE})")
  String serverHeap = "1g";

  @Option(names = "--idle-seconds", description = "how long the sessions stay idle before the second measurement (default ${DEFAULT-VALUE})")
  int idleSeconds = 45;

  @Option(names = "--jar", description = "the server jar (default ${DEFAULT-VALUE})")
  Path jar = Path.of("http-gateway/target/synced-store-server.jar");

  /** Runs the benchmark; {@code --help} lists the options. */
  public static void main(String[] args) {
    System.exit(new CommandLine(new IdleSessionsBenchmark()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path data = Files.createTempDirectory("idle-sessions");
    List<String> command = new ArrayList<>(List.of("java", "-Xmx" + serverHeap, "-Dpekko.loglevel=WARNING"));
    // every benchmark client is anonymous on 127.0.0.1: lift that address's quotas (docs/SECURITY.md)
    io.syncedstore.gateway.Quotas.liftedSettings(false).forEach((key, value) -> command.add("-D" + key + "=" + value));
    command.addAll(List.of("-jar", jar.toString(), "--port", Integer.toString(port), "--data-dir", data.toString()));
    Process server = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(data.resolve("server.log").toFile()).start();
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    ScheduledExecutorService pinger = Executors.newSingleThreadScheduledExecutor();
    List<WebSocket> sockets = new ArrayList<>(sessions);
    AtomicInteger closed = new AtomicInteger();
    try {
      waitForHealth(http, port, server);
      // warm: one instance created and answering, so the baseline holds the engine's steady state
      ServerMeters before = measure(http, port, server.pid());
      System.out.printf("server pid %d, -Xmx%s; before: heap after GC %.1f MiB, %d threads, %d open files%n", server.pid(), serverHeap,
          before.heapMiB(), (int) before.threads(), (int) before.openFiles());

      // a ping every 30 s from every open socket, as the Java client does (the server's idle timeout is 60 s)
      pinger.scheduleAtFixedRate(() -> {
        List<WebSocket> open;
        synchronized (sockets) {
          open = new ArrayList<>(sockets);
        }
        open.forEach(ws -> ws.sendText("{\"type\":\"ping\"}", true));
      }, 30, 30, TimeUnit.SECONDS);
      long started = System.nanoTime();
      AtomicInteger ready = new AtomicInteger();
      List<HttpClient> clients = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        clients.add(HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30)).build());
      }
      int batch = 200;
      for (int from = 0; from < sessions; from += batch) {
        List<CompletableFuture<?>> opening = new ArrayList<>();
        for (int i = from; i < Math.min(sessions, from + batch); i++) {
          Listener listener = new Listener(ready, closed);
          String clientId = "idle-" + i;
          URI uri = URI.create("ws://127.0.0.1:" + port + "/v1/apps/todo/instances/idle-" + (i % instances) + "/sync");
          opening.add(clients.get(i % clients.size()).newWebSocketBuilder().connectTimeout(Duration.ofSeconds(30)).buildAsync(uri, listener)
              .thenCompose(ws -> ws.sendText("{\"type\":\"hello\",\"protocolVersion\":1,\"clientGroupId\":\"g-" + clientId
                  + "\",\"clientId\":\"" + clientId + "\",\"schemaVersion\":1}", true))
              .thenApply(ws -> {
                synchronized (sockets) {
                  sockets.add(ws); // pinged from now on: after its hello, never before
                }
                return ws;
              })
              .thenCompose(ws -> listener.ready));
        }
        CompletableFuture.allOf(opening.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
      }
      double openSeconds = (System.nanoTime() - started) / 1e9;
      System.out.printf("%d sessions open and synced in %.1f s (%d ready)%n", sessions, openSeconds, ready.get());

      ServerMeters open = measure(http, port, server.pid());
      report("just opened", before, open);
      Thread.sleep(idleSeconds * 1000L);
      ServerMeters idle = measure(http, port, server.pid());
      report("after " + idleSeconds + " s idle", before, idle);
      System.out.printf("sessions closed by the server while idle: %d; server sessions gauge: %d%n", closed.get(),
          (int) idle.sessions());
      boolean ok = closed.get() == 0 && (int) idle.sessions() == sessions;
      double perSessionKiB = (idle.heapBytes() - before.heapBytes()) / sessions / 1024;
      System.out.printf("RESULT: %d idle sessions, heap after GC %.1f MiB (target < 1024 MiB), %.1f KiB per session (target < 100)%s%n",
          sessions, idle.heapMiB(), perSessionKiB, ok ? "" : " -- SESSIONS LOST");
      return ok ? 0 : 1;
    } finally {
      pinger.shutdownNow();
      synchronized (sockets) {
        sockets.forEach(WebSocket::abort);
      }
      server.destroy();
      server.waitFor(30, TimeUnit.SECONDS);
      server.destroyForcibly();
    }
  }

  private static void report(String when, ServerMeters before, ServerMeters now) {
    System.out.printf("%s: heap after GC %.1f MiB (+%.1f MiB), %d threads, %d open files, %d sessions%n", when,
        now.heapMiB(), now.heapMiB() - before.heapMiB(), (int) now.threads(), (int) now.openFiles(), (int) now.sessions());
  }

  /** A full GC in the server, then its meters. */
  private static ServerMeters measure(HttpClient http, int port, long pid) throws Exception {
    return ServerMeters.read(http, "http://127.0.0.1:" + port, Long.toString(pid));
  }

  private static void waitForHealth(HttpClient http, int port, Process server) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (!server.isAlive()) {
        throw new IllegalStateException("the server exited with " + server.exitValue());
      }
      try {
        if (http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
            HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not up yet
      }
      Thread.sleep(200);
    }
    throw new IllegalStateException("the server did not answer /health within 60 s");
  }

  /** Completes {@link #ready} once the session has sent {@code connected} and its first poke. */
  private static final class Listener implements WebSocket.Listener {
    final CompletableFuture<Void> ready = new CompletableFuture<>();
    private final AtomicInteger readyCount;
    private final AtomicInteger closed;
    private final StringBuilder partial = new StringBuilder();
    private boolean connected;

    Listener(AtomicInteger readyCount, AtomicInteger closed) {
      this.readyCount = readyCount;
      this.closed = closed;
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        String text = partial.toString();
        partial.setLength(0);
        if (text.contains("\"type\":\"connected\"")) {
          connected = true;
        } else if (connected && text.contains("\"type\":\"poke\"") && !ready.isDone()) {
          readyCount.incrementAndGet();
          ready.complete(null);
        } else if (text.contains("\"type\":\"error\"")) {
          ready.completeExceptionally(new IllegalStateException(text));
        }
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
      closed.incrementAndGet();
      ready.completeExceptionally(new IllegalStateException("closed " + statusCode + " " + reason));
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      closed.incrementAndGet();
      ready.completeExceptionally(error);
    }
  }
}
