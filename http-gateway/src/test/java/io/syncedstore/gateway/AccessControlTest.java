package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.protocol.ClientMessage;
import io.syncedstore.examples.forms.FormsApp;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Membership, hooks, members-only instances, sync scopes and anonymous access, end to end over
 * real sockets and HTTP against a server on an H2 file. Tokens come from {@link TestTokens}
 * through the callback provider, behind the mixed provider: requests without a token are
 * anonymous users restricted to {@code responses} rows they answered.
 */
class AccessControlTest {
  static final String ADMIN = "admin-secret-for-tests-0123456789";

  /** A post of the club app. */
  public record Post(String text, String team) {}

  /** Input of {@code post}. */
  public record PostIn(String id, String text, String team) {}

  /** A private or server-only message. */
  public record Msg(String text) {}

  static final AppDefinition CLUB = AppDefinition.builder("club").schemaVersion(1)
      .table("posts", Post.class)
      .table("inbox", Msg.class)
      .table("audit", Msg.class)
      .mutator("post", PostIn.class, (ctx, in) -> ctx.table("posts").set(in.id(), new Post(in.text(), in.team())))
      .mutator("guardedPost", PostIn.class, (ctx, in) -> {
        if (!ctx.hasPermission("write")) {
          throw new SyncException(ErrorCode.MUTATOR_FAILED, "needs the write permission");
        }
        ctx.table("posts").set(in.id(), new Post(in.text(), in.team()));
      })
      .mutator("inbox", Msg.class, (ctx, in) -> ctx.privateOfUser(ctx.userId().orElseThrow()).table("inbox").set("own", in))
      .mutator("writeUsers", Msg.class, (ctx, in) -> ctx.table("$users").set("someone", Map.of("joinedAt", 1)))
      .onAddUser((ctx, user) -> {
        ctx.privateOfUser(user).table("inbox").set("welcome", new Msg("welcome " + user));
        ctx.table("posts").set("joined-" + user, new Post("joined", "all"));
        if (user.equals("mallory")) {
          ctx.privateOfUser("alice").table("inbox").set("evil", new Msg("tampered"));
        }
      })
      .onRemoveUser((ctx, user) -> ctx.table("posts").delete("joined-" + user))
      .onGrantPermission((ctx, user, permission) ->
          ctx.table("posts").set("granted-" + user + "-" + permission, new Post(permission, "all")))
      .build();

