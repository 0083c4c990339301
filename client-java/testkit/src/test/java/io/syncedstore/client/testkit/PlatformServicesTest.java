package io.syncedstore.client.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.SyncException;
import io.syncedstore.client.SyncClient;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Actions calling platform services: stubbed, refused by the allowlists, and the real ones on loopback. */
class PlatformServicesTest {
  /**
   * Input of the action {@code call}: any service with any input.
   *
   * @param service the service
   * @param input its input
   */
  record Call(String service, JsonNode input) {}

  /**
   * Input of {@code fetchAndStore} and {@code store}.
   *
   * @param key where to store
   * @param url what to fetch
   */
  record Fetch(String key, String url) {}

  /**
   * Input of the mutator {@code store}.
   *
   * @param key the key
   * @param text the value
   */
  record Store(String key, String text) {}

  static final AppDefinition APP = AppDefinition.builder("platform-test").schemaVersion(1)
      .table("pages", String.class)
      .mutator("store", Store.class, (ctx, in) -> ctx.table("pages").set(in.key(), in.text()))
      .action("call", Call.class, JsonNode.class, (ctx, in) -> ctx.platform().call(in.service(), in.input()))
      .action("fetchAndStore", Fetch.class, Integer.class, (ctx, in) -> {
        JsonNode page = ctx.platform().call("http.fetch", Map.of("url", in.url()));
        ctx.mutate("store", new Store(in.key(), page.get("body").asText()));
        return page.get("status").asInt();
      })
      .build();

  private static JsonNode call(SyncClient c, String service, Object input) throws Exception {
    try {
      return c.action("call", new Call(service, Json.mapper().valueToTree(input))).get(20, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw (Exception) e.getCause();
    }
  }

  private static void assertRefused(ErrorCode code, String text, ThrowingCall call) {
    SyncException e = assertThrows(SyncException.class, call::run);
    assertEquals(code, e.code(), e.getMessage());
    assertTrue(e.getMessage().contains(text), e.getMessage());
  }

  @FunctionalInterface
  interface ThrowingCall {
    void run() throws Exception;
  }

  @Test
  void anActionFetchesThroughAStubbedServiceAndWritesWhatItGot() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      AtomicReference<JsonNode> seen = new AtomicReference<>();
      kit.registerService("http.fetch", c -> {
        seen.set(c.input());
        return Json.mapper().createObjectNode().put("status", 200).put("body", "stubbed page");
      });
      SyncClient alice = kit.createClient("alice");
      SyncClient bob = kit.createClient("bob");
      int status = alice.action("fetchAndStore", new Fetch("home", "https://example.com/"), Integer.class).get(20, TimeUnit.SECONDS);
      assertEquals(200, status);
      assertEquals("https://example.com/", seen.get().get("url").asText());
      kit.waitForValue(bob, "pages", "home", "stubbed page");
    }
  }

  @Test
  void theAllowlistsRefuseWhatTheConfigurationDoesNotName() throws Exception {
    try (SyncTestKit kit = SyncTestKit.builder(APP).serverSetting("synced-store.platform.env.allow", List.of("PATH")).start()) {
      SyncClient alice = kit.createClient("alice");
      assertRefused(ErrorCode.SERVICE_REFUSED, "'HOME' is not in synced-store.platform.env.allow",
          () -> call(alice, "env.get", Map.of("name", "HOME")));
      assertEquals(System.getenv("PATH"), call(alice, "env.get", Map.of("name", "PATH")).get("value").asText());
      assertRefused(ErrorCode.SERVICE_REFUSED, "host 'example.com' is not in synced-store.platform.http.allow-hosts",
          () -> call(alice, "http.fetch", Map.of("url", "https://example.com/")));
      assertRefused(ErrorCode.INVALID_INPUT, "http and https", () -> call(alice, "http.fetch", Map.of("url", "file:///etc/passwd")));
      assertRefused(ErrorCode.UNKNOWN_SERVICE, "no platform service 'mail.send'", () -> call(alice, "mail.send", Map.of()));
    }
  }

  @Test
  void httpFetchReachesAnAllowedHostWithinItsResponseLimit() throws Exception {
    HttpServer web = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    web.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    web.createContext("/small", ex -> {
      byte[] body = "hello from loopback".getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().add("X-Test", "yes");
      ex.sendResponseHeaders(201, body.length);
      ex.getResponseBody().write(body);
      ex.close();
    });
    web.createContext("/drip", ex -> {
      ex.sendResponseHeaders(200, 0); // headers at once, then a body that never finishes in time
      ex.getResponseBody().write('x');
      ex.getResponseBody().flush();
      try {
        Thread.sleep(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      ex.close();
    });
    web.createContext("/big", ex -> {
      byte[] body = new byte[4096];
      ex.sendResponseHeaders(200, body.length);
      ex.getResponseBody().write(body);
      ex.close();
    });
    web.start();
    try (SyncTestKit kit = SyncTestKit.builder(APP)
        .serverSetting("synced-store.platform.http.allow-hosts", List.of("127.0.0.1"))
        .serverSetting("synced-store.platform.http.max-response-bytes", "1k")
        .serverSetting("synced-store.platform.http.timeout", "1s").start()) {
      SyncClient alice = kit.createClient("alice");
      String base = "http://127.0.0.1:" + web.getAddress().getPort();
      JsonNode page = call(alice, "http.fetch", Map.of("url", base + "/small", "headers", Map.of("Accept", "text/plain")));
      assertEquals(201, page.get("status").asInt());
      assertEquals("hello from loopback", page.get("body").asText());
      assertEquals("yes", page.get("headers").get("x-test").asText());
      assertRefused(ErrorCode.SERVICE_FAILED, "larger than 1024 bytes", () -> call(alice, "http.fetch", Map.of("url", base + "/big")));
      assertRefused(ErrorCode.SERVICE_FAILED, "no complete response within 1000 ms", () -> call(alice, "http.fetch", Map.of("url", base + "/drip")));
    } finally {
      web.stop(0);
    }
  }

  @Test
  void blobsAreStoredByTheirContentAndBounded() throws Exception {
    try (SyncTestKit kit = SyncTestKit.builder(APP).serverSetting("synced-store.platform.blob.max-bytes", 100).start()) {
      SyncClient alice = kit.createClient("alice");
      byte[] bytes = "some bytes \u0000\u0001".getBytes(StandardCharsets.UTF_8);
      JsonNode put = call(alice, "blob.put", Map.of("base64", Base64.getEncoder().encodeToString(bytes)));
      String hash = put.get("hash").asText();
      assertEquals(64, hash.length());
      assertEquals(put, call(alice, "blob.put", Map.of("base64", Base64.getEncoder().encodeToString(bytes))), "same bytes, same blob");
      JsonNode got = call(alice, "blob.get", Map.of("hash", hash));
      assertEquals(Base64.getEncoder().encodeToString(bytes), got.get("base64").asText());
      kit.restartServer();
      assertEquals(bytes.length, call(alice, "blob.get", Map.of("hash", hash)).get("size").asInt(), "kept across a restart");
      assertRefused(ErrorCode.SERVICE_REFUSED, "over the limit of 100", () -> call(alice, "blob.put", Map.of("text", "x".repeat(101))));
      assertRefused(ErrorCode.SERVICE_FAILED, "no blob", () -> call(alice, "blob.get", Map.of("hash", "0".repeat(64))));
    }
  }
}
