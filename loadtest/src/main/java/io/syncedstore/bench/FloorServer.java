package io.syncedstore.bench;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.entity;
import static org.apache.pekko.http.javadsl.server.Directives.handleWebSocketMessages;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.post;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.ConfigFactory;
import io.syncedstore.api.Json;
import io.syncedstore.gateway.Main;
import io.syncedstore.persistence.SyncConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.model.ws.TextMessage;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The physical floor of the Gatling simulations, served on the same machine in the same run: a bare
 * Pekko HTTP server that answers the sync protocol's shape (the WebSocket at
 * {@code /v1/apps/{app}/instances/{id}/sync} and Replicache's {@code push}/{@code pull}) with no
 * engine behind it: no instance actor, no validation, no mutator, no journal, no session. A push is
 * parsed with the same Jackson, numbered, and its poke (the mutation's args as a {@code put}, the
 * pusher's {@code lastMutationIDChanges}) rendered once and offered to every socket of the instance;
 * a hello gets {@code connected} and an empty poke from its cookie; a ping a pong; an action an
 * empty {@code actionResult}. The simulations' own checks pass against it unchanged, so running a
 * simulation against this server and then against the real one, on the same cores with the same load
 * generator, separates what the machine and Gatling cost from what the engine adds.
 *
 * <p>Before it serves, it measures the raw H2 floor of the journal: journal-shaped rows inserted 100
 * per commit into a fresh H2 file with the journal's URL settings ({@link EngineBenchmark}'s floor
 * (a)), and prints the rate. {@code loadtest/run-simulation.sh} starts it (docs/BENCHMARKS.md).
 */
@Command(name = "floor-server", mixinStandardHelpOptions = true,
    description = "A bare Pekko HTTP server shaped like the sync protocol, with no engine: the floor of the Gatling simulations.")
public final class FloorServer implements Callable<Integer> {
  @Option(names = "--port", description = "port on 127.0.0.1 (default ${DEFAULT-VALUE}; 0: any free port)")
  int port = 8090;

  @Option(names = "--h2-rows", description = "rows timed per raw H2 run before serving, after as many untimed; 0 skips it"
      + " (default ${DEFAULT-VALUE})")
  int h2Rows = 50_000;

  @Option(names = "--h2-runs", description = "raw H2 runs; the median is printed with the spread (default ${DEFAULT-VALUE})")
  int h2Runs = 3;

  @Option(names = "--dir", description = "where the raw H2 runs' databases go (default: a temp dir)")
  Path dir;

  /** Outbound messages a socket may have waiting; beyond it the floor drops them and counts the drops. */
  private static final int OUT_BUFFER = 4096;

  private final Map<String, Room> rooms = new ConcurrentHashMap<>();
  private final AtomicLong dropped = new AtomicLong();
  private ActorSystem<Void> system;
  private Materializer materializer;