  @TempDir
  static Path dir;
  static SyncServer server;
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  @BeforeAll
  static void start() {
    server = TestServers.start(dir, List.of(CLUB, FormsApp.DEFINITION), Map.of(
        "synced-store.auth.provider", "mixed",
        "synced-store.auth.mixed.primary", "callback",
        "synced-store.auth.callback.class", TestTokens.class.getName(),
        "synced-store.auth.mixed.anonymous-scopes.responses.respondent", "$userId",
        "synced-store.admin.token", ADMIN));
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  // ------------------------------------------------------------------ membership and hooks

  @Test
  void membershipChangesRunTheirHooksAtomicallyAndATamperingHookAppliesNothing() throws Exception {
    String instance = "members-1";
    assertEquals(401, admin("PUT", instance, "users/alice", "{}", "wrong-token").statusCode());
    HttpResponse<String> added = admin("PUT", instance, "users/alice", "{\"permissions\": [\"read\"]}", ADMIN);
    assertEquals(200, added.statusCode(), added.body());

    Map<String, JsonNode> observer = pull("club", instance, TestTokens.user("observer"));
    assertEquals(List.of("read"), list(observer.get("public/$users/alice").get("permissions")));
    assertFalse(observer.get("public/$users/alice").path("removedAt").isNumber(), "a member: " + observer.get("public/$users/alice"));
    assertTrue(observer.containsKey("public/posts/joined-alice"), "the hook's public write: " + observer.keySet());
    assertFalse(observer.keySet().stream().anyMatch(k -> k.startsWith("private/")), "no one else's private rows: " + observer.keySet());
    Map<String, JsonNode> alice = pull("club", instance, TestTokens.user("alice"));
    assertEquals("welcome alice", alice.get("private/inbox/welcome").get("text").asText());

    HttpResponse<String> tampered = admin("PUT", instance, "users/mallory", "{}", ADMIN);
    assertEquals(422, tampered.statusCode(), tampered.body());
    assertEquals("TAMPER", Json.mapper().readTree(tampered.body()).path("error").path("code").asText());
    Map<String, JsonNode> after = pull("club", instance, TestTokens.user("observer"));
    assertFalse(after.containsKey("public/$users/mallory"), "the membership change was not applied");
    assertFalse(after.containsKey("public/posts/joined-mallory"), "nor the hook's other writes");
    assertFalse(pull("club", instance, TestTokens.user("alice")).containsKey("private/inbox/evil"));

    // permissions: checked by mutators through ctx.hasPermission, granted through the API with its hook
    try (SyncTestClient a = SyncTestClient.open(server.port(), "club", instance, "alice-1")) {
      a.hello("alice-group", null, 1, TestTokens.user("alice"));
      a.awaitConnected();
      long refused = a.push("guardedPost", new PostIn("p1", "hi", "a"));
      a.awaitConfirmed(refused);
      assertEquals("MUTATOR_FAILED", a.failures.get(0).path("error").path("code").asText(), a.failures.toString());
      assertEquals(200, admin("PUT", instance, "users/alice/permissions/write", "", ADMIN).statusCode());
      a.awaitUntil(() -> a.replica.containsKey("public/posts/granted-alice-write"));
      long allowed = a.push("guardedPost", new PostIn("p1", "hi", "a"));
      a.awaitConfirmed(allowed);
      assertEquals(1, a.failures.size(), "applied once the permission is granted");
      assertTrue(a.replica.containsKey("public/posts/p1"));
      // the membership tables are the server's: clients can neither run its mutators nor write them
      long forged = a.push("$addUser", Map.of("userId", "alice", "permissions", List.of("admin")));
      long written = a.push("writeUsers", new Msg("x"));
      a.awaitConfirmed(written);
      assertEquals(Map.of(forged, "UNKNOWN_MUTATOR", written, "TIER_VIOLATION"), failureCodes(a, forged, written));
    }
    HttpResponse<String> removed = admin("DELETE", instance, "users/alice", "", ADMIN);
    assertEquals(200, removed.statusCode(), removed.body());
    Map<String, JsonNode> gone = pull("club", instance, TestTokens.user("observer"));
    assertTrue(gone.get("public/$users/alice").path("removedAt").isNumber(), "removed: " + gone.get("public/$users/alice"));
    assertFalse(gone.containsKey("public/posts/joined-alice"), "onRemoveUser ran");
    assertEquals(404, admin("DELETE", instance, "users/alice", "", ADMIN).statusCode(), "no longer a member");
  }

  @Test
  void membersOnlyInstancesRefuseNonMembersAndCloseTheSessionsOfRemovedUsers() throws Exception {
    String instance = "members-only-1";
    assertEquals(200, admin("PUT", instance, "users/alice", "{}", ADMIN).statusCode());
    assertEquals(200, admin("PUT", instance, "access", "{\"membersOnly\": true}", ADMIN).statusCode());

    try (SyncTestClient carol = SyncTestClient.open(server.port(), "club", instance, "carol-1")) {
      carol.hello("carol-group", null, 1, TestTokens.user("carol"));
      assertEquals(4403, carol.awaitClose());
      assertEquals("NOT_A_MEMBER", carol.takeAll().get(0).path("error").path("code").asText());
    }
    try (SyncTestClient anonymous = SyncTestClient.open(server.port(), "club", instance, "anon-1")) {
      anonymous.hello("anon-group", null, 1, null);
      assertEquals(4403, anonymous.awaitClose());
    }
    HttpResponse<String> pulled = post("/v1/apps/club/instances/" + instance + "/pull", "{\"clientGroupId\": \"carol-g\"}",
        TestTokens.user("carol"));
    assertEquals(403, pulled.statusCode(), pulled.body());

    try (SyncTestClient alice = SyncTestClient.open(server.port(), "club", instance, "alice-1")) {
      alice.hello("alice-group", null, 1, TestTokens.user("alice"));
      alice.awaitConnected();
      alice.awaitConfirmed(alice.push("post", new PostIn("m1", "members only", "a")));
      assertEquals(200, admin("DELETE", instance, "users/alice", "", ADMIN).statusCode());
      assertEquals(4403, alice.awaitClose());
      assertTrue(alice.errors.stream().anyMatch(e -> e.path("error").path("code").asText().equals("NOT_A_MEMBER"))
          || alice.takeAll().stream().anyMatch(e -> e.path("error").path("code").asText().equals("NOT_A_MEMBER")));
    }
  }

  // ------------------------------------------------------------------ scopes

  @Test
  void scopedClientsSeeAndWriteOnlyWhatTheirScopesCoverAndARefreshedTokenBringsTheNewView() throws Exception {
    String instance = "scopes-1";
    String teamA = "{\"posts\": {\"team\": \"a\"}}";
    try (SyncTestClient writer = SyncTestClient.open(server.port(), "club", instance, "writer-1")) {
      writer.hello("writer-group", null, 1, TestTokens.user("writer"));
      writer.awaitConnected();
      writer.push("post", new PostIn("a1", "first", "a"));
      writer.push("post", new PostIn("b1", "first", "b"));
      writer.awaitConfirmed(writer.push("inbox", new Msg("private to writer")));

      try (SyncTestClient scoped = SyncTestClient.open(server.port(), "club", instance, "scoped-1")) {
        scoped.hello("scoped-group", null, 1, TestTokens.scoped("sam", teamA));
        scoped.awaitConnected();
        scoped.awaitUntil(() -> scoped.pokes > 0);
        assertEquals(Set.of("public/posts/a1"), scoped.replica.keySet(), "initial sync: team a posts only, no other table");

        // live: a new team-a post arrives, a team-b one does not, and a post moved to team b leaves
        writer.push("post", new PostIn("a2", "second", "a"));
        writer.push("post", new PostIn("b2", "second", "b"));
        writer.awaitConfirmed(writer.push("post", new PostIn("a1", "moved", "b")));
        scoped.awaitUntil(() -> scoped.replica.containsKey("public/posts/a2") && !scoped.replica.containsKey("public/posts/a1"));
        assertEquals(Set.of("public/posts/a2"), scoped.replica.keySet());
        // rows it never saw are not even named to it: b2 was created outside its scopes
        assertTrue(scoped.frames.stream().noneMatch(f -> f.contains("\"b2\"") || f.contains("\"b1\"")), scoped.frames.toString());

        // pulls apply the same scopes
        assertEquals(Set.of("public/posts/a2"), pull("club", instance, TestTokens.scoped("sam", teamA)).keySet());
        assertEquals(Set.of("public/posts/a2"), replicachePull("club", instance, TestTokens.scoped("sam", teamA)));

        // writes: another team's row, a table outside the scopes, a row the scopes do not cover
        long otherTeam = scoped.push("post", new PostIn("b3", "sneaky", "b"));
        long otherTable = scoped.push("inbox", new Msg("outside"));
        long uncovered = scoped.push("post", new PostIn("b1", "overwrite", "a"));
        long allowed = scoped.push("post", new PostIn("a3", "fine", "a"));
        scoped.awaitConfirmed(allowed);
        assertEquals(Map.of(otherTeam, "SCOPE_VIOLATION", otherTable, "SCOPE_VIOLATION", uncovered, "SCOPE_VIOLATION"),
            failureCodes(scoped, otherTeam, otherTable, uncovered));
        Map<String, JsonNode> all = pull("club", instance, TestTokens.user("writer"));
        assertFalse(all.containsKey("public/posts/b3"));
        assertEquals("first", all.get("public/posts/b1").get("text").asText(), "nothing of a refused mutation is applied");
        assertTrue(all.containsKey("public/posts/a3"));

        // a fresh token with other scopes on the same connection: rows leaving the scopes are deleted
        scoped.send(new ClientMessage.Auth(TestTokens.scoped("sam", "{\"posts\": {\"team\": \"b\"}}")));
        scoped.awaitUntil(() -> scoped.replica.containsKey("public/posts/b1"));
        assertEquals(Set.of("public/posts/a1", "public/posts/b1", "public/posts/b2"), scoped.replica.keySet());

        // and a token of another user is refused
        scoped.send(new ClientMessage.Auth(TestTokens.user("mallory")));
        assertEquals(4401, scoped.awaitClose());
      }
      // reconnecting with its cookie under other scopes also gets the new view, not a patch it cannot apply
      try (SyncTestClient again = SyncTestClient.open(server.port(), "club", instance, "scoped-2")) {
        again.hello("scoped-group-2", null, 1, TestTokens.scoped("sam", teamA));
        again.awaitConnected();
        again.awaitUntil(() -> again.pokes > 0);
        String cookie = again.cookie;
        assertEquals(Set.of("public/posts/a2", "public/posts/a3"), again.replica.keySet());
        again.close();
        try (SyncTestClient back = SyncTestClient.open(server.port(), "club", instance, "scoped-2")) {
          back.hello("scoped-group-2", cookie, 1, TestTokens.scoped("sam", "{\"posts\": {\"team\": \"b\"}}"));
          back.awaitConnected();
          JsonNode poke = back.nextMessage();
          assertEquals("clear", poke.path("patch").get(0).path("op").asText(), "a reset: " + poke);
          assertEquals(Set.of("public/posts/a1", "public/posts/b1", "public/posts/b2"), back.replica.keySet());
        }
      }
    }
  }

  // ------------------------------------------------------------------ anonymous access

  @Test
  void anonymousUsersOfTheFormAppSubmitResponsesButCannotReadOrWriteForms() throws Exception {
    String instance = "forms-1";
    try (SyncTestClient owner = SyncTestClient.open(server.port(), "forms", instance, "owner-1")) {
      owner.hello("owner-group", null, 1, TestTokens.user("olga"));
      owner.awaitConnected();
      owner.awaitConfirmed(owner.push("createForm", new FormsApp.CreateForm("f1", "Feedback", List.of("How was it?"))));

      String anonA;
      try (SyncTestClient a = SyncTestClient.open(server.port(), "forms", instance, "anon-client-a")) {
        a.hello("anon-group-a", null, 1, null);
        a.awaitConnected();
        anonA = a.connected.path("userId").asText();
        assertTrue(anonA.startsWith("anon-"), "anonymous users get an id: " + a.connected);
        long submitted = a.push("submitResponse", new FormsApp.SubmitResponse("r1", "f1", Map.of("How was it?", "great")));
        long form = a.push("createForm", new FormsApp.CreateForm("f2", "Spam", List.of()));
        long overwrite = a.push("submitResponse", new FormsApp.SubmitResponse("r1", "f1", Map.of("How was it?", "again")));
        a.awaitConfirmed(overwrite);
        assertEquals(Map.of(form, "MUTATOR_FAILED", overwrite, "MUTATOR_FAILED"), failureCodes(a, submitted, form, overwrite));
        assertEquals(Set.of("public/responses/r1"), a.replica.keySet(), "its own response, no form");
      }
      try (SyncTestClient b = SyncTestClient.open(server.port(), "forms", instance, "anon-client-b")) {
        b.hello("anon-group-b", null, 1, null);
        b.awaitConnected();
        assertNotEquals(anonA, b.connected.path("userId").asText(), "each anonymous client group is its own user");
        b.awaitConfirmed(b.push("submitResponse", new FormsApp.SubmitResponse("r2", "f1", Map.of("How was it?", "meh"))));
        assertEquals(Set.of("public/responses/r2"), b.replica.keySet(), "not the other anonymous user's response");
      }
      // the same client group comes back as the same anonymous user
      try (SyncTestClient a = SyncTestClient.open(server.port(), "forms", instance, "anon-client-a")) {
        a.hello("anon-group-a", null, 1, null);
        a.awaitConnected();
        assertEquals(anonA, a.connected.path("userId").asText());
      }
      // a push of forms by the anonymous user over HTTP is refused by the scopes as well
      HttpResponse<String> push = post("/v1/apps/forms/instances/" + instance + "/push",
          "{\"clientGroupId\": \"anon-group-c\", \"clientId\": \"anon-http\", \"mutations\": [{\"id\": 1, \"name\": \"createForm\","
              + " \"args\": {\"id\": \"f3\", \"title\": \"x\", \"questions\": []}, \"timestamp\": 1}]}", null);
      assertEquals(200, push.statusCode(), push.body());
      assertEquals("MUTATOR_FAILED", Json.mapper().readTree(push.body()).path("results").get(0).path("code").asText());

      owner.awaitUntil(() -> owner.replica.containsKey("public/responses/r2"));
      JsonNode r1 = owner.replica.get("public/responses/r1");
      assertEquals(anonA, r1.get("respondent").asText(), "the owner sees the anonymous responses and who gave them");
      assertEquals(Set.of("public/forms/f1", "public/responses/r1", "public/responses/r2"), owner.replica.keySet());
    }
  }

  @Test
  void aConnectionIsClosedWith4440WhenItsTokenExpires() {
    try (SyncTestClient c = SyncTestClient.open(server.port(), "club", "expiry-1", "expiring-1")) {
      c.hello("expiring-group", null, 1, TestTokens.expiring("erin", Instant.now().plusMillis(1500)));
      c.awaitConnected();
      assertEquals(4440, c.awaitClose());
    }
    try (SyncTestClient c = SyncTestClient.open(server.port(), "club", "expiry-1", "expired-1")) {
      c.hello("expired-group", null, 1, TestTokens.expiring("erin", Instant.now().minusSeconds(1)));
      assertEquals(4440, c.awaitClose());
    }
  }

  // ------------------------------------------------------------------ helpers

  private static Map<Long, String> failureCodes(SyncTestClient c, long... ids) {
    Set<Long> wanted = java.util.Arrays.stream(ids).boxed().collect(Collectors.toSet());
    return c.failures.stream().filter(f -> wanted.contains(f.path("id").asLong()))
        .collect(Collectors.toMap(f -> f.path("id").asLong(), f -> f.path("error").path("code").asText()));
  }

  private static List<String> list(JsonNode array) {
    return java.util.stream.StreamSupport.stream(array.spliterator(), false).map(JsonNode::asText).toList();
  }

  private static HttpResponse<String> admin(String method, String instance, String path, String body, String token) throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/admin/v1/apps/club/instances/"
            + instance + "/" + path))
        .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + token)
        .method(method, body.isEmpty() ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build();
    return http.send(request, HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> post(String path, String body, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
        .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** @return what a first pull of {@code token} shows, keyed {@code tier/table/itemKey} */
  private static Map<String, JsonNode> pull(String app, String instance, String token) throws Exception {
    HttpResponse<String> r = post("/v1/apps/" + app + "/instances/" + instance + "/pull", "{\"clientGroupId\": \"puller\"}", token);
    assertEquals(200, r.statusCode(), r.body());
    Map<String, JsonNode> rows = new java.util.TreeMap<>();
    for (JsonNode op : Json.mapper().readTree(r.body()).path("patch")) {
      if (op.path("op").asText().equals("put")) {
        rows.put(op.path("tier").asText() + "/" + op.path("table").asText() + "/" + op.path("itemKey").asText(), op.path("value"));
      }
    }
    return rows;
  }

  /** @return the keys a first Replicache pull of {@code token} gets, as {@code public/table/key} */
  private static Set<String> replicachePull(String app, String instance, String token) throws Exception {
    HttpResponse<String> r = post("/replicache/" + app + "/" + instance + "/pull",
        "{\"pullVersion\": 1, \"clientGroupID\": \"rep-puller\", \"cookie\": null, \"profileID\": \"p\", \"schemaVersion\": \"1\"}", token);
    assertEquals(200, r.statusCode(), r.body());
    Set<String> keys = new TreeSet<>();
    for (JsonNode op : Json.mapper().readTree(r.body()).path("patch")) {
      if (op.path("op").asText().equals("put")) {
        keys.add(op.path("key").asText());
      }
    }
    return keys.stream().map(k -> "public/" + k).collect(Collectors.toCollection(TreeSet::new));
  }
}
