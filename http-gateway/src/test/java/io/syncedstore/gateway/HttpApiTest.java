package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The HTTP gateway over a real socket: health, push and pull of the todo app, and every documented error. */
@ExtendWith(LogCapturingExtension.class)
class HttpApiTest {
  @TempDir
  static Path dir;

  private static SyncServer server;
  private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  @BeforeAll
  static void start() {
    server = TestServers.start(dir);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  private static HttpResponse<String> post(String path, String body, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
        .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> r) throws Exception {
    return Json.mapper().readTree(r.body());
  }

  private static void assertError(HttpResponse<String> r, int status, String code, String mentions) throws Exception {
    assertEquals(status, r.statusCode(), r.body());
    JsonNode error = json(r).get("error");
    assertEquals(code, error.get("code").asText(), r.body());
    assertTrue(error.get("message").asText().contains(mentions), r.body());
  }

  private static String setTodo(String client, long id, String todoId, String text) {
    return "{\"clientGroupId\":\"g-" + client + "\",\"clientId\":\"" + client + "\",\"mutations\":[{\"id\":" + id
        + ",\"name\":\"setTodo\",\"args\":{\"id\":\"" + todoId + "\",\"text\":\"" + text + "\",\"updatedAt\":5},\"timestamp\":5}]}";
  }

  @Test
  void healthListsTheExampleApps() throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/health")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode());
    assertEquals("ok", json(r).get("status").asText());
    assertTrue(json(r).get("apps").toString().contains("todo"));
  }

  @Test
  void pushThenPullTheTodoApp() throws Exception {
    HttpResponse<String> push = post("/v1/apps/todo/instances/http-1/push", setTodo("c1", 1, "t1", "buy milk"), "dev:alice");
    assertEquals(200, push.statusCode(), push.body());
    assertEquals("applied", json(push).get("results").get(0).get("status").asText());
    HttpResponse<String> pull = post("/v1/apps/todo/instances/http-1/pull", "{\"clientGroupId\":\"g-c1\"}", "dev:alice");
    assertEquals(200, pull.statusCode(), pull.body());
    JsonNode body = json(pull);
    assertEquals(1, body.get("lastMutationIdChanges").get("c1").asLong());
    assertEquals("clear", body.get("patch").get(0).get("op").asText());
    JsonNode put = body.get("patch").get(1);
    assertEquals("todos", put.get("table").asText());
    assertEquals(Json.mapper().readTree("{\"id\":\"t1\",\"text\":\"buy milk\",\"done\":false,\"updatedAt\":5}"), put.get("value"));
    HttpResponse<String> again = post("/v1/apps/todo/instances/http-1/pull",
        "{\"clientGroupId\":\"g-c1\",\"cookie\":\"" + body.get("cookie").asText() + "\"}", "dev:alice");
    assertEquals(0, json(again).get("patch").size(), "nothing changed since the cookie");
  }

  @Test
  void errorsHaveCodesAndMessages() throws Exception {
    assertError(post("/v1/apps/todo/instances/http-2/push", "{not json", null), 400, "BAD_REQUEST", "not valid JSON");
    assertError(post("/v1/apps/todo/instances/http-2/push", "{\"clientId\":\"c\",\"mutations\":[]}", null), 400, "BAD_REQUEST", "clientGroupId");
    assertError(post("/v1/apps/todo/instances/http-2/push", "{\"clientGroupId\":\"g\",\"clientId\":\"c\",\"mutations\":[null]}", null),
        400, "BAD_REQUEST", "mutations[0]");
    assertError(post("/v1/apps/nope/instances/http-2/pull", "{\"clientGroupId\":\"g\"}", null), 404, "NOT_FOUND", "nope");
    assertError(post("/v1/apps/todo/instances/bad%20id/pull", "{\"clientGroupId\":\"g\"}", null), 400, "BAD_REQUEST", "instance id");
    assertError(post("/v1/apps/todo/instances/http-2/push", setTodo("c2", 2, "t", "x"), null), 409, "MUTATION_ID_GAP", "expected mutation id 1");
    assertError(post("/v1/apps/todo/instances/http-2/push", setTodo("c2", -1, "t", "x"), null), 400, "BAD_REQUEST", "start at 1");
    assertEquals(200, post("/v1/apps/todo/instances/http-2/push", setTodo("c3", 1, "t", "x"), "dev:alice").statusCode());
    assertError(post("/v1/apps/todo/instances/http-2/push", setTodo("c3", 2, "t", "y"), "dev:bob"), 403, "CLIENT_OWNED_BY_OTHER_USER", "c3");
    assertError(post("/v1/apps/todo/instances/http-2/pull", "{\"clientGroupId\":\"g\"}", "not-a-dev-token"), 401, "UNAUTHORIZED", "dev:");
    assertError(post("/v1/apps/todo/instances/http-2/pull", "{\"clientGroupId\":\"g\",\"cookie\":\"x\"}", null), 400, "BAD_REQUEST", "cookie");
    HttpResponse<String> tooBig = post("/v1/apps/todo/instances/http-2/push", "{\"pad\":\"" + "x".repeat(3 * 1024 * 1024) + "\"}", null);
    assertEquals(413, tooBig.statusCode());
    HttpResponse<String> failed = post("/v1/apps/todo/instances/http-2/push",
        "{\"clientGroupId\":\"g-c4\",\"clientId\":\"c4\",\"mutations\":[{\"id\":1,\"name\":\"setTodo\",\"args\":{\"id\":\"t\",\"updatedAt\":1},\"timestamp\":1}]}", null);
    assertEquals(200, failed.statusCode());
    JsonNode result = json(failed).get("results").get(0);
    assertEquals("failed", result.get("status").asText());
    assertEquals("INVALID_INPUT", result.get("code").asText());
    assertTrue(result.get("message").asText().contains("'text'"), result.toString());
  }
}
