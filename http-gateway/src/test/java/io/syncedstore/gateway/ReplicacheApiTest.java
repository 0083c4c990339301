package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replicache's push/pull protocol version 1 over a real socket, against a real H2 file: exact JSON
 * shapes, several clients of one group in one push, exactly-once, cookies, ClientStateNotFound,
 * VersionNotSupported, tiers, and the errors.
 */
@ExtendWith(LogCapturingExtension.class)
class ReplicacheApiTest {
  @TempDir
  static Path dir;

  private static SyncServer server;
  private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  /** Input of the lab app's mutators. */
  record Put(String key, JsonNode value) {}

  /** An app with every tier, to check what a pull may show. */
  static final AppDefinition LAB = AppDefinition.builder("rlab")
      .table("kv", JsonNode.class)
      .table("notes", JsonNode.class)
      .mutator("put", Put.class, (ctx, in) -> ctx.table("kv").set(in.key(), in.value()))
      .mutator("putPrivate", Put.class, (ctx, in) -> ctx.privateOfUser(ctx.userId().orElseThrow()).table("notes").set(in.key(), in.value()))
      .mutator("putServer", Put.class, (ctx, in) -> ctx.serverOnly().table("kv").set(in.key(), in.value()))
      .build();

  @BeforeAll
  static void start() {
    List<AppDefinition> apps = new ArrayList<>(SyncServer.discoverApps());
    apps.add(LAB);
    server = TestServers.start(dir, apps, Map.of("synced-store.instance.max-mutations-per-push", 3));
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  // ------------------------------------------------------------------ helpers

  private static HttpResponse<String> post(String path, String body, String authorization) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
        .timeout(Duration.ofSeconds(30)).header("Content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode tree(String json) throws Exception {
    return Json.mapper().readTree(json);
  }

  /** POSTs and expects HTTP 200 with a JSON body. */
  private static JsonNode ok(String path, String body, String authorization) throws Exception {
    HttpResponse<String> r = post(path, body, authorization);
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), r.headers().toString());
    return tree(r.body());
  }

  private static JsonNode push(String instance, String body, String authorization) throws Exception {
    return ok("/replicache/" + instance + "/push", body, authorization);
  }

  private static JsonNode pull(String instance, String group, JsonNode cookie, String authorization) throws Exception {
    String body = "{\"pullVersion\":1,\"clientGroupID\":\"" + group + "\",\"cookie\":" + (cookie == null ? "null" : cookie.toString())
        + ",\"profileID\":\"p1\",\"schemaVersion\":\"\"}";
    return ok("/replicache/" + instance + "/pull", body, authorization);
  }

  /** A PushRequestV1 body of {@code mutations} (each already JSON). */
  private static String pushBody(String group, String... mutations) {
    return "{\"pushVersion\":1,\"clientGroupID\":\"" + group + "\",\"mutations\":[" + String.join(",", mutations)
        + "],\"profileID\":\"p1\",\"schemaVersion\":\"\"}";
  }

  private static String mutation(String client, long id, String name, String args) {
    return "{\"id\":" + id + ",\"clientID\":\"" + client + "\",\"name\":\"" + name + "\",\"args\":" + args
        + ",\"timestamp\":" + (1700000000000L + id) + ".375}";
  }

  private static String setTodo(String client, long id, String todo, String text) {
    return mutation(client, id, "setTodo", "{\"id\":\"" + todo + "\",\"text\":\"" + text + "\",\"updatedAt\":" + (100 + id) + "}");
  }

  private static String put(String client, long id, String name, String key, String value) {
    return mutation(client, id, name, "{\"key\":\"" + key + "\",\"value\":\"" + value + "\"}");
  }

  private static JsonNode expected(String json, JsonNode cookieWithEpoch) throws Exception {
    return tree(json.replace("EPOCH", cookieWithEpoch.get("epoch").asText()));
  }

  private static TreeSet<String> keys(JsonNode pullResponse) {
    TreeSet<String> keys = new TreeSet<>();
    pullResponse.get("patch").forEach(op -> keys.add(op.get("op").asText() + (op.has("key") ? " " + op.get("key").asText() : "")));
    return keys;
  }

  private static long order(JsonNode pullResponse) {
    return pullResponse.get("cookie").get("order").asLong();
  }

  private static final JsonNode EMPTY = Json.mapper().createObjectNode();

  // ------------------------------------------------------------------ tests

  /** The exchange docs/REPLICACHE.md shows, request for request. */
  @Test
  void pushAndPullRoundTripWithReplicacheShapes() throws Exception {
    JsonNode pushed = push("todo/rc-1", """
        {
          "pushVersion": 1,
          "clientGroupID": "g1",
          "profileID": "p1",
          "schemaVersion": "",
          "mutations": [
            {"id": 1, "clientID": "c1", "name": "setTodo", "args": {"id": "t1", "text": "buy milk", "updatedAt": 1700000000000}, "timestamp": 1700000000000.375},
            {"id": 1, "clientID": "c2", "name": "setTodo", "args": {"id": "t2", "text": "walk dog", "done": true, "updatedAt": 1700000000001}, "timestamp": 1700000000001.5}
          ]
        }
        """, "Bearer dev:alice");
    assertEquals(EMPTY, pushed, "Replicache ignores a push's body; ours is {}");

    JsonNode first = ok("/replicache/todo/rc-1/pull",
        "{\"pullVersion\": 1, \"clientGroupID\": \"g1\", \"cookie\": null, \"profileID\": \"p1\", \"schemaVersion\": \"\"}",
        "Bearer dev:alice");
    String epoch = first.get("cookie").get("epoch").asText();
    assertTrue(epoch.matches("[0-9a-f]{12}"), first.toString());
    assertEquals(expected("""
        {
          "cookie": {"order": 2, "epoch": "EPOCH", "version": 2, "issuedTo": "g1", "pushed": true},
          "lastMutationIDChanges": {"c1": 1, "c2": 1},
          "patch": [
            {"op": "clear"},
            {"op": "put", "key": "todos/t1", "value": {"id": "t1", "text": "buy milk", "done": false, "updatedAt": 1700000000000}},
            {"op": "put", "key": "todos/t2", "value": {"id": "t2", "text": "walk dog", "done": true, "updatedAt": 1700000000001}}
          ]
        }
        """, first.get("cookie")), first);

    push("todo/rc-1", pushBody("g1", mutation("c1", 2, "removeTodo", "{\"id\":\"t1\"}")), "Bearer dev:alice");
    JsonNode second = pull("todo/rc-1", "g1", first.get("cookie"), "Bearer dev:alice");
    assertEquals(expected("""
        {
          "cookie": {"order": 3, "epoch": "EPOCH", "version": 3, "issuedTo": "g1", "pushed": true},
          "lastMutationIDChanges": {"c1": 2},
          "patch": [{"op": "del", "key": "todos/t1"}]
        }
        """, first.get("cookie")), second);

    JsonNode unchanged = pull("todo/rc-1", "g1", second.get("cookie"), "Bearer dev:alice");
    assertEquals(expected("""
        {"cookie": {"order": 3, "epoch": "EPOCH", "version": 3, "issuedTo": "g1", "pushed": true}, "lastMutationIDChanges": {}, "patch": []}
        """, first.get("cookie")), unchanged, "nothing changed: the very same cookie, an empty patch");
  }

  @Test
  void onePushCarriesSeveralClientsOfTheGroupInOrder() throws Exception {
    // c1, c2, c1 interleaved: both write t1, so the pushed order decides the text; u1 needs c1's second run.
    push("todo/rc-2", pushBody("g2",
        setTodo("c1", 1, "t1", "from c1"),
        setTodo("c2", 1, "t1", "from c2"),
        setTodo("c1", 2, "u1", "c1 again")), null);
    JsonNode pulled = pull("todo/rc-2", "g2", null, null);
    assertEquals(tree("{\"c1\": 2, \"c2\": 1}"), pulled.get("lastMutationIDChanges"));
    assertEquals(3, pulled.get("cookie").get("version").asLong(), "three mutations, three versions");
    assertEquals(expected("""
        [{"op": "clear"},
         {"op": "put", "key": "todos/t1", "value": {"id": "t1", "text": "from c2", "done": false, "updatedAt": 101}},
         {"op": "put", "key": "todos/u1", "value": {"id": "u1", "text": "c1 again", "done": false, "updatedAt": 102}}]
        """, pulled.get("cookie")), pulled.get("patch"));

    // lastMutationIDChanges lists only the group's clients that changed since the cookie
    push("todo/rc-2", pushBody("g2", setTodo("c2", 2, "t2", "x")), null);
    JsonNode next = pull("todo/rc-2", "g2", pulled.get("cookie"), null);
    assertEquals(tree("{\"c2\": 2}"), next.get("lastMutationIDChanges"));
    // another group sees the data but none of g2's clients
    assertEquals(EMPTY, pull("todo/rc-2", "other-group", null, null).get("lastMutationIDChanges"));
  }

  @Test
  void aPushLargerThanTheEngineLimitIsSplitAndFullyApplied() throws Exception {
    List<String> mutations = new ArrayList<>();
    for (int i = 1; i <= 7; i++) {
      mutations.add(setTodo("c1", i, "t" + i, "n" + i));
    }
    push("todo/rc-3", pushBody("g3", mutations.toArray(String[]::new)), null); // the test server allows 3 per engine push
    JsonNode pulled = pull("todo/rc-3", "g3", null, null);
    assertEquals(tree("{\"c1\": 7}"), pulled.get("lastMutationIDChanges"));
    assertEquals(8, pulled.get("patch").size(), "clear and seven todos");
  }

  @Test
  void aDuplicatePushIsAppliedOnce() throws Exception {
    String body = pushBody("g4", setTodo("c1", 1, "t1", "once"), setTodo("c1", 2, "t2", "twice?"));
    assertEquals(EMPTY, push("todo/rc-4", body, null));
    assertEquals(EMPTY, push("todo/rc-4", body, null), "a retried push is acknowledged");
    JsonNode pulled = pull("todo/rc-4", "g4", null, null);
    assertEquals(2, pulled.get("cookie").get("version").asLong(), "two mutations applied, not four");
    assertEquals(tree("{\"c1\": 2}"), pulled.get("lastMutationIDChanges"));

    // a push that repeats applied ids and adds a new one applies only the new one
    push("todo/rc-4", pushBody("g4", setTodo("c1", 2, "t2", "twice?"), setTodo("c1", 3, "t3", "new")), null);
    JsonNode next = pull("todo/rc-4", "g4", pulled.get("cookie"), null);
    assertEquals(3, next.get("cookie").get("version").asLong());
    assertEquals(tree("[{\"op\": \"put\", \"key\": \"todos/t3\", \"value\": {\"id\": \"t3\", \"text\": \"new\", \"done\": false, \"updatedAt\": 103}}]"),
        next.get("patch"));
  }

  @Test
  void clientStateNotFoundWhenTheGroupItselfHadPushedAndTheServerForgotIt() throws Exception {
    push("todo/rc-5a", pushBody("g5", setTodo("c5", 1, "t1", "x")), null);
    JsonNode cookie = pull("todo/rc-5a", "g5", null, null).get("cookie");
    assertEquals("g5", cookie.get("issuedTo").asText());
    assertTrue(cookie.get("pushed").asBoolean());

    // The same group and cookie against an instance that has no record of it: its state is gone
    // (what a wiped instance looks like), once before the instance was ever written, once after.
    assertEquals(tree("{\"error\": \"ClientStateNotFound\"}"), pull("todo/rc-5b", "g5", cookie, null));
    push("todo/rc-5b", pushBody("someone-else", setTodo("c9", 1, "z", "z")), null);
    assertEquals(tree("{\"error\": \"ClientStateNotFound\"}"), pull("todo/rc-5b", "g5", cookie, null));
  }

  @Test
  void aNewGroupWithAnotherGroupsCookieIsServed() throws Exception {
    push("todo/rc-6", pushBody("g6", setTodo("c6", 1, "t1", "x")), null);
    JsonNode parentCookie = pull("todo/rc-6", "g6", null, null).get("cookie");
    push("todo/rc-6", pushBody("g6", setTodo("c6", 2, "t2", "y")), null);

    // Replicache forked "fork" from g6's snapshot, cookie included: it gets the patch from that cookie.
    JsonNode forked = pull("todo/rc-6", "fork", parentCookie, null);
    assertEquals(expected("""
        {"cookie": {"order": 2, "epoch": "EPOCH", "version": 2, "issuedTo": "fork", "pushed": false},
         "lastMutationIDChanges": {},
         "patch": [{"op": "put", "key": "todos/t2", "value": {"id": "t2", "text": "y", "done": false, "updatedAt": 102}}]}
        """, parentCookie), forked);

    // Nothing changed since the parent's cookie: the same cookie back, empty patch.
    JsonNode same = pull("todo/rc-6", "fork2", forked.get("cookie"), null);
    assertEquals(forked.get("cookie"), same.get("cookie"));
    assertEquals(0, same.get("patch").size());

    // A read-only group (never pushed) keeps being served with its own cookie, wherever it goes.
    JsonNode reader = pull("todo/rc-6", "reader", null, null);
    assertFalse(reader.get("cookie").get("pushed").asBoolean());
    JsonNode elsewhere = pull("todo/rc-6-empty", "reader", reader.get("cookie"), null);
    assertFalse(elsewhere.has("error"), elsewhere.toString());
  }

  @Test
  void aCookieFromAnotherEpochGetsAResetOrderedAfterIt() throws Exception {
    // Cookies of instance rc-7a stand in for cookies of an earlier life (epoch) of rc-7b.
    List<String> many = new ArrayList<>();
    for (int i = 1; i <= 6; i++) {
      many.add(setTodo("c7", i, "t" + i, "v" + i));
    }
    push("todo/rc-7a", pushBody("g7", many.toArray(String[]::new)), null);
    JsonNode old = pull("todo/rc-7a", "g7", null, null).get("cookie");
    assertEquals(6, old.get("order").asLong());
    push("todo/rc-7b", pushBody("other", setTodo("c8", 1, "n", "new life")), null);

    JsonNode reset = pull("todo/rc-7b", "new-group", old, null);
    JsonNode cookie = reset.get("cookie");
    assertEquals(7, cookie.get("order").asLong(), "never behind the cookie it answers, though the version is 1");
    assertEquals(1, cookie.get("version").asLong());
    assertNotEquals(old.get("epoch"), cookie.get("epoch"));
    assertEquals(new TreeSet<>(List.of("clear", "put todos/n")), keys(reset));

    JsonNode after = pull("todo/rc-7b", "new-group", cookie, null);
    assertEquals(cookie, after.get("cookie"));
    push("todo/rc-7b", pushBody("other", setTodo("c8", 2, "m", "more")), null);
    assertEquals(8, order(pull("todo/rc-7b", "new-group", cookie, null)), "order keeps growing past the version");

    // a cookie of another server: a number, or an object with a numeric order
    JsonNode numeric = pull("todo/rc-7b", "g-num", tree("41.5"), null);
    assertEquals(42, order(numeric));
    assertTrue(keys(numeric).contains("clear"));
    assertEquals(100, order(pull("todo/rc-7b", "g-obj", tree("{\"order\": 99, \"x\": 1}"), null)));
  }

  @Test
  void theCookieStrictlyIncreasesAndAnUnchangedCookieHasAnEmptyPatch() throws Exception {
    // starts on an instance nobody wrote yet: its first answer is an empty reset
    JsonNode empty = pull("todo/rc-8", "g8", null, null);
    assertEquals(tree("[{\"op\": \"clear\"}]"), empty.get("patch"));
    JsonNode emptyAgain = pull("todo/rc-8", "g8", empty.get("cookie"), null);
    assertEquals(tree("{\"cookie\": " + empty.get("cookie") + ", \"lastMutationIDChanges\": {}, \"patch\": []}"), emptyAgain);
    JsonNode cookie = empty.get("cookie");
    long previous = order(empty);
    List<Long> orders = new ArrayList<>();
    for (int i = 1; i <= 4; i++) {
      push("todo/rc-8", pushBody("g8", setTodo("c8", i, "t", "v" + i)), null);
      JsonNode changed = pull("todo/rc-8", "g8", cookie, null);
      assertTrue(order(changed) > previous, "order " + order(changed) + " after " + previous);
      // the first write starts the instance's log (a new epoch): a reset, later ones one put each
      assertEquals(i == 1 ? new TreeSet<>(List.of("clear", "put todos/t")) : new TreeSet<>(List.of("put todos/t")), keys(changed));
      JsonNode unchanged = pull("todo/rc-8", "g8", changed.get("cookie"), null);
      assertEquals(changed.get("cookie"), unchanged.get("cookie"));
      assertEquals(0, unchanged.get("patch").size());
      assertEquals(EMPTY, unchanged.get("lastMutationIDChanges"));
      cookie = changed.get("cookie");
      previous = order(changed);
      orders.add(previous);
    }
    assertEquals(List.of(1L, 2L, 3L, 4L), orders);
  }

  @Test
  void privateRowsAreTheCallersOwnAndServerOnlyRowsNeverShow() throws Exception {
    push("rlab/rc-9", pushBody("ga",
        put("ca", 1, "put", "k1", "public"),
        put("ca", 2, "putPrivate", "n1", "alice's"),
        put("ca", 3, "putServer", "s1", "secret")), "Bearer dev:alice");
    push("rlab/rc-9", pushBody("gb", put("cb", 1, "putPrivate", "n2", "bob's")), "Bearer dev:bob");

    JsonNode alice = pull("rlab/rc-9", "ga", null, "Bearer dev:alice");
    // a reset lists tables in no particular order: compare the puts after the clear as a set
    JsonNode patch = alice.get("patch");
    assertEquals(tree("{\"op\": \"clear\"}"), patch.get(0));
    assertEquals(3, patch.size(), patch.toString());
    assertEquals(java.util.Set.of(
            tree("{\"op\": \"put\", \"key\": \"kv/k1\", \"value\": \"public\"}"),
            tree("{\"op\": \"put\", \"key\": \"$$pu/alice/notes/n1\", \"value\": \"alice's\"}")),
        java.util.Set.of(patch.get(1), patch.get(2)));
    assertEquals(new TreeSet<>(List.of("clear", "put kv/k1", "put $$pu/bob/notes/n2")), keys(pull("rlab/rc-9", "gb", null, "Bearer dev:bob")));
    assertEquals(new TreeSet<>(List.of("clear", "put kv/k1")), keys(pull("rlab/rc-9", "gx", null, null)), "anonymous");
    assertEquals(new TreeSet<>(List.of("clear", "put kv/k1")), keys(pull("rlab/rc-9", "gx", null, "")),
        "Replicache's default auth is the empty string: anonymous");

    // incremental pulls keep the same rules
    JsonNode cookie = alice.get("cookie");
    push("rlab/rc-9", pushBody("gb", put("cb", 2, "putPrivate", "n3", "bob's too")), "Bearer dev:bob");
    push("rlab/rc-9", pushBody("ga", put("ca", 4, "putServer", "s2", "secret"), put("ca", 5, "putPrivate", "n1", "changed")),
        "Bearer dev:alice");
    JsonNode next = pull("rlab/rc-9", "ga", cookie, "Bearer dev:alice");
    assertEquals(tree("[{\"op\": \"put\", \"key\": \"$$pu/alice/notes/n1\", \"value\": \"changed\"}]"), next.get("patch"));
  }

  @Test
  void versionNotSupportedForOtherPushAndPullVersions() throws Exception {
    JsonNode push0 = push("todo/rc-10", "{\"pushVersion\":0,\"clientID\":\"c1\",\"mutations\":[" + setTodo("c1", 1, "t", "x")
        + "],\"profileID\":\"p\",\"schemaVersion\":\"\"}", null);
    assertEquals(tree("{\"error\": \"VersionNotSupported\", \"versionType\": \"push\"}"), push0);
    JsonNode push2 = push("todo/rc-10", pushBody("g10", setTodo("c1", 1, "t", "x")).replace("\"pushVersion\":1", "\"pushVersion\":2"), null);
    assertEquals(tree("{\"error\": \"VersionNotSupported\", \"versionType\": \"push\"}"), push2);
    JsonNode pull0 = ok("/replicache/todo/rc-10/pull",
        "{\"pullVersion\":0,\"clientID\":\"c1\",\"cookie\":null,\"lastMutationID\":0,\"profileID\":\"p\",\"schemaVersion\":\"\"}", null);
    assertEquals(tree("{\"error\": \"VersionNotSupported\", \"versionType\": \"pull\"}"), pull0);
    assertEquals(tree("[{\"op\": \"clear\"}]"), pull("todo/rc-10", "g10", null, null).get("patch"), "nothing was applied");
  }

  @Test
  void aMutationIdGapMeansTheServerLostTheClient() throws Exception {
    assertEquals(tree("{\"error\": \"ClientStateNotFound\"}"), push("todo/rc-11", pushBody("g11", setTodo("c1", 5, "t", "x")), null));
    push("todo/rc-11", pushBody("g11", setTodo("c2", 1, "t", "x")), null);
    assertEquals(tree("{\"error\": \"ClientStateNotFound\"}"), push("todo/rc-11", pushBody("g11", setTodo("c2", 3, "t", "y")), null));
    assertEquals(tree("{\"c2\": 1}"), pull("todo/rc-11", "g11", null, null).get("lastMutationIDChanges"));
  }

  @Test
  void aMutationThatFailsIsStillProcessed() throws Exception {
    // setTodo without text fails on the server; Replicache must see it processed or it would resend it forever
    assertEquals(EMPTY, push("todo/rc-12", pushBody("g12", mutation("c1", 1, "setTodo", "{\"id\":\"t\"}"),
        mutation("c1", 2, "noSuchMutator", "{}"), setTodo("c1", 3, "t", "ok")), null));
    JsonNode pulled = pull("todo/rc-12", "g12", null, null);
    assertEquals(tree("{\"c1\": 3}"), pulled.get("lastMutationIDChanges"));
    assertEquals(new TreeSet<>(List.of("clear", "put todos/t")), keys(pulled));
  }

  @Test
  void badRequestsGetClearErrors() throws Exception {
    assertError(post("/replicache/todo/rc-13/push", "{not json", null), 400, "BAD_REQUEST", "not valid JSON");
    assertError(post("/replicache/todo/rc-13/push", "{\"pushVersion\":1,\"mutations\":[]}", null), 400, "BAD_REQUEST", "clientGroupID");
    assertError(post("/replicache/todo/rc-13/push", "{\"pushVersion\":1,\"clientGroupID\":\"g\"}", null), 400, "BAD_REQUEST", "mutations");
    assertError(post("/replicache/todo/rc-13/push", pushBody("g", "{\"id\":1,\"name\":\"setTodo\",\"args\":{},\"timestamp\":1}"), null),
        400, "BAD_REQUEST", "mutations[0].clientID");
    assertError(post("/replicache/todo/rc-13/push", pushBody("g", "{\"id\":1.5,\"clientID\":\"c\",\"name\":\"x\",\"timestamp\":1}"), null),
        400, "BAD_REQUEST", "mutations[0].id");
    assertError(post("/replicache/todo/rc-13/push", pushBody("g", "{\"id\":1,\"clientID\":\"c\",\"name\":\"x\",\"timestamp\":\"now\"}"), null),
        400, "BAD_REQUEST", "timestamp");
    assertError(post("/replicache/todo/rc-13/pull", "{\"pullVersion\":1,\"clientGroupID\":\"g\",\"cookie\":\"82e76b24250c:2\"}", null),
        400, "BAD_REQUEST", "cookie");
    assertError(post("/replicache/todo/rc-13/pull", "{\"pullVersion\":1,\"cookie\":null}", null), 400, "BAD_REQUEST", "clientGroupID");
    assertError(post("/replicache/nope/rc-13/pull", "{\"pullVersion\":1,\"clientGroupID\":\"g\",\"cookie\":null}", null), 404, "NOT_FOUND", "nope");
    assertError(post("/replicache/todo/bad%20id/pull", "{\"pullVersion\":1,\"clientGroupID\":\"g\",\"cookie\":null}", null),
        400, "BAD_REQUEST", "instance id");
    assertError(post("/replicache/todo/rc-13/pull", "{\"pullVersion\":1,\"clientGroupID\":\"g\",\"cookie\":null}", "Bearer nope"),
        401, "UNAUTHORIZED", "dev:");
    assertError(post("/replicache/todo/rc-13/pull", "{\"pullVersion\":1,\"clientGroupID\":\"g\",\"cookie\":null}", "dev:alice"),
        401, "UNAUTHORIZED", "Bearer");
    push("todo/rc-13", pushBody("g13", setTodo("c13", 1, "t", "x")), "Bearer dev:alice");
    assertError(post("/replicache/todo/rc-13/push", pushBody("g13", setTodo("c13", 2, "t", "y")), "Bearer dev:bob"),
        403, "CLIENT_OWNED_BY_OTHER_USER", "c13");
  }

  private static void assertError(HttpResponse<String> r, int status, String code, String mentions) throws Exception {
    assertEquals(status, r.statusCode(), r.body());
    JsonNode error = tree(r.body()).get("error");
    assertTrue(error instanceof ObjectNode, r.body());
    assertEquals(code, error.get("code").asText(), r.body());
    assertTrue(error.get("message").asText().contains(mentions), r.body());
  }
}
