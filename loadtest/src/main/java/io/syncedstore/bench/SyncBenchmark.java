package io.syncedstore.bench;

import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.handleWebSocketMessages;
import static org.apache.pekko.http.javadsl.server.Directives.path;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.syncedstore.api.Json;
import io.syncedstore.api.protocol.ClientMessage;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.gateway.Main;
import io.syncedstore.gateway.SyncServer;
import io.syncedstore.persistence.SyncConfig;
import io.syncedstore.runtime.ClientSession;
import io.syncedstore.runtime.InstanceId;
import io.syncedstore.runtime.SocketOut;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.model.ws.TextMessage;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.BroadcastHub;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The live-sync benchmark of docs/BENCHMARKS.md ("Live sync over WebSocket"). In one JVM, on
 * loopback, each figure next to its floor measured in the same run:
 *
 * <ol>
 *   <li>floor: the round trip of a ~200-byte text message through a bare Pekko HTTP WebSocket echo
 *       server, one in flight;
 *   <li>floor: one journal write, i.e. one journal-shaped row inserted and committed into a fresh H2
 *       file with the journal's URL settings ({@link RawJournal});
 *   <li>push to confirmation: one client of the real {@link SyncServer} pushes one {@code setTodo} at
 *       a time and waits for the poke whose {@code lastMutationIDChanges} confirms it; to show where
 *       that time goes, also (3b) the same push through the client's {@code ClientSession} with no
 *       socket and (3a) through {@code SyncEngine.push} with no session;
 *   <li>floor: a bare Pekko HTTP broadcast (a {@code BroadcastHub}) of one ~200-byte message to N
 *       sockets, until all N clients have it;
 *   <li>fan-out: N clients connected to one instance of the real server; an extra client pushes
 *       {@code setTodo} one at a time; the time from the push until all N hold the write (and, to
 *       show where it goes, until the first holds it and until the pusher's own confirmation).
 * </ol>
 *
 * <p>The clients are JDK {@code java.net.http} WebSockets sharing one {@link HttpClient}, in the
 * same JVM as the server (the machine has 2 cores; a second process would share them anyway). The
 * floors' servers are bound on the real server's own actor system, so both sides of every
 * comparison run on the same dispatcher and the same client. Latency is {@link System#nanoTime}
 * from just before the client sends to when the (last) client's listener has the message.
 *
 * <p>Every loopback connection holds two file descriptors in this JVM, so 1,000 clients need
 * {@code ulimit -n} of about 2,300; the benchmark checks the limit before it starts.
 */
@Command(name = "sync-benchmark", mixinStandardHelpOptions = true,
    description = "Measures the sync WebSocket (push to confirmation, fan-out) against bare Pekko HTTP and H2 floors on loopback.")
public final class SyncBenchmark implements Callable<Integer> {
  @Option(names = "--runs", description = "runs of every figure; medians of the runs are reported with their spread (default ${DEFAULT-VALUE})")
  int runs = 5;

  @Option(names = "--warmup-seconds", description = "unmeasured rounds of every figure (fan-out with the smallest client count)"
      + " before anything is measured, then one round with each larger client count, so the JIT has compiled the hot paths"
      + " (default ${DEFAULT-VALUE})")
  int warmupSeconds = 30;

  @Option(names = "--samples", description = "round trips per run for the echo, journal-write and push-to-confirmation figures"
      + " (default ${DEFAULT-VALUE})")
  int samples = 2000;

  @Option(names = "--fanout-samples", description = "messages (floor) and pushes (server) per run and client count, one at a time"
      + " (default ${DEFAULT-VALUE})")
  int fanoutSamples = 300;

  @Option(names = "--clients", split = ",", description = "client counts for the fan-out figures (default ${DEFAULT-VALUE})")
  List<Integer> clients = List.of(100, 1000);

  @Option(names = "--message-bytes", description = "size of the echo, broadcast and push messages (default ${DEFAULT-VALUE})")
  int messageBytes = 200;

  @Option(names = "--client-threads", description = "threads of the shared HttpClient's executor; 0 keeps the JDK's default"
      + " (a cached pool) (default ${DEFAULT-VALUE})")
  int clientThreads = 0;

  @Option(names = "--figures", split = ",", description = "which figures to measure, for profiling one of them; the targets are"
      + " checked where both sides were measured (default ${DEFAULT-VALUE})")
  List<String> figures = List.of("echo", "journal", "push", "broadcast", "fanout");

  @Option(names = "--dir", description = "where the server's data and the journal floor's databases go (default: a temp dir)")
  Path dir;

  private static final Duration WAIT = Duration.ofSeconds(30);
  /** At most this many WebSocket handshakes at once (the server's accept backlog is 100). */
  private static final int CONNECT_PARALLELISM = 50;

  private Path base;
  private SyncServer server;
  HttpClient http;
  URI echoUri;
  private URI broadcastUri;
  private BoundedSourceQueue<Message> hub;
  /** Results by figure, one entry per measured run. */
  private final Map<String, List<Latency>> results = new LinkedHashMap<>();
  private boolean measuring;

  /** Runs the benchmark with command-line options; {@code --help} lists them. */
  public static void main(String[] args) {
    System.exit(new CommandLine(new SyncBenchmark()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    int most = clients.stream().mapToInt(Integer::intValue).max().orElse(0);
    if (!enoughFileDescriptors(most)) {
      return 2;
    }
    base = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("synced-store-sync-bench");
    ExecutorService clientExecutor = clientThreads > 0 ? Executors.newFixedThreadPool(clientThreads, daemon("ws-client")) : null;
    HttpClient.Builder builder = HttpClient.newBuilder();
    if (clientExecutor != null) {
      builder.executor(clientExecutor);
    }
    http = builder.build();
    server = SyncServer.start(serverConfig(base.resolve("server")), SyncServer.discoverApps());
    try {
      startFloorServers(server.engine().system());
      System.out.printf("sync benchmark, %s: %d runs, %d samples (echo, journal write, push), %d fan-out samples per client count,"
              + " clients %s, %d-byte messages, %d cores, java %s%n",
          LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME), runs, samples, fanoutSamples, clients, messageBytes,
          Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));
      System.out.printf("clients and servers share this JVM and its cores: one java.net.http.HttpClient (%s executor) for every"
          + " WebSocket, loopback 127.0.0.1; the floors' servers are bound on the sync server's actor system%n",
          clientThreads > 0 ? clientThreads + "-thread" : "default");

      System.out.printf("warming up for %d s (not measured)...%n", warmupSeconds);
      long start = System.nanoTime();
      long deadline = start + TimeUnit.SECONDS.toNanos(warmupSeconds);
      int smallest = clients.stream().mapToInt(Integer::intValue).min().orElse(10);
      int round = 0;
      do {
        if (figures.contains("echo")) {
          echo(500);
        }
        if (figures.contains("journal")) {
          journalWrite(base.resolve("journal-warmup-" + round), 300);
        }
        if (figures.contains("push")) {
          pushToConfirmation("warmup-push-" + round, 500);
          pushInProcess("warmup-engine-" + round, 500);
          pushThroughSession("warmup-session-" + round, 500);
        }
        if (figures.contains("broadcast")) {
          broadcast(smallest, 100);
        }
        if (figures.contains("fanout")) {
          fanOut("warmup-fanout-" + round, smallest, 100);
        }
        round++;
      } while (System.nanoTime() < deadline);
      // then once with every larger client count: connecting and reaching many sockets runs a little more code
      for (int n : clients) {
        if (n != smallest && figures.contains("broadcast")) {
          broadcast(n, 50);
        }
        if (n != smallest && figures.contains("fanout")) {
          fanOut("warmup-fanout-" + n, n, 50);
        }
      }
      System.out.printf("warm-up done: %d rounds, %.0f s%n", round, (System.nanoTime() - start) / 1e9);

      measuring = true;
      for (int r = 0; r < runs; r++) {
        System.out.printf("run %d of %d (load average %.1f)...%n", r + 1, runs, loadAverage());
        int run = r;
        if (figures.contains("echo")) {
          timed("echo", () -> record("echo", echo(samples)));
        }
        if (figures.contains("journal")) {
          timed("journal write", () -> record("journal", journalWrite(base.resolve("journal-" + run), samples)));
        }
        if (figures.contains("push")) {
          timed("push to confirmation", () -> record("push", pushToConfirmation("push-" + run, samples)));
          timed("push via session", () -> record("push-session", pushThroughSession("session-" + run, samples)));
          timed("push in-process", () -> record("push-engine", pushInProcess("engine-" + run, samples)));
        }
        for (int n : clients) {
          if (figures.contains("broadcast")) {
            timed(String.format("broadcast to %,d", n), () -> {
              FanOut floor = broadcast(n, fanoutSamples);
              record("broadcast-" + n, floor.all());
              record("broadcast-first-" + n, floor.first());
            });
          }
          if (figures.contains("fanout")) {
            timed(String.format("fan-out to %,d", n), () -> {
              FanOut real = fanOut("fanout-" + n + "-" + run, n, fanoutSamples);
              record("fanout-" + n, real.all());
              record("fanout-first-" + n, real.first());
              record("fanout-pusher-" + n, real.pusher());
            });
          }
        }
      }
      System.out.printf("done (load average %.1f)%n", loadAverage());
      report();
      return 0;
    } finally {
      server.close();
      if (clientExecutor != null) {
        clientExecutor.shutdownNow();
      }
      deleteTree(base);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The figures

  /** (1) floor: one client, one ~200-byte text message in flight, echoed by bare Pekko HTTP. */
  Latency echo(int count) throws Exception {
    AtomicReference<CompletableFuture<Long>> pending = new AtomicReference<>();
    Socket socket = connect(echoUri, 1, i -> text -> complete(pending.get())).get(0);
    try {
      Histogram h = histogram();
      for (int k = 0; k < count; k++) {
        String message = pad("{\"echo\":" + k + ",\"pad\":\"", messageBytes, "\"}");
        CompletableFuture<Long> received = new CompletableFuture<>();
        pending.set(received);
        long sent = System.nanoTime();
        socket.send(message);
        h.recordValue(await(received, "echo " + k) - sent);
      }
      return Latency.of(h);
    } finally {
      closeAll(List.of(socket));
    }
  }

  /** (2) floor: one journal-shaped row inserted and committed, one at a time, into a fresh H2 file. */
  private Latency journalWrite(Path databaseDir, int count) throws Exception {
    Histogram h = histogram();
    try (RawJournal journal = new RawJournal(serverConfig(databaseDir))) {
      for (int k = 1; k <= count; k++) {
        long start = System.nanoTime();
        journal.add(k);
        journal.commit();
        h.recordValue(System.nanoTime() - start);
      }
    }
    return Latency.of(h);
  }

  /** (3) one client of the real server pushes one setTodo at a time; until the poke that confirms it. */
  private Latency pushToConfirmation(String instance, int count) throws Exception {
    Pusher pusher = Pusher.connect(this, instance, "solo");
    try {
      Histogram h = histogram();
      for (int k = 1; k <= count; k++) {
        String message = pusher.pushMessage(k, "~p" + k + "~");
        long sent = System.nanoTime();
        CompletableFuture<Long> confirmed = pusher.push(k, message);
        h.recordValue(await(confirmed, "confirmation of mutation " + k) - sent);
      }
      return Latency.of(h);
    } finally {
      closeAll(List.of(pusher.socket));
    }
  }

  /**
   * (3a) where (3) goes: the same push handed to the engine in-process ({@code SyncEngine.push}, no
   * socket, no session, no poke), until its acknowledgement: the instance and the journal through
   * Pekko Persistence JDBC.
   */
  private Latency pushInProcess(String instance, int count) throws Exception {
    InstanceId id = new InstanceId("todo", instance);
    Histogram h = histogram();
    for (int k = 1; k <= count; k++) {
      long now = System.currentTimeMillis();
      ObjectNode args = Json.mapper().createObjectNode().put("id", "todo-" + (k % 100)).put("text", "~e" + k + "~").put("updatedAt", now);
      List<MutationRequest> mutations = List.of(new MutationRequest(k, "setTodo", args, now));
      long sent = System.nanoTime();
      server.engine().push(id, "group-engine", "engine", io.syncedstore.api.auth.Principal.ANONYMOUS, mutations).toCompletableFuture().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      h.recordValue(System.nanoTime() - sent);
    }
    return Latency.of(h);
  }

  /**
   * (3b) where (3) goes: the same push through the client's real {@link ClientSession} (connected
   * with {@code SyncEngine.connect}), but no WebSocket: pushes are told to the session, and its
   * pokes arrive as {@link SocketOut} messages at an actor standing in for the socket.
   */
  private Latency pushThroughSession(String instance, int count) throws Exception {
    AtomicReference<Pending> pending = new AtomicReference<>();
    String clientId = "session-client";
    Behavior<SocketOut> fakeSocket = Behaviors.receive(SocketOut.class)
        .onMessage(SocketOut.Text.class, text -> {
          long now = System.nanoTime();
          if (text.ackTo() != null) {
            text.ackTo().tell(ClientSession.Delivered.INSTANCE);
          }
          JsonNode own = Json.mapper().readTree(text.json()).path("lastMutationIDChanges").get(clientId);
          Pending p = pending.get();
          if (own != null && p != null && own.asLong() >= p.mutationId()) {
            p.confirmed().complete(now);
          }
          return Behaviors.same();
        })
        .onMessage(SocketOut.Close.class, close -> Behaviors.stopped())
        .build();
    ActorSystem<?> system = server.engine().system();
    ActorRef<SocketOut> socket = system.systemActorOf(fakeSocket, "bench-socket-" + instance, Props.empty());
    ActorRef<ClientSession.Command> session = server.engine()
        .connect(new InstanceId("todo", instance), "group-" + clientId, clientId, null, null, 1, socket)
        .toCompletableFuture().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    try {
      Histogram h = histogram();
      for (int k = 1; k <= count; k++) {
        long now = System.currentTimeMillis();
        ObjectNode args = Json.mapper().createObjectNode().put("id", "todo-" + (k % 100)).put("text", "~s" + k + "~").put("updatedAt", now);
        ClientSession.ClientPush push = new ClientSession.ClientPush(List.of(new MutationRequest(k, "setTodo", args, now)), system.ignoreRef());
        CompletableFuture<Long> confirmed = new CompletableFuture<>();
        pending.set(new Pending(k, confirmed));
        long sent = System.nanoTime();
        session.tell(push);
        h.recordValue(await(confirmed, "confirmation of mutation " + k + " through the session") - sent);
      }
      return Latency.of(h);
    } finally {
      session.tell(ClientSession.SocketClosed.INSTANCE);
      socket.tell(new SocketOut.Close(1000, "done"));
    }
  }

  /** A mutation awaiting its confirming poke; the future gets the nanoTime at which the poke arrived. */
  private record Pending(long mutationId, CompletableFuture<Long> confirmed) {}

  /** Latencies of one fan-out run: until all N clients have it, until the first has it, until the pusher's confirmation. */
  private record FanOut(Latency all, Latency first, Latency pusher) {}

  /** (4) floor: a bare Pekko HTTP broadcast (BroadcastHub) of one message to {@code n} sockets, one message at a time. */
  private FanOut broadcast(int n, int count) throws Exception {
    Probe probe = new Probe();
    List<Socket> sockets = connect(broadcastUri, n, i -> probe::onMessage);
    try {
      // The hub registers a new consumer asynchronously: wait until every socket gets what is offered.
      boolean ready = false;
      for (int attempt = 0; attempt < 30 && !ready; attempt++) {
        Probe.Sample sample = probe.arm("~ready" + attempt + "~", n);
        offer(pad("{\"broadcast\":\"~ready" + attempt + "~\",\"pad\":\"", messageBytes, "\"}"));
        try {
          sample.all().get(1, TimeUnit.SECONDS);
          ready = true;
        } catch (TimeoutException e) {
          // not every consumer was registered yet; offer again
        }
      }
      if (!ready) {
        throw new IllegalStateException("the broadcast hub did not reach all " + n + " sockets within 30 s");
      }
      Histogram all = histogram();
      Histogram first = histogram();
      for (int k = 0; k < count; k++) {
        String marker = "~b" + k + "~";
        String message = pad("{\"broadcast\":\"" + marker + "\",\"pad\":\"", messageBytes, "\"}");
        Probe.Sample sample = probe.arm(marker, n);
        long sent = System.nanoTime();
        offer(message);
        all.recordValue(await(sample.all(), "broadcast " + k + " to " + n + " sockets (" + sample.remaining() + " missing)") - sent);
        first.recordValue(sample.first() - sent);
      }
      return new FanOut(Latency.of(all), Latency.of(first), null);
    } finally {
      closeAll(sockets);
    }
  }

  /** (5) {@code n} clients of one instance of the real server, one extra client pushes; until all {@code n} hold each write. */
  private FanOut fanOut(String instance, int n, int count) throws Exception {
    Probe probe = new Probe();
    List<CompletableFuture<Void>> firstPokes = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      firstPokes.add(new CompletableFuture<>());
    }
    List<Socket> receivers = connect(syncUri(instance), n, i -> text -> {
      if (text.startsWith("{\"type\":\"poke\"")) {
        firstPokes.get(i).complete(null);
      }
      probe.onMessage(text);
    });
    Pusher pusher = null;
    try {
      for (int i = 0; i < n; i++) {
        receivers.get(i).send(hello("watchers-" + i, "watcher-" + i));
      }
      CompletableFuture.allOf(firstPokes.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
      pusher = Pusher.connect(this, instance, "writer");
      Histogram all = histogram();
      Histogram first = histogram();
      Histogram confirmedAt = histogram();
      for (int k = 1; k <= count; k++) {
        String marker = "~f" + k + "~";
        String message = pusher.pushMessage(k, marker);
        Probe.Sample sample = probe.arm(marker, n);
        long sent = System.nanoTime();
        CompletableFuture<Long> confirmed = pusher.push(k, message);
        all.recordValue(await(sample.all(), "fan-out of mutation " + k + " to " + n + " clients (" + sample.remaining() + " missing)") - sent);
        first.recordValue(sample.first() - sent);
        confirmedAt.recordValue(await(confirmed, "confirmation of mutation " + k) - sent);
      }
      return new FanOut(Latency.of(all), Latency.of(first), Latency.of(confirmedAt));
    } finally {
      List<Socket> all = new ArrayList<>(receivers);
      if (pusher != null) {
        all.add(pusher.socket);
      }
      closeAll(all);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Servers and clients

  static Config serverConfig(Path dataDir) {
    Map<String, Object> settings = new java.util.HashMap<>(Map.of(
        "synced-store.http.host", "127.0.0.1",
        "synced-store.http.port", 0,
        "synced-store.data-dir", dataDir.toString(),
        "pekko.loglevel", "WARNING"));
    // every benchmark client is anonymous on 127.0.0.1, one address's quotas (docs/SECURITY.md): lifted
    settings.putAll(io.syncedstore.gateway.Quotas.liftedSettings(false));
    return SyncConfig.load(ConfigFactory.parseMap(settings), Main.GATEWAY_DEFAULTS);
  }

  /** Binds the floors: an echo WebSocket and a broadcast WebSocket, bare Pekko HTTP on the server's own actor system. */
  void startFloorServers(ActorSystem<?> system) throws Exception {
    Materializer materializer = Materializer.matFromSystem(system);
    Flow<Message, Message, NotUsed> echo = Flow.<Message>create()
        .mapAsync(1, m -> wholeText(m, materializer))
        .map(text -> (Message) TextMessage.create(text));
    Pair<BoundedSourceQueue<Message>, Source<Message, NotUsed>> broadcast = Source.<Message>queue(64)
        .toMat(BroadcastHub.of(Message.class, 256), Keep.both())
        .run(materializer);
    hub = broadcast.first();
    Route route = concat(
        path("echo", () -> handleWebSocketMessages(echo)),
        path("broadcast", () -> handleWebSocketMessages(Flow.fromSinkAndSourceCoupled(Sink.<Message>ignore(), broadcast.second()))));
    ServerBinding binding = Http.get(system).newServerAt("127.0.0.1", 0).bind(route).toCompletableFuture().get(30, TimeUnit.SECONDS);
    int port = binding.localAddress().getPort();
    echoUri = URI.create("ws://127.0.0.1:" + port + "/echo");
    broadcastUri = URI.create("ws://127.0.0.1:" + port + "/broadcast");
  }

  /** @return the whole text of {@code message}, strict or streamed (also {@link FloorServer}'s) */
  static CompletionStage<String> wholeText(Message message, Materializer materializer) {
    TextMessage text = message.asTextMessage();
    if (text.isStrict()) {
      return CompletableFuture.completedFuture(text.getStrictText());
    }
    // no continuation on Pekko's CompletionStage: on 2 cores its thenApply would start a thread (docs/BENCHMARKS.md)
    return text.getStreamedText().runFold("", String::concat, materializer);
  }

  private void offer(String message) {
    QueueOfferResult result = hub.offer(TextMessage.create(message));
    if (result != QueueOfferResult.enqueued()) {
      throw new IllegalStateException("the broadcast hub refused a message: " + result);
    }
  }

  private URI syncUri(String instance) {
    return URI.create("ws://127.0.0.1:" + server.port() + "/v1/apps/todo/instances/" + instance + "/sync");
  }

  private static String hello(String group, String client) throws Exception {
    return Json.mapper().writeValueAsString(new ClientMessage.Hello(ClientMessage.PROTOCOL_VERSION, group, client,
        Optional.empty(), 1, Optional.empty()));
  }

  /** Opens {@code n} WebSockets to {@code uri} through the shared client, at most {@link #CONNECT_PARALLELISM} handshakes at once. */
  List<Socket> connect(URI uri, int n, IntFunction<Consumer<String>> handlers) throws Exception {
    Semaphore handshakes = new Semaphore(CONNECT_PARALLELISM);
    List<CompletableFuture<Socket>> opening = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      handshakes.acquire();
      Socket socket = new Socket(handlers.apply(i));
      opening.add(http.newWebSocketBuilder().connectTimeout(WAIT).buildAsync(uri, socket)
          .whenComplete((ws, error) -> handshakes.release())
          .thenApply(ws -> socket));
    }
    List<Socket> sockets = new ArrayList<>();
    for (CompletableFuture<Socket> f : opening) {
      try {
        sockets.add(f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS));
      } catch (Exception e) {
        closeAll(sockets);
        throw new IllegalStateException("cannot open WebSocket " + (sockets.size() + 1) + " of " + n + " to " + uri + ": " + e
            + " (file descriptors: each loopback socket takes two in this JVM; see ulimit -n)", e);
      }
    }
    return sockets;
  }

  /** Closes {@code sockets} (close handshake, then abort) and waits until the server has seen every close. */
  static void closeAll(List<Socket> sockets) {
    for (Socket s : sockets) {
      s.ws.sendClose(WebSocket.NORMAL_CLOSURE, "").exceptionally(e -> null);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    for (Socket s : sockets) {
      try {
        s.closed.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (Exception e) {
        // aborted below
      }
      s.ws.abort();
    }
  }

  /** One JDK WebSocket; every complete text message goes to its handler, on the HttpClient's thread. */
  static final class Socket implements WebSocket.Listener {
    private final Consumer<String> handler;
    private final StringBuilder partial = new StringBuilder();
    private final CompletableFuture<Integer> closed = new CompletableFuture<>();
    private volatile WebSocket ws;

    Socket(Consumer<String> handler) {
      this.handler = handler;
    }

    void send(String text) {
      ws.sendText(text, true).join();
    }

    @Override
    public void onOpen(WebSocket webSocket) {
      ws = webSocket;
      webSocket.request(Long.MAX_VALUE); // never backpressure the server: the clients measure, they do not throttle
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      if (last && partial.isEmpty()) {
        handler.accept(data.toString());
      } else {
        partial.append(data);
        if (last) {
          handler.accept(partial.toString());
          partial.setLength(0);
        }
      }
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      closed.complete(statusCode);
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      closed.complete(1006);
    }
  }

  /**
   * A client of the real server that pushes setTodo one mutation at a time and learns of each
   * confirmation from the pokes' {@code lastMutationIDChanges} (parsed with Jackson, as a client would).
   */
  static final class Pusher {
    private final String clientId;
    private final String padding;
    private final CompletableFuture<Void> firstPoke = new CompletableFuture<>();
    private final AtomicReference<Pending> pending = new AtomicReference<>();
    private volatile long confirmed;
    private volatile String failure;
    Socket socket;

    private Pusher(String clientId, int messageBytes) {
      this.clientId = clientId;
      // sized so that a push of a small id is about messageBytes long
      String skeleton = "{\"type\":\"push\",\"mutations\":[{\"id\":1,\"name\":\"setTodo\",\"args\":{\"id\":\"todo-1\",\"text\":\"~p1~\","
          + "\"updatedAt\":1700000000000},\"timestamp\":1700000000000}]}";
      this.padding = "x".repeat(Math.max(0, messageBytes - skeleton.length()));
    }

    static Pusher connect(SyncBenchmark bench, String instance, String clientId) throws Exception {
      return connect(bench, bench.syncUri(instance), clientId);
    }

    /** Connects to {@code uri} (any server's sync URL), says hello and waits for the first poke. */
    static Pusher connect(SyncBenchmark bench, URI uri, String clientId) throws Exception {
      Pusher pusher = new Pusher(clientId, bench.messageBytes);
      pusher.socket = bench.connect(uri, 1, i -> pusher::onMessage).get(0);
      pusher.socket.send(hello("group-" + clientId, clientId));
      pusher.firstPoke.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      return pusher;
    }

    String pushMessage(long mutationId, String marker) {
      long now = System.currentTimeMillis();
      return "{\"type\":\"push\",\"mutations\":[{\"id\":" + mutationId + ",\"name\":\"setTodo\",\"args\":{\"id\":\"todo-" + (mutationId % 100)
          + "\",\"text\":\"" + marker + padding + "\",\"updatedAt\":" + now + "},\"timestamp\":" + now + "}]}";
    }

    /** Sends {@code message} (mutation {@code mutationId}); the future gets the nanoTime at which its confirming poke arrived. */
    CompletableFuture<Long> push(long mutationId, String message) {
      CompletableFuture<Long> done = new CompletableFuture<>();
      pending.set(new Pending(mutationId, done));
      socket.send(message);
      return done;
    }

    private void onMessage(String text) {
      long now = System.nanoTime();
      JsonNode m;
      try {
        m = Json.mapper().readTree(text);
      } catch (Exception e) {
        failure = "not JSON: " + text;
        return;
      }
      String type = m.path("type").asText();
      if (type.equals("poke")) {
        JsonNode own = m.path("lastMutationIDChanges").get(clientId);
        if (own != null) {
          confirmed = Math.max(confirmed, own.asLong());
        }
        firstPoke.complete(null);
        Pending p = pending.get();
        if (p != null && confirmed >= p.mutationId()) {
          p.confirmed().complete(now);
        }
      } else if (type.equals("mutationFailed") || type.equals("error")) {
        failure = text;
        Pending p = pending.get();
        if (p != null) {
          p.confirmed().completeExceptionally(new IllegalStateException(clientId + " got " + text));
        }
      }
    }
  }

  /**
   * Counts, for the message currently expected (a marker it contains), how many clients have it
   * and when the first and the last got it. One message in flight at a time.
   */
  private static final class Probe {
    private volatile Sample current;

    private static final class Sample {
      private final String marker;
      private final AtomicInteger remaining;
      private final int n;
      private volatile long first;
      private final CompletableFuture<Long> all = new CompletableFuture<>();

      Sample(String marker, int n) {
        this.marker = marker;
        this.n = n;
        this.remaining = new AtomicInteger(n);
      }

      CompletableFuture<Long> all() {
        return all;
      }

      long first() {
        return first;
      }

      int remaining() {
        return remaining.get();
      }
    }

    Sample arm(String marker, int n) {
      Sample s = new Sample(marker, n);
      current = s;
      return s;
    }

    void onMessage(String text) {
      Sample s = current;
      if (s == null || !text.contains(s.marker)) {
        return;
      }
      long now = System.nanoTime();
      int left = s.remaining.decrementAndGet();
      if (left == s.n - 1) {
        s.first = now;
      }
      if (left == 0) {
        s.all.complete(now);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reporting

  /** p50 and p99 of one run, in nanoseconds. */
  record Latency(long p50, long p99) {
    static Latency of(Histogram h) {
      return new Latency(h.getValueAtPercentile(50), h.getValueAtPercentile(99));
    }
  }

  private void record(String figure, Latency latency) {
    if (measuring) {
      results.computeIfAbsent(figure, f -> new ArrayList<>()).add(latency);
    }
  }

  private void report() {
    System.out.println();
    System.out.printf("Medians of %d runs (min-max), milliseconds. Clients in the same JVM as the server.%n", runs);
    System.out.printf("%-62s %-22s %-22s%n", "figure", "p50", "p99");
    line("(1) floor: WebSocket echo round trip, " + messageBytes + " B, 1 in flight", "echo");
    line("(2) floor: one journal write (1 row + commit, H2 file)", "journal");
    line("(3) push -> confirming poke, 1 client, 1 in flight", "push");
    line("      ...without the socket: ClientSession -> poke", "push-session");
    line("      ...without the session: SyncEngine.push -> ack", "push-engine");
    for (int n : clients) {
      line(String.format("(4) floor: bare Pekko HTTP broadcast to %,d sockets", n), "broadcast-" + n);
      line("      ...until the first socket has it", "broadcast-first-" + n);
      line(String.format("(5) fan-out: push -> all %,d clients hold the write", n), "fanout-" + n);
      line("      ...until the first client has it", "fanout-first-" + n);
      line("      ...until the pusher's confirming poke", "fanout-pusher-" + n);
    }
    System.out.println();
    System.out.println("Targets, on p99 (ratio = median of the runs' p99 / median bound; in brackets the per-run ratios, min-max):");
    System.out.printf("  %-58s %-12s %-22s %-22s %s%n", "target", "p99", "bound", "ratio (runs)", "verdict");
    if (results.containsKey("echo") && results.containsKey("journal") && results.containsKey("push")) {
      List<Double> perRun = new ArrayList<>();
      for (int r = 0; r < runs; r++) {
        perRun.add(ms(results.get("push").get(r).p99()) / (ms(results.get("echo").get(r).p99()) + ms(results.get("journal").get(r).p99())));
      }
      double floor = median(p99s("echo")) + median(p99s("journal"));
      target("push->confirmation <= 3 x (echo p99 + journal write p99)", median(p99s("push")), 3, floor,
          String.format("3 x %s ms", fmt(floor)), perRun);
    }
    for (int n : clients) {
      if (results.containsKey("fanout-" + n) && results.containsKey("broadcast-" + n)) {
        List<Double> perRun = new ArrayList<>();
        for (int r = 0; r < runs; r++) {
          perRun.add((double) results.get("fanout-" + n).get(r).p99() / results.get("broadcast-" + n).get(r).p99());
        }
        double floor = median(p99s("broadcast-" + n));
        target(String.format("fan-out to %,d <= 2 x broadcast to %,d p99", n, n), median(p99s("fanout-" + n)), 2, floor,
            String.format("2 x %s ms", fmt(floor)), perRun);
      }
      if (n == 1000 && results.containsKey("fanout-" + n)) {
        target("fan-out to 1,000 < 100 ms", median(p99s("fanout-" + n)), 1, 100, "100 ms",
            p99s("fanout-" + n).stream().map(x -> x / 100).toList());
      }
    }
  }

  /** Prints one target: {@code p99 <= factor x floor}, as the ratio {@code p99 / floor} against {@code factor}. */
  private static void target(String what, double p99, double factor, double floor, String bound, List<Double> perRunRatios) {
    double ratio = p99 / floor;
    String runs = String.format("%.2fx (%.2f-%.2f)", ratio, perRunRatios.stream().mapToDouble(Double::doubleValue).min().orElse(0),
        perRunRatios.stream().mapToDouble(Double::doubleValue).max().orElse(0));
    System.out.printf("  %-58s %-12s %-22s %-22s %s%n", what, fmt(p99) + " ms", bound, runs, ratio <= factor ? "MET" : "MISSED");
  }

  private void line(String what, String figure) {
    List<Latency> xs = results.get(figure);
    if (xs == null) {
      return;
    }
    System.out.printf("%-62s %-22s %-22s%n", what, spread(xs.stream().map(l -> ms(l.p50())).toList()),
        spread(xs.stream().map(l -> ms(l.p99())).toList()));
  }

  private List<Double> p99s(String figure) {
    return results.get(figure).stream().map(l -> ms(l.p99())).toList();
  }

  static String spread(List<Double> xs) {
    double min = xs.stream().mapToDouble(Double::doubleValue).min().orElse(0);
    double max = xs.stream().mapToDouble(Double::doubleValue).max().orElse(0);
    return String.format("%s (%s-%s)", fmt(median(xs)), fmt(min), fmt(max));
  }

  static String fmt(double ms) {
    return ms < 10 ? String.format("%.2f", ms) : String.format("%.1f", ms);
  }

  private static double ms(long nanos) {
    return nanos / 1e6;
  }

  static double median(List<Double> xs) {
    List<Double> sorted = xs.stream().sorted().toList();
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  // ---------------------------------------------------------------------------------------------
  // Small things

  interface Step {
    void run() throws Exception;
  }

  /** Runs one figure, then prints its duration, the load average and how many threads the JVM started meanwhile. */
  static void timed(String what, Step step) throws Exception {
    long threads = ManagementFactory.getThreadMXBean().getTotalStartedThreadCount();
    long start = System.nanoTime();
    step.run();
    System.out.printf("  %-22s %5.1f s, load average %4.1f, threads started %,d%n", what, (System.nanoTime() - start) / 1e9, loadAverage(),
        ManagementFactory.getThreadMXBean().getTotalStartedThreadCount() - threads);
  }

  static double loadAverage() {
    return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
  }

  static Histogram histogram() {
    return new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
  }

  private static void complete(CompletableFuture<Long> f) {
    if (f != null) {
      f.complete(System.nanoTime());
    }
  }

  private static long await(CompletableFuture<Long> f, String what) throws Exception {
    try {
      return f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new IllegalStateException("timed out after " + WAIT + " waiting for " + what, e);
    }
  }

  /** @return {@code prefix + "x"... + suffix}, {@code bytes} long (ASCII) */
  private static String pad(String prefix, int bytes, String suffix) {
    return prefix + "x".repeat(Math.max(0, bytes - prefix.length() - suffix.length())) + suffix;
  }

  /**
   * Every loopback connection holds two file descriptors in this JVM (client and server side);
   * with too low a limit the JDK client's connects fail with "Too many open files".
   */
  private static boolean enoughFileDescriptors(int mostClients) {
    if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean os) {
      long limit = os.getMaxFileDescriptorCount();
      long needed = 2L * (mostClients + 2) + 300;
      if (limit < needed) {
        System.err.printf("%,d clients need about %,d file descriptors in this JVM (two per loopback socket, plus the JVM's own);"
            + " the limit is %,d. Raise it (ulimit -n %d) or lower --clients.%n", mostClients, needed, limit, needed);
        return false;
      }
    }
    return true;
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  static void deleteTree(Path root) throws IOException {
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
