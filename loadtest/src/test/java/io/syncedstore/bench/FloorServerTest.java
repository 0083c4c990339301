package io.syncedstore.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The floor answers the protocol's shape the simulations check: were it to answer differently, the
 * simulations would fail against it or, worse, a floor figure would measure something else.
 */
class FloorServerTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private final HttpClient http = HttpClient.newHttpClient();
  private FloorServer floor;
  private int port;

  @BeforeEach
  void start() throws Exception {
    floor = new FloorServer();
    floor.port = 0;
    port = floor.start();
  }

  @AfterEach
  void stop() {
    floor.stop();
  }

  @Test
  void pushesArePokedToEverySocketOfTheInstanceAndOnlyThere() throws Exception {
    Socket writer = connect("i1");
    Socket listener = connect("i1");
    Socket elsewhere = connect("i2");
    writer.send(hello("w", null));
    JsonNode connected = writer.next();
    assertEquals("connected", connected.path("type").asText());
    assertEquals(0, connected.path("lastMutationId").asLong());
    JsonNode initial = writer.next();
    assertEquals("poke", initial.path("type").asText());
    assertTrue(initial.path("baseCookie").isNull(), "no cookie in the hello: " + initial);
    assertEquals("clear", initial.path("patch").path(0).path("op").asText(), "a replica without a cookie is reset");
    listener.send(hello("l", null));
    listener.next();
    listener.next();
    elsewhere.send(hello("e", null));
    elsewhere.next();
    elsewhere.next();

    writer.send("{\"type\":\"push\",\"mutations\":[{\"id\":1,\"name\":\"setTodo\",\"timestamp\":1,\"args\":{\"id\":\"t1\",\"text\":\"one\"}},"
        + "{\"id\":2,\"name\":\"setTodo\",\"timestamp\":2,\"args\":{\"id\":\"t2\",\"text\":\"two\"}}]}");
    for (Socket s : new Socket[] {writer, listener}) {
      JsonNode first = s.next();
      JsonNode second = s.next();
      assertEquals(1, first.path("lastMutationIDChanges").path("w").asLong(), first.toString());
      assertEquals("one", first.path("patch").path(0).path("value").path("text").asText(), first.toString());
      assertEquals(2, second.path("lastMutationIDChanges").path("w").asLong(), second.toString());
      assertEquals(first.path("cookie"), second.path("baseCookie"), "pokes chain");
    }
    elsewhere.send("{\"type\":\"ping\"}");
    assertEquals("pong", elsewhere.next().path("type").asText(), "another instance hears nothing of i1's pushes");

    // A reconnect with a cookie: the client's last mutation id, then a poke from that cookie, no reset.
    String cookie = listener.lastCookie;
    Socket again = connect("i1");
    again.send(hello("w", cookie));
    assertEquals(2, again.next().path("lastMutationId").asLong());
    JsonNode catchUp = again.next();
    assertEquals(cookie, catchUp.path("baseCookie").asText());
    assertTrue(catchUp.path("patch").isEmpty(), catchUp.toString());
    // a newcomer without a cookie gets the instance's entries
    Socket newcomer = connect("i1");
    newcomer.send(hello("n", null));
    newcomer.next();
    assertEquals(3, newcomer.next().path("patch").size(), "clear and the two todos");
    assertEquals(0, floor.dropped());
  }

  @Test
  void replicachePullReportsWhatTheGroupPushed() throws Exception {
    String base = "http://127.0.0.1:" + port + "/replicache/todo/r1/";
    String pull = "{\"pullVersion\":1,\"clientGroupID\":\"g\",\"cookie\":null,\"profileID\":\"p\",\"schemaVersion\":\"\"}";
    JsonNode before = post(base + "pull", pull);
    assertTrue(before.path("lastMutationIDChanges").isEmpty(), before.toString());
    post(base + "push", "{\"pushVersion\":1,\"clientGroupID\":\"g\",\"mutations\":[{\"id\":1,\"clientID\":\"c\",\"name\":\"setTodo\","
        + "\"args\":{\"id\":\"t\"}}]}");
    JsonNode after = post(base + "pull", pull);
    assertEquals(1, after.path("lastMutationIDChanges").path("c").asLong(), after.toString());
    assertTrue(after.path("cookie").path("order").asLong() > before.path("cookie").path("order").asLong(), after.toString());
    JsonNode other = post(base + "pull", pull.replace("\"g\"", "\"h\""));
    assertNull(other.path("lastMutationIDChanges").get("c"), "another group's clients are not reported");
  }

  private JsonNode post(String url, String body) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(WAIT)
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return Json.mapper().readTree(r.body());
  }

  private static String hello(String clientId, String cookie) {
    return "{\"type\":\"hello\",\"protocolVersion\":1,\"clientGroupId\":\"g-" + clientId + "\",\"clientId\":\"" + clientId + "\","
        + "\"schemaVersion\":1" + (cookie == null ? "" : ",\"cookie\":\"" + cookie + "\"") + "}";
  }

  private Socket connect(String instance) throws Exception {
    Socket socket = new Socket();
    socket.ws = http.newWebSocketBuilder().connectTimeout(WAIT)
        .buildAsync(URI.create("ws://127.0.0.1:" + port + "/v1/apps/todo/instances/" + instance + "/sync"), socket)
        .get(WAIT.toSeconds(), TimeUnit.SECONDS);
    return socket;
  }

  /** A blocking test socket: whole text messages in a queue. */
  private static final class Socket implements WebSocket.Listener {
    private final BlockingQueue<String> received = new LinkedBlockingQueue<>();
    private final StringBuilder partial = new StringBuilder();
    WebSocket ws;
    String lastCookie;

    void send(String text) throws Exception {
      ws.sendText(text, true).get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    JsonNode next() throws Exception {
      String text = received.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
      assertNotNull(text, "no message within " + WAIT);
      JsonNode message = Json.mapper().readTree(text);
      if (message.path("cookie").isTextual()) {
        lastCookie = message.path("cookie").asText();
      }
      return message;
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        received.add(partial.toString());
        partial.setLength(0);
      }
      webSocket.request(1);
      return null;
    }
  }
}
