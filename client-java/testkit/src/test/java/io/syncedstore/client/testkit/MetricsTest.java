package io.syncedstore.client.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.syncedstore.api.AppDefinition;
import io.syncedstore.client.SyncClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@code GET /metrics}: the engine's meters in the Prometheus text format, counting what happened. */
class MetricsTest {
  /**
   * Input of {@code put}, {@code fail} and the action {@code echo}.
   *
   * @param key the key
   */
  record Key(String key) {}

  static final AppDefinition APP = AppDefinition.builder("metrics-test").schemaVersion(1)
      .table("items", String.class)
      .mutator("put", Key.class, (ctx, in) -> ctx.table("items").set(in.key(), "x"))
      .mutator("fail", Key.class, (ctx, in) -> {
        if (ctx.isServer()) {
          throw new IllegalStateException("no");
        }
      })
      .action("echo", Key.class, String.class, (ctx, in) -> in.key())
      .build();

  private static double value(String metrics, String series) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " ([0-9.E+-]+)$").matcher(metrics);
    if (!m.find()) {
      throw new AssertionError("no series " + series + " in:\n" + metrics);
    }
    return Double.parseDouble(m.group(1));
  }

  private static String scrape(SyncTestKit kit) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + kit.port() + "/metrics"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode());
    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"), r.headers().toString());
    return r.body();
  }

  @Test
  void theMetricsCountSessionsMutationsConfirmationsAndActions() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient alice = kit.createClient("alice");
      SyncClient bob = kit.createClient("bob");
      for (int i = 0; i < 5; i++) {
        alice.mutate("put", new Key("k" + i));
      }
      alice.mutate("fail", new Key("f"));
      kit.waitForAllClients();
      assertEquals("hi", alice.action("echo", new Key("hi"), String.class).get(20, TimeUnit.SECONDS));
      String metrics = scrape(kit);
      assertEquals(2, value(metrics, "synced_store_sessions"));
      assertEquals(1, value(metrics, "synced_store_instances"));
      assertEquals(5, value(metrics, "synced_store_mutations_applied_total"));
      assertEquals(1, value(metrics, "synced_store_mutations_failed_total"));
      assertTrue(value(metrics, "synced_store_push_confirm_seconds_count") >= 1, "at least one push answered");
      assertTrue(value(metrics, "synced_store_journal_write_seconds_count") >= 1);
      assertTrue(value(metrics, "synced_store_pokes_sent_total") >= 4, "initial pokes and the writes' pokes");
      assertEquals(1, value(metrics, "synced_store_actions_total{outcome=\"succeeded\"}"));
      assertTrue(metrics.contains("synced_store_push_confirm_seconds_bucket{le="), "a latency histogram");
      assertTrue(value(metrics, "jvm_threads_live_threads") > 0, "the JVM's meters too");
      assertTrue(metrics.contains("process_files_open_files"), "open file descriptors");
      bob.close();
      kit.waitFor("bob's session to end", () -> {
        try {
          return value(scrape(kit), "synced_store_sessions") == 1;
        } catch (Exception e) {
          return false;
        }
      }, () -> "");
    }
  }
}
