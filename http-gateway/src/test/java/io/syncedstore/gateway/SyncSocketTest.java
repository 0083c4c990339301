package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Live sync over real WebSockets: clients converge, reconnects catch up exactly. */
@ExtendWith(LogCapturingExtension.class)
class SyncSocketTest {
  @TempDir
  static Path dir;

  private static SyncServer server;

  @BeforeAll
  static void start() {
    server = TestServers.start(dir);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  private static Map<String, Object> todo(String id, String text) {
    return Map.of("id", id, "text", text, "updatedAt", 1);
  }

  @Test
  void helloGetsConnectedAndAnInitialResetPoke() {
    try (SyncTestClient c = SyncTestClient.open(server.port(), "todo", "hello-1", "c1")) {
      c.hello("g1", null, 1, "dev:alice");
      JsonNode connected = c.nextMessage();
      assertEquals("{\"type\":\"connected\",\"protocolVersion\":1,\"userId\":\"alice\",\"lastMutationId\":0}", connected.toString());
      JsonNode poke = c.nextMessage();
      assertEquals("{\"type\":\"poke\",\"baseCookie\":null,\"cookie\":\"0:0\",\"patch\":[{\"op\":\"clear\"}],"
          + "\"lastMutationIDChanges\":{}}", poke.toString());
    }
  }

  @Test
  void concurrentWritersConvergeToTheServersState() throws Exception {
    for (int clients : new int[] {2, 3}) {
      long seed = new Random().nextLong();
      try {
        converge("converge-" + clients + "-" + Long.toHexString(seed), clients, seed);
      } catch (AssertionError e) {
        throw new AssertionError("convergence with " + clients + " clients failed; seed " + seed, e);
      }
    }
  }

  private void converge(String instance, int n, long seed) throws Exception {
    Random random = new Random(seed);
    List<SyncTestClient> clients = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        clients.add(SyncTestClient.connect(server.port(), instance, "g" + i, "c" + i, null, "dev:u" + i));
      }
      long[] last = new long[n];
      for (int round = 0; round < 200; round++) {
        int i = random.nextInt(n);
        String id = "t" + random.nextInt(20);
        last[i] = random.nextInt(4) == 0
            ? clients.get(i).push("removeTodo", Map.of("id", id))
            : clients.get(i).push("setTodo", todo(id, "from c" + i + " round " + round));
      }
      for (int i = 0; i < n; i++) {
        clients.get(i).awaitConfirmed(last[i]);
      }
      // every client has seen its own last write; now let each reach the server's final cookie
      var server = SyncSocketTest.server.engine().pull(new io.syncedstore.runtime.InstanceId("todo", instance), "observer", null, io.syncedstore.api.auth.Principal.ANONYMOUS)
          .toCompletableFuture().get();
      Map<String, JsonNode> expected = new java.util.TreeMap<>();
      for (var op : server.patch()) {
        if (op.op().equals("put")) {
          // through text, as a client reads it (the server may hold 1 as a long, a client's parser as an int)
          expected.put(op.tier() + "/" + op.table() + "/" + op.itemKey(), SyncTestClient.read(op.value().toString()));
        }
      }
      for (SyncTestClient c : clients) {
        c.awaitUntil(() -> server.cookie().equals(c.cookie));
        assertEquals(expected, c.replica, "replica of a client");
        assertTrue(c.failures.isEmpty() && c.errors.isEmpty(), c.failures + " " + c.errors);
      }
    } finally {
      clients.forEach(SyncTestClient::close);
    }
  }

  @Test
  void reconnectWithAnOldCookieCatchesUpExactly() {
    String cookie;
    try (SyncTestClient a = SyncTestClient.connect(server.port(), "reconnect-1", "ga", "a", null, null)) {
      a.awaitConfirmed(a.push("setTodo", todo("t1", "one")));
      a.awaitConfirmed(a.push("setTodo", todo("t2", "two")));
      cookie = a.cookie;
    }
    try (SyncTestClient b = SyncTestClient.connect(server.port(), "reconnect-1", "gb", "b", null, null)) {
      b.awaitConfirmed(b.push("removeTodo", Map.of("id", "t1")));
      b.awaitConfirmed(b.push("setTodo", todo("t3", "three")));
    }
    try (SyncTestClient a = SyncTestClient.open(server.port(), "todo", "reconnect-1", "a")) {
      a.hello("ga", cookie, 1, null);
      a.nextMessage(); // connected
      JsonNode poke = a.nextMessage();
      assertEquals(cookie, poke.get("baseCookie").asText());
      assertEquals("[{\"op\":\"del\",\"tier\":\"public\",\"table\":\"todos\",\"itemKey\":\"t1\"},"
          + "{\"op\":\"put\",\"tier\":\"public\",\"table\":\"todos\",\"itemKey\":\"t3\",\"sortKey\":\"\","
          + "\"value\":{\"id\":\"t3\",\"text\":\"three\",\"done\":false,\"updatedAt\":1}}]", poke.get("patch").toString());
      assertEquals("{}", poke.get("lastMutationIDChanges").toString(), "a's own mutations were confirmed before its cookie");
    }
  }
}
