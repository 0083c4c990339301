package io.syncedstore.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.Json;
import io.syncedstore.api.protocol.ClientMessage;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.api.protocol.ServerMessage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A small blocking client of the sync protocol for tests: JDK WebSocket + Jackson. It keeps a
 * replica of what the server pokes (keyed {@code tier/table/itemKey}), checks that every poke
 * continues from the cookie it holds, and can stop reading to play a slow consumer.
 *
 * <p>Messages are handled only inside the {@code await...} and {@code next} calls, on the test's
 * thread; the WebSocket's thread just queues them.
 */
final class SyncTestClient implements AutoCloseable {
  static final Duration WAIT = Duration.ofSeconds(30);

  private final WebSocket socket;
  private final String clientId;
  private final BlockingQueue<String> inbox = new LinkedBlockingQueue<>();
  private final CompletableFuture<int[]> closed = new CompletableFuture<>();
  private final StringBuilder partial = new StringBuilder();
  private volatile String closeReason = "";
  private volatile boolean paused;
  private boolean demandOwed;

  /** The replica: {@code tier/table/itemKey} to value. */
  final Map<String, JsonNode> replica = new TreeMap<>();
  String cookie;
  long lastMutationId;
  long nextMutationId = 1;
  final List<JsonNode> failures = new ArrayList<>();
  final List<JsonNode> errors = new ArrayList<>();
  JsonNode connected;
  int pokes;
  /** Every text frame received, raw and whole, in order, handled or not (binary frames decoded as UTF-8). */
  final List<String> frames = java.util.Collections.synchronizedList(new ArrayList<>());

  private SyncTestClient(WebSocket socket, String clientId) {
    this.socket = socket;
    this.clientId = clientId;
  }

  /** Opens a socket to {@code app/instance} without sending anything. */
  static SyncTestClient open(int port, String app, String instance, String clientId) {
    return open(URI.create("ws://127.0.0.1:" + port + "/v1/apps/" + app + "/instances/" + instance + "/sync"), clientId);
  }

  static SyncTestClient open(URI uri, String clientId) {
    Holder holder = new Holder();
    WebSocket ws = HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(WAIT)
        .buildAsync(uri, holder).join();
    SyncTestClient client = new SyncTestClient(ws, clientId);
    holder.client.complete(client);
    return client;
  }

  /** Opens a socket and says hello with the todo app's schema version 1; waits for {@code connected}. */
  static SyncTestClient connect(int port, String instance, String group, String clientId, String cookie, String token) {
    SyncTestClient c = open(port, "todo", instance, clientId);
    c.hello(group, cookie, 1, token);
    c.awaitConnected();
    return c;
  }

  void hello(String group, String cookie, int schemaVersion, String token) {
    this.cookie = cookie;
    send(new ClientMessage.Hello(ClientMessage.PROTOCOL_VERSION, group, clientId, Optional.ofNullable(cookie), schemaVersion,
        Optional.ofNullable(token)));
  }

  void awaitConnected() {
    while (connected == null) {
      handle(next());
    }
  }

  /** Pushes one mutation with the next id; returns the id. */
  long push(String name, Object args) {
    long id = nextMutationId++;
    ObjectNode m = Json.mapper().createObjectNode();
    m.put("id", id).put("name", name).put("timestamp", System.currentTimeMillis());
    m.set("args", Json.mapper().valueToTree(args));
    ObjectNode push = Json.mapper().createObjectNode().put("type", "push");
    push.putArray("mutations").add(m);
    sendRaw(push.toString());
    return id;
  }

