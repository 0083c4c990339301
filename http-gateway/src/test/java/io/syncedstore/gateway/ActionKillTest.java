package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An enqueued action survives SIGKILL: a mutation enqueues it, the server process is killed while
 * the action runs, and the restarted server (same H2 file) runs it again, to completion, without
 * any client touching the instance.
 */
class ActionKillTest {
  @TempDir
  Path dataDir;

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  private JsonNode post(int port, String path, JsonNode body) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return Json.mapper().readTree(r.body());
  }

  private static boolean printed(ServerProcess server, String line) {
    return server.output().stream().anyMatch(l -> l.contains(line));
  }

  private static void await(String what, java.util.function.BooleanSupplier condition, java.util.function.Supplier<Object> state)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what + "; " + state.get());
      }
      Thread.sleep(20);
    }
  }

  @Test
  void anEnqueuedActionKilledMidwayRunsAgainAfterTheRestart() throws Exception {
    try (ServerProcess first = ServerProcess.start(dataDir, "-Dkilltest.sleepMs=600000")) {
      ObjectNode push = Json.mapper().createObjectNode().put("clientGroupId", "g1").put("clientId", "c1");
      push.putArray("mutations").addObject().put("id", 1).put("name", "start").put("timestamp", 1)
          .putObject("args").put("key", "job-1");
      JsonNode result = post(first.port(), "/v1/apps/killtest/instances/jobs/push", push);
      assertEquals("applied", result.get("results").get(0).get("status").asText(), result.toString());
      await("the action to start", () -> printed(first, "KILLTEST started job-1"), first::output);
      // The wake-up row is written a few milliseconds after the commit, on another thread; a kill
      // inside that window is the documented gap (the instance then wakes when touched). Not this test's point.
      Thread.sleep(500);
      first.kill(); // SIGKILL while the action sleeps: its completion was never recorded
    }
    try (ServerProcess second = ServerProcess.start(dataDir, "-Dkilltest.sleepMs=0")) {
      // Nobody pushes or connects: the wake-up list starts the instance.
      await("the action to run again and finish", () -> printed(second, "KILLTEST finished job-1"), second::output);
      ObjectNode pull = Json.mapper().createObjectNode().put("clientGroupId", "g2");
      await("its write", () -> {
        try {
          JsonNode patch = post(second.port(), "/v1/apps/killtest/instances/jobs/pull", pull).get("patch");
          return patch.toString().contains("job-1");
        } catch (Exception e) {
          return false;
        }
      }, second::output);
      JsonNode patch = post(second.port(), "/v1/apps/killtest/instances/jobs/pull", pull).get("patch");
      assertTrue(patch.toString().contains("\"value\":1"), "written once: " + patch);
    }
  }
}
