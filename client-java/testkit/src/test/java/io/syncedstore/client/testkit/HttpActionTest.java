package io.syncedstore.client.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Json;
import io.syncedstore.client.SyncClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/** Calling an action over HTTP: {@code POST /v1/apps/{app}/instances/{id}/actions/{name}}. */
class HttpActionTest {
  /**
   * Input of {@code greet} and {@code remember}.
   *
   * @param name who
   */
  record Name(String name) {}

  static final AppDefinition APP = AppDefinition.builder("http-actions").schemaVersion(1)
      .table("greeted", String.class)
      .mutator("remember", Name.class, (ctx, in) -> ctx.table("greeted").set(in.name(), ctx.userId().orElse("anonymous")))
      .action("greet", Name.class, String.class, (ctx, in) -> {
        if (in.name().isEmpty()) {
          throw new IllegalArgumentException("name must not be empty");
        }
        ctx.mutate("remember", in);
        return "hello " + in.name() + " from " + ctx.userId().orElse("anonymous");
      })
      .build();

  private static HttpResponse<String> post(SyncTestKit kit, String path, String body) throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + kit.port() + path))
        .header("Authorization", "Bearer dev:alice").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    return HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void anActionCalledOverHttpAnswersWithItsOutputOrItsError() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient bob = kit.createClient("bob");
      HttpResponse<String> ok = post(kit, "/v1/apps/http-actions/instances/test/actions/greet", "{\"name\":\"bob\"}");
      assertEquals(200, ok.statusCode(), ok.body());
      assertEquals("hello bob from alice", Json.mapper().readTree(ok.body()).get("output").asText());
      kit.waitForValue(bob, "greeted", "bob", "alice");

      HttpResponse<String> failed = post(kit, "/v1/apps/http-actions/instances/test/actions/greet", "{\"name\":\"\"}");
      JsonNode error = Json.mapper().readTree(failed.body()).get("error");
      assertEquals(500, failed.statusCode());
      assertEquals("ACTION_FAILED", error.get("code").asText());
      assertTrue(error.get("message").asText().contains("name must not be empty"), failed.body());

      HttpResponse<String> unknown = post(kit, "/v1/apps/http-actions/instances/test/actions/nope", "{}");
      assertEquals(404, unknown.statusCode());
      assertEquals("UNKNOWN_ACTION", Json.mapper().readTree(unknown.body()).get("error").get("code").asText());

      HttpResponse<String> badInput = post(kit, "/v1/apps/http-actions/instances/test/actions/greet", "{\"name\": 5, \"x\": 1}");
      assertEquals(400, badInput.statusCode());
      assertEquals("INVALID_INPUT", Json.mapper().readTree(badInput.body()).get("error").get("code").asText());
    }
  }
}
