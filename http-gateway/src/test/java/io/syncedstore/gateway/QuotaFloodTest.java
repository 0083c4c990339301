package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Quotas under a flood: a client that pushes as fast as it can, and reconnects at once whenever it
 * is thrown out, is refused with {@code RATE_LIMITED} (close 4429, with a retry-after), while a
 * well-behaved user of the same instance keeps its push-to-confirmation latency. The latencies
 * are printed; the assertion on them is a generous bound, not the target (see docs/SECURITY.md).
 */
class QuotaFloodTest {
  @TempDir
  static Path dir;
  static SyncServer server;

  @BeforeAll
  static void start() {
    Map<String, Object> quotas = new HashMap<>();
    // the shipped defaults for signed-in users (TestServers lifts them for other tests)
    quotas.put("synced-store.quotas.messages-per-second", 50);
    quotas.put("synced-store.quotas.mutations-per-second", 100);
    quotas.put("synced-store.quotas.actions-per-minute", 120);
    quotas.put("synced-store.quotas.connections", 20);
    quotas.put("synced-store.quotas.instances", 50);
    server = TestServers.start(dir, SyncServer.discoverApps(), quotas);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void aFloodingClientIsThrottledWhileAWellBehavedUserKeepsItsLatency() throws Exception {
    String instance = "flood-1";
    try (SyncTestClient victim = SyncTestClient.connect(server.port(), instance, "victim-group", "victim-1", null, "dev:victim")) {
      measure(victim, 30); // warm up
      List<Long> quiet = measure(victim, 150);

      AtomicBoolean flooding = new AtomicBoolean(true);
      AtomicLong floodMessages = new AtomicLong();
      AtomicLong rateLimitedCloses = new AtomicLong();
      List<JsonNode> errors = Collections.synchronizedList(new ArrayList<>());
      Thread flooder = new Thread(() -> {
        int connection = 0;
        while (flooding.get()) {
          try (SyncTestClient f = SyncTestClient.open(server.port(), "todo", instance, "flooder-" + (connection++))) {
            f.hello("flooder-group-" + connection, null, 1, "dev:flooder");
            while (flooding.get() && !f.isClosed()) {
              try {
                f.push("setTodo", Map.of("id", "flood", "text", "x", "updatedAt", 1));
                floodMessages.incrementAndGet();
              } catch (RuntimeException e) {
                break; // the server closed the socket
              }
            }
            if (f.isClosed() && f.awaitClose() == 4429) {
              rateLimitedCloses.incrementAndGet();
              f.takeAll().stream().filter(m -> m.path("type").asText().equals("error")).forEach(errors::add);
            }
          } catch (RuntimeException | AssertionError e) {
            // refused at once on reconnect: open the next one
          }
        }
      }, "flooder");
      flooder.start();
      Thread.sleep(500); // the flood is under way
      List<Long> flooded = measure(victim, 150);
      flooding.set(false);
      flooder.join(60_000);

      long quietP99 = percentile(quiet, 0.99);
      long floodedP99 = percentile(flooded, 0.99);
      System.out.printf("victim push-to-confirmation p50/p99: quiet %.2f/%.2f ms, under flood %.2f/%.2f ms (x%.2f at p99);"
              + " flooder sent %d messages, thrown out %d times%n",
          percentile(quiet, 0.5) / 1e6, quietP99 / 1e6, percentile(flooded, 0.5) / 1e6, floodedP99 / 1e6,
          (double) floodedP99 / quietP99, floodMessages.get(), rateLimitedCloses.get());

      assertTrue(rateLimitedCloses.get() > 0, "the flooder was closed with 4429");
      JsonNode error = errors.stream().findFirst().orElseThrow(() -> new AssertionError("no RATE_LIMITED error was sent"));
      assertEquals("RATE_LIMITED", error.path("error").path("code").asText(), error.toString());
      assertTrue(error.path("error").path("retryAfterMs").asLong() > 0, "with a retry-after: " + error);
      // generous: the target is 2x; this bound only catches a flood that reaches the victim
      assertTrue(floodedP99 <= Math.max(5 * quietP99, quietP99 + Duration.ofMillis(250).toNanos()),
          "the victim's p99 under flood " + floodedP99 / 1e6 + " ms vs " + quietP99 / 1e6 + " ms without");
    }
  }

  @Test
  void httpRequestsOverTheQuotaGet429WithRetryAfter() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    // 100 mutations per second, 200 in a burst: a push of 150 passes, the next 150 at once do not
    HttpResponse<String> first = push(http, 1, 150);
    assertEquals(200, first.statusCode(), first.body());
    HttpResponse<String> second = push(http, 151, 150);
    assertEquals(429, second.statusCode(), second.body());
    assertTrue(second.headers().firstValue("Retry-After").isPresent(), second.headers().toString());
    assertTrue(second.body().contains("\"RATE_LIMITED\"") && second.body().contains("retryAfterMs"), second.body());
    Thread.sleep(1600); // the bucket refills: the same push passes now
    assertEquals(200, push(http, 151, 150).statusCode());
  }

  private static HttpResponse<String> push(HttpClient http, int fromId, int count) throws Exception {
    StringBuilder mutations = new StringBuilder();
    for (int id = fromId; id < fromId + count; id++) {
      mutations.append(mutations.isEmpty() ? "" : ",").append("{\"id\": ").append(id)
          .append(", \"name\": \"setTodo\", \"args\": {\"id\": \"h\", \"text\": \"x\", \"updatedAt\": 1}, \"timestamp\": 1}");
    }
    String body = "{\"clientGroupId\": \"http-group\", \"clientId\": \"http-1\", \"mutations\": [" + mutations + "]}";
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/apps/todo/instances/http-1/push"))
        .header("Authorization", "Bearer dev:http-user").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static List<Long> measure(SyncTestClient c, int count) {
    List<Long> nanos = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      long start = System.nanoTime();
      c.awaitConfirmed(c.push("setTodo", Map.of("id", "v" + (i % 10), "text", "t" + i, "updatedAt", i)));
      nanos.add(System.nanoTime() - start);
      try {
        Thread.sleep(20); // a well-behaved user: 50 mutations per second at most
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    return nanos;
  }

  private static long percentile(List<Long> values, double p) {
    List<Long> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p * sorted.size()) - 1));
  }
}