  void send(ClientMessage message) {
    try {
      sendRaw(Json.mapper().writeValueAsString(message));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  void sendRaw(String text) {
    socket.sendText(text, true).join();
  }

  void sendBinary(byte[] data) {
    socket.sendBinary(ByteBuffer.wrap(data), true).join();
  }

  /** Handles messages until this client's last mutation id reaches {@code id}. */
  void awaitConfirmed(long id) {
    while (lastMutationId < id) {
      handle(next());
    }
  }

  /** Handles messages until {@code done} holds. */
  void awaitUntil(java.util.function.BooleanSupplier done) {
    while (!done.getAsBoolean()) {
      handle(next());
    }
  }

  /** Handles every message that arrives within {@code quiet} of the previous one. */
  void drain(Duration quiet) {
    String text;
    while ((text = poll(quiet)) != null) {
      handle(text);
    }
  }

  /** @return the next message as JSON, handled (replica updated); fails after {@link #WAIT} */
  JsonNode nextMessage() {
    String text = next();
    handle(text);
    return read(text);
  }

  String next() {
    String text = poll(WAIT);
    if (text == null) {
      throw new AssertionError(clientId + ": no message within " + WAIT + (closed.isDone() ? "; closed " + closed.join()[0] : ""));
    }
    return text;
  }

  private String poll(Duration timeout) {
    try {
      return inbox.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private void handle(String text) {
    JsonNode m = read(text);
    // every server message must parse as its documented wire type
    ServerMessage typed;
    try {
      typed = Json.mapper().treeToValue(m, ServerMessage.class);
    } catch (Exception e) {
      throw new AssertionError("not a valid server message: " + text, e);
    }
    if (typed instanceof ServerMessage.Connected) {
      connected = m;
    } else if (typed instanceof ServerMessage.Poke p) {
      applyPoke(p, text);
    } else if (typed instanceof ServerMessage.MutationFailed) {
      failures.add(m);
    } else if (typed instanceof ServerMessage.Error) {
      errors.add(m);
    }
  }

  private void applyPoke(ServerMessage.Poke poke, String text) {
    boolean reset = !poke.patch().isEmpty() && poke.patch().get(0).op().equals("clear");
    if (!reset && !java.util.Objects.equals(poke.baseCookie(), cookie)) {
      throw new AssertionError(clientId + " holds cookie " + cookie + " but got a poke from " + poke.baseCookie() + ": " + text);
    }
    for (PatchOp op : poke.patch()) {
      switch (op.op()) {
        case "clear" -> replica.clear();
        case "put" -> replica.put(op.tier() + "/" + op.table() + "/" + op.itemKey(), op.value());
        case "del" -> replica.remove(op.tier() + "/" + op.table() + "/" + op.itemKey());
        default -> throw new AssertionError("unknown op " + op.op());
      }
    }
    cookie = poke.cookie();
    Long own = poke.lastMutationIdChanges().get(clientId);
    if (own != null) {
      if (own < lastMutationId) {
        throw new AssertionError(clientId + ": last mutation id went back from " + lastMutationId + " to " + own);
      }
      lastMutationId = own;
    }
    pokes++;
  }

  static JsonNode read(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (Exception e) {
      throw new AssertionError("not JSON: " + text, e);
    }
  }

  /** Stops reading: the server's writes back up into TCP buffers and then into the session. */
  synchronized void pause() {
    paused = true;
  }

  synchronized void resume() {
    paused = false;
    if (demandOwed) {
      demandOwed = false;
      socket.request(1);
    }
  }

  private synchronized void demand(WebSocket ws) {
    if (paused) {
      demandOwed = true;
    } else {
      ws.request(1);
    }
  }

  /** @return the close code the server sent; fails if none comes within {@link #WAIT} */
  int awaitClose() {
    try {
      return closed.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)[0];
    } catch (TimeoutException e) {
      throw new AssertionError(clientId + ": the server did not close within " + WAIT);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  String closeReason() {
    return closeReason;
  }

  boolean isClosed() {
    return closed.isDone();
  }

  /** @return every message received and not yet handled, parsed, in order; they are not applied to the replica */
  List<JsonNode> takeAll() {
    List<JsonNode> all = new ArrayList<>();
    String text;
    while ((text = inbox.poll()) != null) {
      all.add(read(text));
    }
    return all;
  }

  @Override
  public void close() {
    if (!socket.isOutputClosed()) {
      try {
        socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(5, TimeUnit.SECONDS);
      } catch (Exception e) {
        socket.abort();
      }
    }
    socket.abort();
  }

  private static final class Holder implements WebSocket.Listener {
    final CompletableFuture<SyncTestClient> client = new CompletableFuture<>();

    @Override
    public void onOpen(WebSocket webSocket) {
      webSocket.request(1);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      SyncTestClient c = client.join();
      c.partial.append(data);
      if (last) {
        c.frames.add(c.partial.toString());
        c.inbox.add(c.partial.toString());
        c.partial.setLength(0);
      }
      c.demand(webSocket);
      return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
      client.join().frames.add(java.nio.charset.StandardCharsets.UTF_8.decode(data).toString());
      client.join().demand(webSocket);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      SyncTestClient c = client.join();
      c.closeReason = reason;
      c.closed.complete(new int[] {statusCode});
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      client.join().closed.complete(new int[] {1006});
    }
  }
}
