package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real {@code replicache} npm client (15.3.0) against the server, from Node: two client groups
 * of one user write, see each other's todos and a removal, through the todo app's own mutators.
 *
 * <p>Skipped unless {@code node} is on the PATH and the package is installed
 * ({@code cd http-gateway/src/test/node && npm ci}); the build never downloads it.
 * {@link ReplicacheApiTest} checks the protocol without Node.
 */
@ExtendWith(LogCapturingExtension.class)
class ReplicacheNodeClientTest {
  private static final Path NODE_DIR = Path.of("src", "test", "node");

  @TempDir
  Path dir;

  @Test
  void theReplicacheClientSyncsTodos() throws Exception {
    assumeTrue(nodeAvailable(), "node is not on the PATH");
    assumeTrue(Files.isDirectory(NODE_DIR.resolve("node_modules").resolve("replicache")),
        "the replicache package is not installed: cd http-gateway/src/test/node && npm ci");

    try (SyncServer server = TestServers.start(dir)) {
      String base = "http://127.0.0.1:" + server.port();
      Process node = new ProcessBuilder("node", "replicache-client.mjs", base, "node-1")
          .directory(NODE_DIR.toFile()).redirectErrorStream(true).start();
      ByteArrayOutputStream output = new ByteArrayOutputStream();
      Thread reader = new Thread(() -> copy(node.getInputStream(), output));
      reader.start();
      // A bound so a broken sync cannot hang the build, not a speed claim.
      if (!node.waitFor(120, TimeUnit.SECONDS)) {
        node.destroyForcibly();
        reader.join(5_000);
        fail("the Replicache client did not finish within 120 s:\n" + output.toString(StandardCharsets.UTF_8));
      }
      reader.join(5_000);
      String printed = output.toString(StandardCharsets.UTF_8);
      assertEquals(0, node.exitValue(), printed);
      assertTrue(printed.contains("OK"), printed);

      // What the server holds after the Replicache clients are done, read through our own pull.
      HttpResponse<String> pulled = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create(base + "/replicache/todo/node-1/pull")).timeout(Duration.ofSeconds(30))
              .header("Authorization", "Bearer dev:alice")
              .POST(HttpRequest.BodyPublishers.ofString("{\"pullVersion\":1,\"clientGroupID\":\"java\",\"cookie\":null}")).build(),
          HttpResponse.BodyHandlers.ofString());
      JsonNode patch = Json.mapper().readTree(pulled.body()).get("patch");
      assertEquals(2, patch.size(), pulled.body());
      assertEquals("todos/t1", patch.get(1).get("key").asText());
      assertEquals("buy oat milk", patch.get(1).get("value").get("text").asText());
    }
  }

  private static boolean nodeAvailable() {
    try {
      Process p = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static void copy(InputStream in, ByteArrayOutputStream out) {
    try (in) {
      in.transferTo(out);
    } catch (IOException e) {
      // the process ended; what was read so far is in out
    }
  }
}
