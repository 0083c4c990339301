package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.Json;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acknowledged means durable: clients push to a real server process, the process is killed with
 * SIGKILL mid-stream, restarted on the same H2 file, and every acknowledged mutation is there
 * exactly once (in the state, in the client's last mutation id, and in the journal).
 */
class DurabilityKillTest {
  private static final int CLIENTS = 4;
  private static final int ACKS_BEFORE_KILL = 400;

  @TempDir
  Path dataDir;

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  private HttpResponse<String> post(int port, String path, JsonNode body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static ObjectNode push(String client, long fromId, long toId) {
    ObjectNode body = Json.mapper().createObjectNode().put("clientGroupId", "g-" + client).put("clientId", client);
    ArrayNode mutations = body.putArray("mutations");
    for (long id = fromId; id <= toId; id++) {
      ObjectNode m = mutations.addObject().put("id", id).put("name", "setTodo").put("timestamp", id);
      m.putObject("args").put("id", client + "-" + id).put("text", "todo " + id).put("updatedAt", id);
    }
    return body;
  }

  @Test
  void everyAcknowledgedMutationSurvivesSigkillExactlyOnce() throws Exception {
    Map<String, Long> acked = new ConcurrentHashMap<>();
    Map<String, Long> sent = new ConcurrentHashMap<>();
    AtomicInteger ackCount = new AtomicInteger();
    AtomicBoolean killed = new AtomicBoolean();
    List<String> beforeKill;
    try (ServerProcess server = ServerProcess.start(dataDir, firstServerOptions())) {
      List<Thread> pushers = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        String client = "client" + c;
        Thread t = new Thread(() -> {
          long id = 0;
          while (!killed.get()) {
            id++;
            sent.put(client, id);
            try {
              HttpResponse<String> r = post(server.port(), "/v1/apps/todo/instances/durable/push", push(client, id, id));
              if (r.statusCode() != 200) {
                return;
              }
              acked.put(client, id);
              ackCount.incrementAndGet();
            } catch (Exception connectionLost) {
              return;
            }
          }
        });
        t.start();
        pushers.add(t);
      }
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (ackCount.get() < ACKS_BEFORE_KILL && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      server.kill();
      killed.set(true);
      for (Thread t : pushers) {
        t.join(30_000);
      }
      beforeKill = server.output();
    }
    assertTrue(ackCount.get() >= ACKS_BEFORE_KILL, "pushes were acknowledged before the kill: " + ackCount + " " + beforeKill);

    // The restart takes its port and data directory from the environment instead of options.
    try (ServerProcess server = ServerProcess.start(List.of(), Map.of("SYNC_PORT", "0", "SYNC_DATA_DIR", dataDir.toString()))) {
      // Every client re-sends everything it ever sent; the acknowledged ones must be duplicates.
      for (int c = 0; c < CLIENTS; c++) {
        String client = "client" + c;
        long lastSent = sent.getOrDefault(client, 0L);
        long lastAcked = acked.getOrDefault(client, 0L);
        if (lastSent == 0) {
          continue;
        }
        JsonNode result = Json.mapper().readTree(post(server.port(), "/v1/apps/todo/instances/durable/push", push(client, 1, lastSent)).body());
        assertEquals(lastSent, result.get("lastMutationId").asLong(), result.toString());
        for (JsonNode r : result.get("results")) {
          if (r.get("id").asLong() <= lastAcked) {
            assertEquals("duplicate", r.get("status").asText(), "acknowledged mutation " + client + "#" + r.get("id") + " was lost");
          }
        }
      }
      JsonNode pull = Json.mapper().readTree(post(server.port(), "/v1/apps/todo/instances/durable/pull",
          Json.mapper().createObjectNode().put("clientGroupId", "checker")).body());
      Set<String> todos = new HashSet<>();
      for (JsonNode op : pull.get("patch")) {
        if (op.get("op").asText().equals("put")) {
          assertTrue(todos.add(op.get("itemKey").asText()));
        }
      }
      for (int c = 0; c < CLIENTS; c++) {
        String client = "client" + c;
        for (long id = 1; id <= sent.getOrDefault(client, 0L); id++) {
          assertTrue(todos.contains(client + "-" + id), "todo " + client + "-" + id + " missing after restart");
        }
      }
      int exit = server.terminate();
      // 143 = 128 + SIGTERM: the JVM's status after a signal-initiated shutdown whose hooks all completed.
      assertTrue(exit == 0 || exit == 143, "SIGTERM exits cleanly, got " + exit + ": " + server.output());
    }

    // The journal holds each (client, mutation id) exactly once.
    Map<String, Integer> seen = new HashMap<>();
    try (Connection c = DriverManager.getConnection("jdbc:h2:file:" + dataDir + "/journal;DATABASE_TO_UPPER=false", "sa", "");
        ResultSet rs = c.createStatement().executeQuery(
            "SELECT \"event_ser_manifest\", \"event_payload\" FROM \"event_journal\" WHERE \"persistence_id\" = 'todo|durable'")) {
      while (rs.next()) {
        if (rs.getString(1).endsWith("MutationApplied")) {
          JsonNode event = Json.mapper().readTree(decode(rs.getBytes(2)));
          seen.merge(event.get("clientId").asText() + "#" + event.get("mutationId").asLong(), 1, Integer::sum);
        }
      }
    }
    long expected = sent.values().stream().mapToLong(Long::longValue).sum();
    assertEquals(expected, seen.size(), "one event per mutation sent");
    seen.forEach((k, n) -> assertEquals(1, n, k + " applied " + n + " times"));
  }

  /**
   * {@code -Ddurability.jvmOption=...} adds one JVM option to the first server ({@code DATADIR}
   * stands for its data directory). docs/PERSISTENCE.md uses it to show that H2's default
   * WRITE_DELAY loses acknowledged mutations.
   */
  private String[] firstServerOptions() {
    String option = System.getProperty("durability.jvmOption");
    return option == null ? new String[0] : new String[] {option.replace("DATADIR", dataDir.toString())};
  }

  private static byte[] decode(byte[] payload) throws Exception {
    if (payload.length > 2 && (payload[0] & 0xff) == 0x1f && (payload[1] & 0xff) == 0x8b) {
      try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(payload))) {
        return in.readAllBytes();
      }
    }
    return payload;
  }
}
