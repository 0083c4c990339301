package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Entry;
import io.syncedstore.api.Json;
import io.syncedstore.api.protocol.ClientMessage;
import io.syncedstore.gateway.auth.Authentication;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
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
 * The visibility matrix, end to end over real sockets and HTTP: every principal (anonymous, user
 * A, user B, an admin) against every class of row (public in scope, A's private rows, B's private
 * rows, server-only rows, public rows outside the scopes) through every way data leaves the
 * server (initial sync, live pokes, HTTP pull, Replicache pull, action reads over the socket and
 * over HTTP, mutation writes over the socket and over HTTP).
 *
 * <p>Every cell is checked positively (a row the principal may see arrives with its marker) and
 * negatively (the canary strings of the rows it may not see are in none of the bytes that
 * operation returned). On top of that every byte each principal received (each raw WebSocket
 * frame, close reasons, every HTTP status, header and body, errors included) is kept and searched
 * for the canaries it must never get. Failures name their cell; the whole matrix is printed.
 */
class VisibilityMatrixTest {
  static final String ADMIN_TOKEN = "admin-secret-for-the-visibility-matrix-0123456789";
  static final String APP_NAME = "vis";
  static final String INSTANCE = "matrix-1";
  static final String SCOPES = "{\"pub\": {\"team\": \"open\"}, \"notes\": {}}";

  /** A public row; the scopes cover team "open" only. */
  public record Pub(String team, String text) {}

  /** A private row. */
  public record Note(String text) {}

  /** A server-only row. */
  public record Secret(String text) {}

  /** Input of {@code putPub}. */
  public record PutPub(String id, String team, String text) {}

  /** Input of {@code putNote}: writes {@code owner}'s private tier, which only {@code owner} may. */
  public record PutNote(String owner, String id, String text) {}

  /** Input of {@code putVault}. */
  public record PutVault(String id, String text) {}

  /** Input of {@code peekNote}. */
  public record PeekNote(String owner) {}

  /** Input of {@code dump}, the test's own unrestricted read (called only by the unscoped writer). */
  public record Dump(List<String> users) {}

  static final AppDefinition APP = AppDefinition.builder(APP_NAME).schemaVersion(1)
      .table("pub", Pub.class)
      .table("notes", Note.class)
      .table("vault", Secret.class)
      .mutator("putPub", PutPub.class, (ctx, in) -> ctx.table("pub").set(in.id(), new Pub(in.team(), in.text())))
      .mutator("putNote", PutNote.class, (ctx, in) -> ctx.privateOfUser(in.owner()).table("notes").set(in.id(), new Note(in.text())))
      .mutator("putVault", PutVault.class, (ctx, in) -> ctx.serverOnly().table("vault").set(in.id(), new Secret(in.text())))
      // everything the caller may see, read through the caller view only
      .action("peek", JsonNode.class, JsonNode.class, (ctx, in) -> {
        ObjectNode out = Json.mapper().createObjectNode();
        out.put("caller", ctx.userId().orElse(null));
        out.set("pub", entries(ctx.callerView().table("pub").entries()));
        out.set("publicNotes", entries(ctx.callerView().table("notes").entries()));
        out.set("publicVault", entries(ctx.callerView().table("vault").entries()));
        if (ctx.userId().isPresent()) {
          out.set("notes", entries(ctx.callerView().privateTable("notes").entries()));
        }
        return out;
      })
      // asks for someone's notes: the caller view has no way to name another owner, only the caller's own tier
      .action("peekNote", PeekNote.class, JsonNode.class, (ctx, in) -> {
        ObjectNode out = Json.mapper().createObjectNode();
        out.put("asked", in.owner());
        out.set("notes", entries(ctx.callerView().privateTable("notes").entries()));
        return out;
      })
      .action("dump", Dump.class, JsonNode.class, (ctx, in) -> {
        ObjectNode out = Json.mapper().createObjectNode();
        out.set("pub", entries(ctx.table("pub").entries()));
        out.set("vault", entries(ctx.serverOnly().table("vault").entries()));
        ObjectNode notes = out.putObject("notes");
        for (String user : in.users()) {
          notes.set(user, entries(ctx.privateOfUser(user).table("notes").entries()));
        }
        return out;
      })
      .build();

  static ArrayNode entries(List<Entry> entries) {
    ArrayNode array = Json.mapper().createArrayNode();
    for (Entry e : entries) {
      ObjectNode o = array.addObject().put("key", e.itemKey());
      o.set("value", e.value());
    }
    return array;
  }

  // ------------------------------------------------------------------ the axes

  /** The principals (rows of the matrix). */
  enum Who {
    ANON("anonymous", "anon", null, null),
    A("A (alice)", "A", "alice", TestTokens.scoped("alice", SCOPES)),
    B("B (bob)", "B", "bob", TestTokens.scoped("bob", SCOPES)),
    ADMIN("admin (root)", "root", "root", TestTokens.scoped("root", SCOPES));

    final String label;
    final String tag;
    final String userId;
    final String token;

    Who(String label, String tag, String userId, String token) {
      this.label = label;
      this.tag = tag;
      this.userId = userId;
      this.token = token;
    }

    /** @return the text of this principal's own notes, or {@code null} when it has none */
    String ownPrefix() {
      return switch (this) {
        case ANON -> null;
        case A -> Cls.A_PRIVATE.canary;
        case B -> Cls.B_PRIVATE.canary;
        case ADMIN -> "ROOT-PRIVATE";
      };
    }
  }

  /** The classes of rows (columns of the matrix). */
  enum Cls {
    PUBLIC("public", "PUBLIC-OPEN", null),
    A_PRIVATE("A-private", "CANARY-A-PRIVATE", "alice"),
    B_PRIVATE("B-private", "CANARY-B-PRIVATE", "bob"),
    SERVER_ONLY("server-only", "CANARY-SERVER-ONLY", null),
    OUT_OF_SCOPE("out-of-scope", "CANARY-OUT-OF-SCOPE", null);