  public static void main(String[] args) {
    System.exit(new CommandLine(new FloorServer()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (h2Rows > 0) {
      measureRawH2();
    }
    int bound = start();
    System.out.printf("floor server listening on http://127.0.0.1:%d%n", bound);
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      System.out.printf("floor server: %,d outbound messages dropped (socket buffers full)%n", dropped.get());
      stop();
      done.countDown();
    }));
    done.await();
    return 0;
  }

  /**
   * Binds the floor on 127.0.0.1:{@code port} (without measuring H2).
   *
   * @return the port it listens on
   */
  int start() throws Exception {
    // The gateway's Pekko HTTP settings (the accept backlog above all), so both servers accept alike.
    system = ActorSystem.create(Behaviors.empty(), "floor",
        SyncConfig.load(ConfigFactory.parseMap(Map.of("pekko.loglevel", "WARNING")), Main.GATEWAY_DEFAULTS));
    materializer = Materializer.matFromSystem(system);
    return Http.get(system).newServerAt("127.0.0.1", port).bind(routes()).toCompletableFuture().get(30, TimeUnit.SECONDS)
        .localAddress().getPort();
  }

  /** Stops the server and waits (bounded) until it has. */
  void stop() {
    if (system != null) {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).exceptionally(e -> null).join();
    }
  }

  /** @return outbound messages dropped so far because a socket's buffer was full */
  long dropped() {
    return dropped.get();
  }

  private void measureRawH2() throws Exception {
    Path base = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("floor-h2");
    try {
      EngineBenchmark.rawH2Inserts(base.resolve("warmup"), h2Rows);
      List<Double> rates = new ArrayList<>();
      for (int r = 0; r < h2Runs; r++) {
        rates.add(EngineBenchmark.rawH2Inserts(base.resolve("run-" + r), h2Rows));
      }
      System.out.printf("floor: raw H2 batched inserts (journal-shaped rows, 100 per commit, WRITE_DELAY=0): %,.0f rows/s"
              + " (%,.0f-%,.0f, median of %d)%n", EngineBenchmark.median(rates), rates.stream().mapToDouble(d -> d).min().orElse(0),
          rates.stream().mapToDouble(d -> d).max().orElse(0), h2Runs);
    } finally {
      SyncBenchmark.deleteTree(base);
    }
  }

  private Route routes() {
    return concat(
        path("health", () -> complete("ok")),
        path("metrics", () -> complete("")),
        path(segment("v1").slash("apps").slash(segment()).slash("instances").slash(segment()).slash("sync"),
            (app, id) -> handleWebSocketMessages(connection(room(app, id)))),
        path(segment("v1").slash("apps").slash(segment()).slash("instances").slash(segment()).slash("push"),
            (app, id) -> post(() -> entity(Unmarshaller.entityToString(), body -> json(httpPush(room(app, id), body))))),
        path(segment("replicache").slash(segment()).slash(segment()).slash("push"),
            (app, id) -> post(() -> entity(Unmarshaller.entityToString(), body -> json(replicachePush(room(app, id), body))))),
        path(segment("replicache").slash(segment()).slash(segment()).slash("pull"),
            (app, id) -> post(() -> entity(Unmarshaller.entityToString(), body -> json(replicachePull(room(app, id), body))))));
  }

  private Room room(String app, String id) {
    return rooms.computeIfAbsent(app + "/" + id, k -> new Room());
  }

  private static Route json(String body) {
    return complete(HttpEntities.create(ContentTypes.APPLICATION_JSON, body));
  }

  /** One sync socket: inbound texts handled under the room's lock; outbound through a bounded queue. */
  private Flow<Message, Message, NotUsed> connection(Room room) {
    Pair<BoundedSourceQueue<Message>, Source<Message, NotUsed>> out = Source.<Message>queue(OUT_BUFFER).preMaterialize(materializer);
    Socket socket = new Socket(out.first());
    Sink<Message, NotUsed> in = Flow.<Message>create()
        .mapAsync(1, m -> SyncBenchmark.wholeText(m, materializer))
        .to(Sink.foreach(text -> onText(room, socket, text)))
        .mapMaterializedValue(m -> NotUsed.getInstance());
    return Flow.fromSinkAndSourceCoupled(in, out.second())
        .watchTermination((notUsed, terminated) -> {
          terminated.whenComplete((d, e) -> {
            synchronized (room) {
              room.sockets.remove(socket);
            }
          });
          return NotUsed.getInstance();
        });
  }

  private void onText(Room room, Socket socket, String text) throws Exception {
    JsonNode message = Json.mapper().readTree(text);
    switch (message.path("type").asText()) {
      case "hello" -> {
        String clientId = message.path("clientId").asText();
        JsonNode cookie = message.path("cookie");
        synchronized (room) {
          socket.clientId = clientId;
          ObjectNode connected = Json.mapper().createObjectNode().put("type", "connected").put("protocolVersion", 1)
              .putNull("userId").put("lastMutationId", room.lastMutationIds.getOrDefault(clientId, 0L));
          send(socket, connected.toString());
          ObjectNode poke = Json.mapper().createObjectNode().put("type", "poke");
          poke.set("baseCookie", cookie.isTextual() ? cookie : Json.mapper().nullNode());
          poke.put("cookie", "floor:" + room.version);
          var patch = poke.putArray("patch");
          if (!cookie.isTextual()) {
            patch.addObject().put("op", "clear");
            room.entries.forEach((key, value) -> patch.addObject().put("op", "put").put("tableName", "todos").put("key", key)
                .set("value", value));
          }
          poke.putObject("lastMutationIDChanges");
          send(socket, poke.toString());
          room.sockets.add(socket);
        }
      }
      case "push" -> {
        for (JsonNode mutation : message.path("mutations")) {
          synchronized (room) {
            long id = mutation.path("id").asLong();
            room.lastMutationIds.put(socket.clientId, id);
            ObjectNode poke = Json.mapper().createObjectNode().put("type", "poke").put("baseCookie", "floor:" + room.version);
            JsonNode args = mutation.path("args");
            room.put(args);
            poke.put("cookie", "floor:" + room.version);
            poke.putArray("patch").addObject().put("op", "put").put("tableName", "todos")
                .put("key", args.path("id").asText()).set("value", args);
            poke.putObject("lastMutationIDChanges").put(socket.clientId, id);
            String rendered = poke.toString();
            for (Socket s : room.sockets) {
              send(s, rendered);
            }
          }
        }
      }
      case "ping" -> send(socket, "{\"type\":\"pong\"}");
      case "action" -> send(socket, Json.mapper().createObjectNode().put("type", "actionResult")
          .put("id", message.path("id").asText()).putNull("output").toString());
      default -> { } // the floor answers only what the simulations send
    }
  }

  private void send(Socket socket, String text) {
    if (socket.out.offer(TextMessage.create(text)) != QueueOfferResult.enqueued()) {
      dropped.incrementAndGet();
    }
  }

  private static String replicachePush(Room room, String body) {
    JsonNode push = parse(body);
    String group = push.path("clientGroupID").asText();
    synchronized (room) {
      Map<String, Long> clients = room.groups.computeIfAbsent(group, g -> new HashMap<>());
      for (JsonNode mutation : push.path("mutations")) {
        clients.put(mutation.path("clientID").asText(), mutation.path("id").asLong());
        room.put(mutation.path("args"));
      }
    }
    return "{}";
  }

  /** The HTTP API's push (docs/HTTP-API.md), as the simulations' seeding uses it: applied, no pokes sent. */
  private static String httpPush(Room room, String body) {
    JsonNode push = parse(body);
    synchronized (room) {
      for (JsonNode mutation : push.path("mutations")) {
        room.lastMutationIds.put(push.path("clientId").asText(), mutation.path("id").asLong());
        room.put(mutation.path("args"));
      }
    }
    return "{}";
  }

  private static String replicachePull(Room room, String body) {
    JsonNode pull = parse(body);
    ObjectNode response = Json.mapper().createObjectNode();
    synchronized (room) {
      response.putObject("cookie").put("order", room.version);
      ObjectNode changes = response.putObject("lastMutationIDChanges");
      room.groups.getOrDefault(pull.path("clientGroupID").asText(), Map.of()).forEach(changes::put);
    }
    response.putArray("patch");
    return response.toString();
  }

  private static JsonNode parse(String body) {
    try {
      return Json.mapper().readTree(body);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** One instance's state on the floor: a version, the clients' last mutation ids, its sockets. */
  private static final class Room {
    long version;
    final Map<String, Long> lastMutationIds = new HashMap<>();
    final Map<String, Map<String, Long>> groups = new HashMap<>();
    final Set<Socket> sockets = new LinkedHashSet<>();
    /** The todos by id, so a hello without a cookie gets the whole state as the real server sends it. */
    final Map<String, JsonNode> entries = new LinkedHashMap<>();

    void put(JsonNode todo) {
      entries.put(todo.path("id").asText(), todo);
      version++;
    }
  }

  private static final class Socket {
    final BoundedSourceQueue<Message> out;
    String clientId = "";

    Socket(BoundedSourceQueue<Message> out) {
      this.out = out;
    }
  }
}