    final String label;
    /** The prefix of the text of every row of the class. */
    final String canary;
    /** The owner of the class's private rows. */
    final String owner;

    Cls(String label, String canary, String owner) {
      this.label = label;
      this.canary = canary;
      this.owner = owner;
    }
  }

  /** The ways data leaves the server (the third axis). */
  enum Op {
    INITIAL("initial sync"), LIVE("live poke"), PULL("HTTP pull"), REPLICACHE("Replicache pull"), ACTION("action read"),
    WRITE("mutation write");

    final String label;

    Op(String label) {
      this.label = label;
    }
  }

  static boolean visible(Who who, Cls cls) {
    return cls == Cls.PUBLIC || (cls == Cls.A_PRIVATE && who == Who.A) || (cls == Cls.B_PRIVATE && who == Who.B);
  }

  /** What the test found for one cell. */
  static final class Cell {
    String outcome;
    int checks;
    final List<String> problems = new ArrayList<>();
  }

  /** A row as some operation showed it to a principal. */
  record Row(String tier, String owner, String table, String key, JsonNode value) {
    String text() {
      return value == null ? null : value.path("text").asText(null);
    }
  }

  // ------------------------------------------------------------------ the server and the records

  @TempDir
  static Path dir;
  static SyncServer server;
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  final Map<String, Cell> cells = new LinkedHashMap<>();
  final Map<String, List<String>> extras = new LinkedHashMap<>();
  final List<String> observations = new ArrayList<>();
  final Map<Who, StringBuilder> received = new EnumMap<>(Who.class);
  final Map<Who, List<SyncTestClient>> sockets = new EnumMap<>(Who.class);
  final Map<Who, SyncTestClient> main = new EnumMap<>(Who.class);
  final Map<Who, String> ids = new EnumMap<>(Who.class);

  @BeforeAll
  static void start() {
    server = TestServers.start(dir, List.of(APP), Map.of(
        "synced-store.auth.provider", "mixed",
        "synced-store.auth.mixed.primary", "callback",
        "synced-store.auth.callback.class", TestTokens.class.getName(),
        "synced-store.auth.mixed.anonymous-scopes.pub.team", "open",
        "synced-store.admin.token", ADMIN_TOKEN));
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void noPrincipalReceivesAByteOfWhatItMayNotSee() throws Exception {
    long started = System.nanoTime();
    for (Who who : Who.values()) {
      received.put(who, new StringBuilder());
      sockets.put(who, new ArrayList<>());
      for (Cls cls : Cls.values()) {
        for (Op op : Op.values()) {
          Cell cell = new Cell();
          cell.outcome = op == Op.WRITE ? "?" : visible(who, cls) ? "visible" : "hidden";
          cells.put(key(who, cls, op), cell);
        }
      }
    }
    List<SyncTestClient> all = new ArrayList<>();
    try {
      run(all);
    } finally {
      all.forEach(SyncTestClient::close);
    }
    // every byte each principal received, errors and close reasons included
    for (Who who : Who.values()) {
      for (SyncTestClient c : sockets.get(who)) {
        synchronized (c.frames) {
          c.frames.forEach(f -> received.get(who).append("\n--- frame ").append(f));
        }
        received.get(who).append("\n--- close reason ").append(c.closeReason());
      }
    }
    audit();
    report(System.nanoTime() - started);
  }

  private void run(List<SyncTestClient> all) throws Exception {
    // the admin: root, added with permission "admin" through the admin API
    HttpResponse<String> added = admin("PUT", "users/root", "{\"permissions\": [\"admin\"]}");
    assertEquals(200, added.statusCode(), added.body());

    // ---------------------------------------------------------------- seed
    SyncTestClient writer = socket(null, all, "writer-1", "writer-group", TestTokens.user("writer"));
    writer.push("putPub", new PutPub("open-1", "open", "PUBLIC-OPEN-initial"));
    writer.push("putPub", new PutPub("open-2", "open", "PUBLIC-OPEN-leaving"));
    writer.push("putPub", new PutPub("closed-1", "closed", "CANARY-OUT-OF-SCOPE-initial"));
    writer.push("putPub", new PutPub("closed-2", "closed", "CANARY-OUT-OF-SCOPE-arriving"));
    writer.awaitConfirmed(writer.push("putVault", new PutVault("v1", "CANARY-SERVER-ONLY-initial")));
    assertEquals(List.of(), writer.failures, "the seed applies");
    // each user writes its own private tier (a mutator may write only the caller's), with its scoped token
    for (Who who : List.of(Who.A, Who.B, Who.ADMIN)) {
      try (SyncTestClient seed = socket(who, all, who.tag + "-seed", who.tag + "-seed-group", who.token)) {
        seed.awaitConfirmed(seed.push("putNote", new PutNote(who.userId, "n1", who.ownPrefix() + "-initial")));
        assertEquals(List.of(), seed.failures, who.label + " writes its own notes");
      }
    }

    // ---------------------------------------------------------------- initial sync
    for (Who who : Who.values()) {
      SyncTestClient c = socket(who, all, who.tag + "-main", who.tag + "-group", who.token);
      main.put(who, c);
      ids.put(who, c.connected.path("userId").asText());
      c.awaitUntil(() -> c.pokes > 0);
      checkView(who, Op.INITIAL, "first poke", replicaRows(who, c), frames(c, 0), phase("initial"));
      extra("initial sync: " + who.label + " sees exactly its view", c.replica.keySet().equals(expectedKeys(who, false)),
          "replica " + c.replica.keySet() + ", expected " + expectedKeys(who, false));
    }
    assertTrue(ids.get(Who.ANON).startsWith(Authentication.ANONYMOUS_PREFIX), "anonymous users get an anon- id: " + ids);
    assertEquals("alice", ids.get(Who.A));
    assertEquals("root", ids.get(Who.ADMIN));

    // first pulls (full), whose cookies the incremental pulls after the live phase continue from
    Map<Who, String> pullCookies = new EnumMap<>(Who.class);
    Map<Who, JsonNode> replicacheCookies = new EnumMap<>(Who.class);
    for (Who who : Who.values()) {
      JsonNode pulled = pull(who, null);
      pullCookies.put(who, pulled.path("cookie").asText());
      checkView(who, Op.PULL, "full pull before the live writes", pullRows(who, pulled), pulled.toString(), phase("initial"));
      JsonNode rep = replicachePull(who, null);
      replicacheCookies.put(who, rep.get("cookie"));
      checkView(who, Op.REPLICACHE, "full Replicache pull before the live writes", replicacheRows(who, rep), rep.toString(), phase("initial"));
    }

    // ---------------------------------------------------------------- live pokes
    Map<Who, Integer> liveFrom = new EnumMap<>(Who.class);
    main.forEach((who, c) -> liveFrom.put(who, c.frames.size()));
    writer.push("putPub", new PutPub("open-live", "open", "PUBLIC-OPEN-live"));
    writer.push("putPub", new PutPub("closed-live", "closed", "CANARY-OUT-OF-SCOPE-live"));
    writer.push("putPub", new PutPub("closed-1", "closed", "CANARY-OUT-OF-SCOPE-updated"));
    writer.push("putPub", new PutPub("open-2", "closed", "CANARY-OUT-OF-SCOPE-left"));
    writer.push("putPub", new PutPub("closed-2", "open", "PUBLIC-OPEN-arrived"));
    writer.awaitConfirmed(writer.push("putVault", new PutVault("v-live", "CANARY-SERVER-ONLY-live")));
    for (Who who : List.of(Who.A, Who.B, Who.ADMIN)) {
      SyncTestClient c = main.get(who);
      c.awaitConfirmed(c.push("putNote", new PutNote(who.userId, "n-live", who.ownPrefix() + "-live")));
      assertEquals(List.of(), c.failures, who.label + " writes its own notes live");
    }
    writer.awaitConfirmed(writer.push("putPub", new PutPub("sentinel", "open", "PUBLIC-OPEN-sentinel")));
    assertEquals(List.of(), writer.failures, "the live writes apply");
    for (Who who : Who.values()) {
      SyncTestClient c = main.get(who);
      c.awaitUntil(() -> c.replica.containsKey("public/pub/sentinel"));
      checkView(who, Op.LIVE, "pokes after the live writes", replicaRows(who, c), frames(c, liveFrom.get(who)),
          phase("live", "arrived", "sentinel"));
      check(who, Cls.OUT_OF_SCOPE, Op.LIVE, !c.replica.containsKey("public/pub/open-2"),
          "the row moved out of the scopes (open-2) is still in the replica: " + c.replica.get("public/pub/open-2"));
      check(who, Cls.PUBLIC, Op.LIVE, c.replica.containsKey("public/pub/closed-2"),
          "the row moved into the scopes (closed-2) did not arrive: " + c.replica.keySet());
      extra("live pokes: " + who.label + " sees exactly its view", c.replica.keySet().equals(expectedKeys(who, true)),
          "replica " + c.replica.keySet() + ", expected " + expectedKeys(who, true));
      noteForeignDeletes(who, "live pokes", frames(c, liveFrom.get(who)));
    }

    // ---------------------------------------------------------------- pulls after the live writes
    for (Who who : Who.values()) {
      JsonNode incremental = pull(who, pullCookies.get(who));
      List<Row> rows = pullRows(who, incremental);
      checkView(who, Op.PULL, "incremental pull", rows, incremental.toString(), phase("live", "arrived", "sentinel"));
      check(who, Cls.OUT_OF_SCOPE, Op.PULL, hasDelete(incremental, "pub", "open-2"),
          "the incremental pull does not delete the row moved out of the scopes: " + incremental.path("patch"));
      noteForeignDeletes(who, "incremental pull", incremental.toString());
      JsonNode full = pull(who, null);
      checkView(who, Op.PULL, "full pull after the live writes", pullRows(who, full), full.toString(),
          phase("initial", "live", "arrived", "sentinel"));

      JsonNode repIncremental = replicachePull(who, replicacheCookies.get(who));
      checkView(who, Op.REPLICACHE, "incremental Replicache pull", replicacheRows(who, repIncremental), repIncremental.toString(),
          phase("live", "arrived", "sentinel"));
      check(who, Cls.OUT_OF_SCOPE, Op.REPLICACHE, repIncremental.path("patch").toString().contains("{\"op\":\"del\",\"key\":\"pub/open-2\"}"),
          "the incremental Replicache pull does not delete pub/open-2: " + repIncremental.path("patch"));
      noteForeignDeletes(who, "incremental Replicache pull", repIncremental.toString());
      JsonNode repFull = replicachePull(who, null);
      checkView(who, Op.REPLICACHE, "full Replicache pull after the live writes", replicacheRows(who, repFull), repFull.toString(),
          phase("initial", "live", "arrived", "sentinel"));
    }

    // ---------------------------------------------------------------- action reads
    Map<Who, String> otherOwner = Map.of(Who.ANON, "alice", Who.A, "bob", Who.B, "alice", Who.ADMIN, "alice");
    for (Who who : Who.values()) {
      SyncTestClient c = main.get(who);
      int from = c.frames.size();
      c.sendRaw("{\"type\":\"action\",\"id\":\"peek-1\",\"name\":\"peek\",\"args\":{}}");
      JsonNode peek = awaitAction(c, "peek-1");
      check(who, Cls.PUBLIC, Op.ACTION, peek.path("type").asText().equals("actionResult"), "socket peek failed: " + peek);
      checkView(who, Op.ACTION, "peek over the socket", actionRows(who, peek.path("output")), frames(c, from), phase("initial", "live"));

      from = c.frames.size();
      c.sendRaw("{\"type\":\"action\",\"id\":\"peek-2\",\"name\":\"peekNote\",\"args\":{\"owner\":\"" + otherOwner.get(who) + "\"}}");
      JsonNode peekNote = awaitAction(c, "peek-2");
      checkView(who, Op.ACTION, "peekNote{" + otherOwner.get(who) + "} over the socket", actionRows(who, peekNote.path("output")),
          frames(c, from), ownOnly("initial", "live"));

      HttpResponse<String> httpPeek = post(who, "/v1/apps/" + APP_NAME + "/instances/" + INSTANCE + "/actions/peek", "{}", who.token);
      check(who, Cls.PUBLIC, Op.ACTION, httpPeek.statusCode() == 200, "HTTP peek: " + httpPeek.statusCode() + " " + httpPeek.body());
      checkView(who, Op.ACTION, "peek over HTTP", actionRows(who, SyncTestClient.read(httpPeek.body()).path("output")),
          httpPeek.body(), phase("initial", "live"));

      HttpResponse<String> httpPeekNote = post(who, "/v1/apps/" + APP_NAME + "/instances/" + INSTANCE + "/actions/peekNote",
          "{\"owner\": \"" + otherOwner.get(who) + "\"}", who.token);
      checkView(who, Op.ACTION, "peekNote{" + otherOwner.get(who) + "} over HTTP (" + httpPeekNote.statusCode() + ")",
          actionRows(who, SyncTestClient.read(httpPeekNote.body()).path("output")), httpPeekNote.body(), ownOnly("initial", "live"));
    }

    // ---------------------------------------------------------------- mutation writes
    Map<Who, List<Attempt>> socketAttempts = new EnumMap<>(Who.class);
    Map<Who, List<Attempt>> httpAttempts = new EnumMap<>(Who.class);
    Map<String, String> outcomes = new LinkedHashMap<>();
    for (Who who : Who.values()) {
      SyncTestClient c = main.get(who);
      int from = c.frames.size();
      List<Attempt> attempts = attempts(who, "", ids.get(who));
      socketAttempts.put(who, attempts);
      Map<Long, Attempt> byId = new LinkedHashMap<>();
      long last = 0;
      for (Attempt a : attempts) {
        last = c.push(a.mutator(), a.args());
        byId.put(last, a);
      }
      c.awaitConfirmed(last);
      for (Map.Entry<Long, Attempt> e : byId.entrySet()) {
        JsonNode failure = c.failures.stream().filter(f -> f.path("id").asLong() == e.getKey()).findFirst().orElse(null);
        judge(who, e.getValue(), "socket", failure == null ? null : failure.path("error").path("code").asText(), failure, outcomes);
      }
      for (Attempt a : attempts) {
        if (a.mustApply()) {
          String k = a.mutator().equals("putPub") ? "public/pub/" + a.id() : "private/notes/" + a.id();
          c.awaitUntil(() -> c.replica.containsKey(k));
        }
      }
      String socketBytes = frames(c, from);

      String group = who.tag + "-http-group";
      List<Attempt> overHttp = attempts(who, "-http", who == Who.ANON ? Authentication.anonymousUserId(group) : who.userId);
      httpAttempts.put(who, overHttp);
      ObjectNode push = Json.mapper().createObjectNode().put("clientGroupId", group).put("clientId", who.tag + "-http");
      ArrayNode mutations = push.putArray("mutations");
      for (int i = 0; i < overHttp.size(); i++) {
        ObjectNode m = mutations.addObject().put("id", i + 1).put("name", overHttp.get(i).mutator()).put("timestamp", 1);
        m.set("args", Json.mapper().valueToTree(overHttp.get(i).args()));
      }
      HttpResponse<String> pushed = post(who, "/v1/apps/" + APP_NAME + "/instances/" + INSTANCE + "/push", push.toString(), who.token);
      assertEquals(200, pushed.statusCode(), who.label + " HTTP push: " + pushed.body());
      JsonNode results = SyncTestClient.read(pushed.body()).path("results");
      for (int i = 0; i < overHttp.size(); i++) {
        JsonNode r = results.get(i);
        boolean applied = r != null && r.path("status").asText().equals("applied");
        judge(who, overHttp.get(i), "HTTP", applied ? null : r == null ? "NO RESULT" : r.path("code").asText(), applied ? null : r, outcomes);
      }
      for (Cls cls : Cls.values()) {
        if (!visible(who, cls)) {
          checkAbsent(who, cls, Op.WRITE, "socket frames of the writes", socketBytes);
          checkAbsent(who, cls, Op.WRITE, "HTTP push response", pushed.body());
        }
      }
    }
    for (Who who : Who.values()) {
      for (Cls cls : Cls.values()) {
        Set<String> codes = new TreeSet<>();
        for (String transport : List.of("socket", "HTTP")) {
          String o = outcomes.get(who + "/" + cls + "/" + transport);
          if (o != null) {
            codes.addAll(List.of(o.split(",")));
          }
        }
        cells.get(key(who, cls, Op.WRITE)).outcome = String.join("/", codes);
      }
    }

    // refused writes left nothing: the test's unrestricted read, as the unscoped writer
    List<String> users = List.of("alice", "bob", "root", ids.get(Who.ANON), Authentication.anonymousUserId("anon-http-group"));
    HttpResponse<String> dumped = post(null, "/v1/apps/" + APP_NAME + "/instances/" + INSTANCE + "/actions/dump",
        Json.mapper().writeValueAsString(new Dump(users)), TestTokens.user("writer"));
    assertEquals(200, dumped.statusCode(), dumped.body());
    JsonNode dump = SyncTestClient.read(dumped.body()).path("output");
    Set<String> stored = new TreeSet<>(dump.findValuesAsText("text"));
    for (Who who : Who.values()) {
      for (Attempt a : concat(socketAttempts.get(who), httpAttempts.get(who))) {
        if (a.cls() != null) {
          check(who, a.cls(), Op.WRITE, stored.contains(a.text()) == a.mustApply(),
              (a.mustApply() ? "applied write missing from the store: " : "refused write found in the store: ") + a.text());
        } else {
          extra("writes: " + who.label + " " + a.what(), stored.contains(a.text()) == a.mustApply(),
              (a.mustApply() ? "missing from the store: " : "refused but stored: ") + a.text());
        }
      }
    }
    extra("writes: targets of refused writes unchanged", text(dump.path("pub"), "closed-1").equals("CANARY-OUT-OF-SCOPE-updated")
        && text(dump.path("vault"), "v1").equals("CANARY-SERVER-ONLY-initial")
        && text(dump.path("notes").path("alice"), "n1").equals("CANARY-A-PRIVATE-initial")
        && text(dump.path("notes").path("bob"), "n1").equals("CANARY-B-PRIVATE-initial"), "dump: " + dump);
    extra("writes: no refused write anywhere in the store", stored.stream().noneMatch(t -> t.startsWith("REFUSED-")),
        "stored: " + stored.stream().filter(t -> t.startsWith("REFUSED-")).toList());
    // and what unscoped pulls show: the public tier, and alice's and bob's own private tiers
    for (String user : List.of("writer", "alice", "bob")) {
      HttpResponse<String> r = post(null, "/v1/apps/" + APP_NAME + "/instances/" + INSTANCE + "/pull",
          "{\"clientGroupId\": \"unscoped-" + user + "\"}", TestTokens.user(user));
      extra("writes: an unscoped pull as " + user + " shows no refused write", r.statusCode() == 200 && !r.body().contains("REFUSED-")
          && r.body().contains(user.equals("writer") ? "CANARY-OUT-OF-SCOPE-updated" : user.equals("alice") ? "APPLIED-A-own" : "APPLIED-B-own"),
          r.statusCode() + " " + r.body());
      if (user.equals("writer")) {
        JsonNode root = pullRowsByKey(SyncTestClient.read(r.body())).get("public/$users/root");
        extra("admin: root is a member with permission admin", root != null && root.path("permissions").toString().equals("[\"admin\"]"),
            "$users/root: " + root);
      }
    }

    // ---------------------------------------------------------------- error paths: more bytes to search
    for (Who who : Who.values()) {
      SyncTestClient c = main.get(who);
      c.sendRaw("{\"type\":\"action\",\"id\":\"bad-1\",\"name\":\"nope\",\"args\":{}}");
      JsonNode unknown = awaitAction(c, "bad-1");
      extra("errors: " + who.label + " unknown action", unknown.path("type").asText().equals("actionFailed"), unknown.toString());
      c.sendRaw("{\"type\":\"action\",\"id\":\"bad-2\",\"name\":\"peekNote\",\"args\":{\"owner\": 7, \"id\": \"n1\"}}");
      awaitAction(c, "bad-2");
      post(who, "/v1/apps/" + APP_NAME + "/instances/" + INSTANCE + "/pull", "{\"clientGroupId\": \"" + who.tag
          + "-pull-group\", \"cookie\": \"garbage:1\"}", who.token);
      post(who, "/replicache/" + APP_NAME + "/" + INSTANCE + "/pull", "{\"pullVersion\": 1, \"clientGroupID\": \"" + who.tag
          + "-rep-group\", \"cookie\": \"n1\", \"profileID\": \"p\", \"schemaVersion\": \"1\"}", who.token);
      post(who, "/v1/apps/" + APP_NAME + "/instances/" + INSTANCE + "/actions/peek", "not json", who.token);
      // a token of another user on the connection: refused, the session closed with a reason
      c.send(new ClientMessage.Auth(TestTokens.user("mallory")));
      long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (!c.isClosed() && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      extra("errors: " + who.label + " closed on another user's token", c.isClosed(), "still open after 5 s");
    }
  }

  // ------------------------------------------------------------------ writes

  /**
   * One write a principal tries.
   *
   * @param cls the class of the row written, or {@code null} for a check outside the matrix
   * @param what what it tries, for messages
   * @param codes the codes it may be refused with; empty: it must apply
   */
  record Attempt(Cls cls, String what, String mutator, Object args, String id, String text, Set<String> codes) {
    boolean mustApply() {
      return codes.isEmpty();
    }
  }

  /**
   * Writes of every class by {@code who}. Refused writes target existing rows by id, so an error
   * that echoed the row's value would leak a canary; their own texts are not canaries.
   */
  private static List<Attempt> attempts(Who who, String suffix, String ownId) {
    String t = who.tag;
    Set<String> scope = Set.of("SCOPE_VIOLATION");
    Set<String> tierOrScope = Set.of("TIER_VIOLATION", "SCOPE_VIOLATION");
    List<Attempt> list = new ArrayList<>();
    list.add(new Attempt(Cls.PUBLIC, "public row in scope", "putPub", new PutPub("w-" + t + suffix, "open", "APPLIED-" + t + "-public" + suffix),
        "w-" + t + suffix, "APPLIED-" + t + "-public" + suffix, Set.of()));
    for (Cls cls : List.of(Cls.A_PRIVATE, Cls.B_PRIVATE)) {
      if (cls.owner.equals(who.userId)) {
        String text = "APPLIED-" + t + "-own" + suffix;
        list.add(new Attempt(cls, "own note", "putNote", new PutNote(cls.owner, "w-" + t + suffix, text), "w-" + t + suffix, text, Set.of()));
      } else {
        String text = "REFUSED-" + t + "-" + cls.label + suffix;
        list.add(new Attempt(cls, "overwrite " + cls.owner + "'s n1", "putNote", new PutNote(cls.owner, "n1", text), "n1", text, tierOrScope));
      }
    }
    String vault = "REFUSED-" + t + "-vault" + suffix;
    list.add(new Attempt(Cls.SERVER_ONLY, "overwrite vault v1", "putVault", new PutVault("v1", vault), "v1", vault, scope));
    String vaultNew = "REFUSED-" + t + "-vault-new" + suffix;
    list.add(new Attempt(Cls.SERVER_ONLY, "new vault row", "putVault", new PutVault("w-" + t + suffix, vaultNew), "w-" + t + suffix, vaultNew, scope));
    String stay = "REFUSED-" + t + "-oos-stay" + suffix;
    list.add(new Attempt(Cls.OUT_OF_SCOPE, "overwrite closed-1", "putPub", new PutPub("closed-1", "closed", stay), "closed-1", stay, scope));
    String into = "REFUSED-" + t + "-oos-into" + suffix;
    list.add(new Attempt(Cls.OUT_OF_SCOPE, "pull closed-1 into the scopes", "putPub", new PutPub("closed-1", "open", into), "closed-1", into, scope));
    String fresh = "REFUSED-" + t + "-oos-new" + suffix;
    list.add(new Attempt(Cls.OUT_OF_SCOPE, "new closed row", "putPub", new PutPub("w-" + t + "-closed" + suffix, "closed", fresh),
        "w-" + t + "-closed" + suffix, fresh, scope));
    if (who == Who.ANON) {
      String own = "REFUSED-anon-own" + suffix;
      list.add(new Attempt(null, "own notes (not in the anonymous scopes)", "putNote", new PutNote(ownId, "w-anon" + suffix, own),
          "w-anon" + suffix, own, scope));
    } else if (who == Who.ADMIN) {
      String own = "APPLIED-root-own" + suffix;
      list.add(new Attempt(null, "own notes", "putNote", new PutNote("root", "w-root" + suffix, own), "w-root" + suffix, own, Set.of()));
    }
    return list;
  }

  private void judge(Who who, Attempt a, String transport, String code, JsonNode failure, Map<String, String> outcomes) {
    String outcome = code == null ? "applied" : "refused " + code;
    boolean ok = a.mustApply() ? code == null : code != null && a.codes().contains(code);
    String expected = a.mustApply() ? "applied" : "refused " + a.codes();
    if (a.cls() == null) {
      extra("writes: " + who.label + " " + a.what() + " (" + transport + ")", ok, outcome + ", expected " + expected + ": " + failure);
      return;
    }
    check(who, a.cls(), Op.WRITE, ok, a.what() + " over " + transport + ": " + outcome + ", expected " + expected + ": " + failure);
    outcomes.merge(who + "/" + a.cls() + "/" + transport, outcome, (x, y) -> x.equals(y) ? x : x + "," + y);
  }

  // ------------------------------------------------------------------ views

  /** @return the markers a view of {@code phases} must show: public ones, and the viewer's own notes */
  private static Map<String, List<String>> phase(String... phases) {
    Map<String, List<String>> m = new LinkedHashMap<>();
    List<String> pub = new ArrayList<>();
    List<String> own = new ArrayList<>();
    for (String p : phases) {
      pub.add("PUBLIC-OPEN-" + p);
      if (p.equals("initial") || p.equals("live")) {
        own.add(p);
      }
    }
    m.put("public", pub);
    m.put("own", own);
    return m;
  }

  private static Map<String, List<String>> ownOnly(String... phases) {
    return Map.of("public", List.of(), "own", List.of(phases));
  }

  /**
   * Checks every class for one view of {@code who}: visible classes show their markers, and the
   * canaries of the others are nowhere in {@code bytes}.
   */
  private void checkView(Who who, Op op, String where, List<Row> rows, String bytes, Map<String, List<String>> markers) {
    Set<String> texts = rows.stream().map(Row::text).filter(java.util.Objects::nonNull).collect(Collectors.toCollection(TreeSet::new));
    for (Cls cls : Cls.values()) {
      if (visible(who, cls)) {
        List<String> wanted = cls == Cls.PUBLIC ? markers.get("public")
            : markers.get("own").stream().map(p -> cls.canary + "-" + p).toList();
        for (String m : wanted) {
          check(who, cls, op, texts.contains(m), where + ": " + m + " missing; got " + texts);
        }
      } else {
        checkAbsent(who, cls, op, where, bytes);
        switch (cls) {
          case SERVER_ONLY -> check(who, cls, op, rows.stream().noneMatch(r -> r.table().equals("vault")
              || !(r.tier().equals("public") || r.tier().equals("private"))), where + ": server-only rows sent: " + rows);
          case OUT_OF_SCOPE -> check(who, cls, op, rows.stream().noneMatch(r -> r.table().equals("pub")
              && "closed".equals(r.value().path("team").asText(null))), where + ": rows outside the scopes sent: " + rows);
          case A_PRIVATE, B_PRIVATE -> check(who, cls, op, rows.stream().noneMatch(r -> r.tier().equals("private")
              && cls.owner.equals(r.owner())), where + ": private rows of " + cls.owner + " sent: " + rows);
          default -> { }
        }
      }
    }
    if (who == Who.ADMIN) {
      for (String p : markers.get("own")) {
        extra(op.label + ": admin sees its own notes (" + where + ")", texts.contains("ROOT-PRIVATE-" + p), "ROOT-PRIVATE-" + p + " missing; got " + texts);
      }
    }
    if (who != Who.ADMIN) {
      extra(op.label + ": " + who.label + " never gets the admin's notes (" + where + ")", !bytes.contains("ROOT-PRIVATE"),
          excerpt(bytes, "ROOT-PRIVATE"));
    }
  }

  private void checkAbsent(Who who, Cls cls, Op op, String where, String bytes) {
    check(who, cls, op, !bytes.contains(cls.canary), where + ": " + cls.canary + " leaked: " + excerpt(bytes, cls.canary));
  }

  private Set<String> expectedKeys(Who who, boolean afterLive) {
    Set<String> keys = new TreeSet<>(afterLive ? List.of("public/pub/open-1", "public/pub/open-live", "public/pub/closed-2", "public/pub/sentinel")
        : List.of("public/pub/open-1", "public/pub/open-2"));
    if (who != Who.ANON) {
      keys.add("private/notes/n1");
      if (afterLive) {
        keys.add("private/notes/n-live");
      }
    }
    return keys;
  }

  private static List<Row> replicaRows(Who who, SyncTestClient c) {
    List<Row> rows = new ArrayList<>();
    c.replica.forEach((k, v) -> {
      String[] parts = k.split("/", 3);
      rows.add(new Row(parts[0], who.userId, parts[1], parts[2], v));
    });
    return rows;
  }

  private static List<Row> pullRows(Who who, JsonNode pulled) {
    List<Row> rows = new ArrayList<>();
    for (JsonNode op : pulled.path("patch")) {
      if (op.path("op").asText().equals("put")) {
        rows.add(new Row(op.path("tier").asText(), who.userId, op.path("table").asText(), op.path("itemKey").asText(), op.path("value")));
      }
    }
    return rows;
  }

  private static Map<String, JsonNode> pullRowsByKey(JsonNode pulled) {
    Map<String, JsonNode> rows = new LinkedHashMap<>();
    for (JsonNode op : pulled.path("patch")) {
      if (op.path("op").asText().equals("put")) {
        rows.put(op.path("tier").asText() + "/" + op.path("table").asText() + "/" + op.path("itemKey").asText(), op.path("value"));
      }
    }
    return rows;
  }

  private static boolean hasDelete(JsonNode pulled, String table, String key) {
    for (JsonNode op : pulled.path("patch")) {
      if (op.path("op").asText().equals("del") && op.path("table").asText().equals(table) && op.path("itemKey").asText().equals(key)) {
        return true;
      }
    }
    return false;
  }

  /** Replicache keys: {@code T/K} public, {@code $$pu/<user>/T/K} that user's private entry; anything else is a tier of its own. */
  private static List<Row> replicacheRows(Who who, JsonNode pulled) {
    List<Row> rows = new ArrayList<>();
    for (JsonNode op : pulled.path("patch")) {
      if (!op.path("op").asText().equals("put")) {
        continue;
      }
      String key = op.path("key").asText();
      if (key.startsWith("$$pu/")) {
        String[] parts = key.split("/", 4);
        rows.add(new Row("private", parts[1], parts[2], parts[3], op.path("value")));
      } else {
        String[] parts = key.split("/", 2);
        rows.add(parts.length == 2 ? new Row("public", null, parts[0], parts[1], op.path("value"))
            : new Row("unknown", null, key, key, op.path("value")));
      }
    }
    return rows;
  }

  private static List<Row> actionRows(Who who, JsonNode output) {
    List<Row> rows = new ArrayList<>();
    for (String field : List.of("pub", "publicNotes", "publicVault")) {
      for (JsonNode e : output.path(field)) {
        rows.add(new Row("public", null, field.equals("pub") ? "pub" : field.equals("publicNotes") ? "notes" : "vault",
            e.path("key").asText(), e.path("value")));
      }
    }
    for (JsonNode e : output.path("notes")) {
      rows.add(new Row("private", who.userId, "notes", e.path("key").asText(), e.path("value")));
    }
    return rows;
  }

  /** Records, as an observation, deletes of rows the principal never saw: they reveal keys, not values. */
  private void noteForeignDeletes(Who who, String where, String bytes) {
    List<String> foreign = new ArrayList<>();
    for (String key : List.of("closed-1", "closed-live")) {
      if (bytes.contains("\"" + key + "\"") || bytes.contains("pub/" + key + "\"")) {
        foreign.add(key);
      }
    }
    if (!foreign.isEmpty()) {
      observations.add(who.label + ", " + where + ": deletes of the keys " + foreign
          + " of out-of-scope rows it never saw (their keys reach it, never their values)");
    }
  }

  // ------------------------------------------------------------------ I/O, recorded

  private SyncTestClient socket(Who who, List<SyncTestClient> all, String clientId, String group, String token) {
    SyncTestClient c = SyncTestClient.open(server.port(), APP_NAME, INSTANCE, clientId);
    all.add(c);
    if (who != null) {
      sockets.get(who).add(c);
    }
    c.hello(group, null, 1, token);
    c.awaitConnected();
    return c;
  }

  private static JsonNode awaitAction(SyncTestClient c, String id) {
    JsonNode[] found = new JsonNode[1];
    c.awaitUntil(() -> {
      synchronized (c.frames) {
        for (String f : c.frames) {
          JsonNode m = SyncTestClient.read(f);
          if (m.path("id").asText().equals(id) && m.path("type").asText().startsWith("action")) {
            found[0] = m;
            return true;
          }
        }
      }
      return false;
    });
    return found[0];
  }

  private static String frames(SyncTestClient c, int from) {
    synchronized (c.frames) {
      return String.join("\n", c.frames.subList(from, c.frames.size()));
    }
  }

  private JsonNode pull(Who who, String cookie) throws Exception {
    ObjectNode body = Json.mapper().createObjectNode().put("clientGroupId", who.tag + "-pull-group");
    if (cookie != null) {
      body.put("cookie", cookie);
    }
    HttpResponse<String> r = post(who, "/v1/apps/" + APP_NAME + "/instances/" + INSTANCE + "/pull", body.toString(), who.token);
    assertEquals(200, r.statusCode(), who.label + " pull: " + r.body());
    return SyncTestClient.read(r.body());
  }

  private JsonNode replicachePull(Who who, JsonNode cookie) throws Exception {
    ObjectNode body = Json.mapper().createObjectNode().put("pullVersion", 1).put("clientGroupID", who.tag + "-rep-group")
        .put("profileID", "p").put("schemaVersion", "1");
    body.set("cookie", cookie == null ? Json.mapper().nullNode() : cookie);
    HttpResponse<String> r = post(who, "/replicache/" + APP_NAME + "/" + INSTANCE + "/pull", body.toString(), who.token);
    assertEquals(200, r.statusCode(), who.label + " Replicache pull: " + r.body());
    return SyncTestClient.read(r.body());
  }

  /** POSTs {@code body}; what comes back (status, headers, body) is recorded as received by {@code who} (none: the writer). */
  private HttpResponse<String> post(Who who, String path, String body, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
        .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    if (who != null) {
      received.get(who).append("\n--- HTTP POST ").append(path).append(" -> ").append(r.statusCode()).append(' ')
          .append(r.headers().map()).append('\n').append(r.body());
    }
    return r;
  }

  private static HttpResponse<String> admin(String method, String path, String body) throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/admin/v1/apps/" + APP_NAME
            + "/instances/" + INSTANCE + "/" + path))
        .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + ADMIN_TOKEN)
        .method(method, HttpRequest.BodyPublishers.ofString(body)).build();
    return http.send(request, HttpResponse.BodyHandlers.ofString());
  }

  // ------------------------------------------------------------------ bookkeeping and the report

  private static String key(Who who, Cls cls, Op op) {
    return who + "/" + cls + "/" + op;
  }

  private void check(Who who, Cls cls, Op op, boolean ok, String what) {
    Cell cell = cells.get(key(who, cls, op));
    cell.checks++;
    if (!ok) {
      cell.problems.add(what);
    }
  }

  private void extra(String name, boolean ok, String what) {
    List<String> problems = extras.computeIfAbsent(name, n -> new ArrayList<>());
    if (!ok) {
      problems.add(what);
    }
  }

  /** The last line of defence: every byte each principal received, searched for what it may never get. */
  private void audit() {
    Map<Who, List<String>> forbidden = Map.of(
        Who.ANON, List.of(Cls.A_PRIVATE.canary, Cls.B_PRIVATE.canary, Cls.SERVER_ONLY.canary, Cls.OUT_OF_SCOPE.canary, "ROOT-PRIVATE"),
        Who.A, List.of(Cls.B_PRIVATE.canary, Cls.SERVER_ONLY.canary, Cls.OUT_OF_SCOPE.canary, "ROOT-PRIVATE"),
        Who.B, List.of(Cls.A_PRIVATE.canary, Cls.SERVER_ONLY.canary, Cls.OUT_OF_SCOPE.canary, "ROOT-PRIVATE"),
        Who.ADMIN, List.of(Cls.A_PRIVATE.canary, Cls.B_PRIVATE.canary, Cls.SERVER_ONLY.canary, Cls.OUT_OF_SCOPE.canary));
    for (Who who : Who.values()) {
      String bytes = received.get(who).toString();
      for (String canary : forbidden.get(who)) {
        extra("audit: all " + bytes.length() + " chars " + who.label + " received hold no " + canary, !bytes.contains(canary),
            excerpt(bytes, canary));
      }
      // system tables are outside every scope: not even the membership rows (root's "admin") reach a scoped principal
      extra("audit: " + who.label + " received no $users row", !bytes.contains("$users"), excerpt(bytes, "$users"));
    }
  }

  private void report(long nanos) {
    StringBuilder out = new StringBuilder("\n=== VisibilityMatrixTest: principal x row class x operation (")
        .append(Duration.ofNanos(nanos).toMillis()).append(" ms) ===\n");
    out.append(String.format("%-13s %-16s", "principal", "operation"));
    for (Cls cls : Cls.values()) {
      out.append(String.format(" | %-26s", cls.label));
    }
    out.append('\n');
    List<String> failures = new ArrayList<>();
    for (Who who : Who.values()) {
      for (Op op : Op.values()) {
        out.append(String.format("%-13s %-16s", who.label, op.label));
        for (Cls cls : Cls.values()) {
          Cell cell = cells.get(key(who, cls, op));
          if (cell.checks == 0) {
            cell.problems.add("nothing was checked");
          }
          String shown = cell.outcome.replace("_VIOLATION", "") + " (" + cell.checks + ")" + (cell.problems.isEmpty() ? "" : " FAIL");
          out.append(String.format(" | %-26s", shown));
          cell.problems.forEach(p -> failures.add(who.label + " x " + cls.label + " x " + op.label + ": " + p));
        }
        out.append('\n');
      }
    }
    out.append("(n) = checks in the cell; visible/hidden: what the principal gets; applied/refused CODE: its own writes of that class\n");
    int extraChecks = 0;
    for (Map.Entry<String, List<String>> e : extras.entrySet()) {
      extraChecks++;
      e.getValue().forEach(p -> failures.add(e.getKey() + ": " + p));
    }
    out.append(extraChecks).append(" further checks (exact replica keys, the admin's own notes, close on a foreign token, the audit of all bytes)")
        .append(extras.values().stream().allMatch(List::isEmpty) ? ", all passed\n" : "\n");
    observations.stream().distinct().forEach(o -> out.append("observation: ").append(o).append('\n'));
    failures.forEach(f -> out.append("FAILED ").append(f).append('\n'));
    System.out.println(out);
    if (!failures.isEmpty()) {
      fail(failures.size() + " failed checks:\n" + String.join("\n", failures));
    }
  }

  private static String excerpt(String bytes, String needle) {
    int at = bytes.indexOf(needle);
    if (at < 0) {
      return "";
    }
    return "…" + bytes.substring(Math.max(0, at - 200), Math.min(bytes.length(), at + needle.length() + 100)) + "…";
  }

  private static String text(JsonNode entries, String key) {
    for (JsonNode e : entries) {
      if (e.path("key").asText().equals(key)) {
        return e.path("value").path("text").asText();
      }
    }
    return "";
  }

  private static <T> List<T> concat(List<T> a, List<T> b) {
    List<T> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }
}
