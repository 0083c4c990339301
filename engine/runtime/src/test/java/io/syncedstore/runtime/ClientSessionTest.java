package io.syncedstore.runtime;

import static io.syncedstore.runtime.TestApp.boom;
import static io.syncedstore.runtime.TestApp.del;
import static io.syncedstore.runtime.TestApp.json;
import static io.syncedstore.runtime.TestApp.note;
import static io.syncedstore.runtime.TestApp.put;
import static io.syncedstore.runtime.TestApp.putArgs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.runtime.AppInstance.PullResult;
import io.syncedstore.runtime.AppInstance.PushResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link ClientSession} driven through a real {@link AppInstance} (persistence testkit journal):
 * what a connected client's socket receives (connected, initial poke, chained pokes, failure
 * notices), what each user may see, the bounded outbound queue and its catch-up, client ownership
 * and superseding, passivation with connected clients, and what sockets hear when the instance stops.
 *
 * <p>The socket is a {@link TestProbe}; a test acknowledges a {@link SocketOut.Text} with
 * {@link ClientSession.Delivered} as the gateway does once it has written it, or deliberately
 * does not, to play a slow client.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith({TestKitJUnit5Extension.class, LogCapturingExtension.class})
class ClientSessionTest {
  /** How long a test waits for a message that must come: a bound against hanging, not a speed claim. */
  private static final Duration ANSWER = Duration.ofSeconds(5);
  /** How long a test listens for a message that must not come. */
  private static final Duration QUIET = Duration.ofMillis(200);
  private static final AtomicInteger INSTANCES = new AtomicInteger();

  /**
   * An app writing each tier: {@code put} public, {@code mixed} one key into the public, the caller's
   * private and the server-only tier at once, {@code secret} server-only only, {@code unnote}
   * deletes the caller's private note.
   */
  static final AppDefinition VIS = AppDefinition.builder("vis")
      .table("kv", JsonNode.class)
      .table("notes", JsonNode.class)
      .table("secrets", JsonNode.class)
      .mutator("put", TestApp.Put.class, (ctx, in) -> ctx.table("kv").set(in.key(), in.value()))
      .mutator("mixed", TestApp.Put.class, (ctx, in) -> {
        String user = ctx.userId().orElseThrow();
        ctx.table("kv").set(in.key(), in.value().asText() + "-pub");
        ctx.privateOfUser(user).table("notes").set(in.key(), in.value().asText() + "-priv-" + user);
        ctx.serverOnly().table("secrets").set(in.key(), in.value().asText() + "-secret");
      })
      .mutator("secret", TestApp.Put.class, (ctx, in) -> ctx.serverOnly().table("secrets").set(in.key(), in.value()))
      .mutator("unnote", TestApp.Key.class, (ctx, in) -> ctx.privateOfUser(ctx.userId().orElseThrow()).table("notes").delete(in.key()))
      .build();

  @JUnit5TestKit
  ActorTestKit testKit = new JUnit5TestKitBuilder().withCustomConfig(TestApp.persistenceConfig("")).build();

  private final PersistenceTestKit journal = PersistenceTestKit.create(testKit.system());
  private InstanceId id;
  private JournalProbe probe;

  @BeforeEach
  void freshInstanceId() {
    id = new InstanceId(TestApp.NAME, "cs-" + INSTANCES.incrementAndGet());
    probe = new JournalProbe(id.persistenceId());
    journal.withPolicy(probe);
  }

  @AfterEach
  void resetJournal() {
    probe.release();
    journal.resetPolicy();
  }

  // ---------------------------------------------------------------------------------------------
  // helpers

  private static RuntimeSettings settings(int maxQueued, Duration idleTimeout) {
    return new RuntimeSettings(1000, 1, 2, idleTimeout, 10_000, 100_000, 1000, Duration.ofSeconds(10), maxQueued, 16);
  }

  private static RuntimeSettings settings(int maxQueued) {
    return settings(maxQueued, Duration.ofMinutes(2));
  }

  private ActorRef<AppInstance.Command> spawn(AppDefinition app, RuntimeSettings settings) {
    return testKit.spawn(AppInstance.create(new InstanceId(app.name(), id.instanceId()), app, settings));
  }

  private ActorRef<AppInstance.Command> spawn(int maxQueued) {
    return spawn(TestApp.APP, settings(maxQueued));
  }

  private static MutationRequest mutation(long id, String name, String key, Object value) {
    return new MutationRequest(id, name, putArgs(key, value), TestApp.TS + id);
  }

  private static JsonNode parse(String json) {
    try {
      return Json.mapper().readTree(json);
    } catch (JsonProcessingException e) {
      throw new AssertionError("not JSON: " + json, e);
    }
  }

  private static String type(JsonNode message) {
    return message.path("type").asText();
  }

  private static boolean isPoke(JsonNode message) {
    return "poke".equals(type(message));
  }

  private static String text(JsonNode node) {
    return node == null || node.isNull() ? null : node.asText();
  }

  /** @return {@code clientId}'s entry in the poke's lastMutationIDChanges, or -1 */
  private static long lmid(JsonNode poke, String clientId) {
    return poke.path("lastMutationIDChanges").path(clientId).asLong(-1);
  }

  private static List<PatchOp> ops(JsonNode poke) {
    List<PatchOp> ops = new ArrayList<>();
    for (JsonNode op : poke.get("patch")) {
      try {
        ops.add(Json.mapper().treeToValue(op, PatchOp.class));
      } catch (JsonProcessingException e) {
        throw new AssertionError("not a patch op: " + op, e);
      }
    }
    return ops;
  }

  private static String replicaKey(PatchOp op) {
    return op.tier() + "/" + op.table() + "/" + op.itemKey();
  }

  /** Applies {@code ops} to {@code replica} (key: tier/table/itemKey, value: the value's JSON). */
  private static void applyOps(Map<String, String> replica, List<PatchOp> ops) {
    for (PatchOp op : ops) {
      switch (op.op()) {
        case "clear" -> replica.clear();
        case "put" -> replica.put(replicaKey(op), op.value().toString());
        case "del" -> replica.remove(replicaKey(op));
        default -> fail("unknown op " + op);
      }
    }
  }

  /** @return what a client holds after applying {@code patch} (which must start with clear) to anything */
  private static Map<String, String> stateOf(List<PatchOp> patch) {
    assertEquals(PatchOp.CLEAR, patch.get(0), () -> "a full state starts with clear: " + patch);
    Map<String, String> state = new TreeMap<>();
    applyOps(state, patch);
    return state;
  }

  /** Where commands for the instance under test go: straight to it, or through a registry. */
  private interface Target {
    void tell(AppInstance.Command command);
  }

  private static Target direct(ActorRef<AppInstance.Command> instance) {
    return instance::tell;
  }

  private PushResult pushDirect(Target instance, String group, String client, String user, MutationRequest... mutations) {
    TestProbe<StatusReply<PushResult>> reply = testKit.createTestProbe();
    instance.tell(new AppInstance.Push(group, client, user, List.of(mutations), reply.ref()));
    StatusReply<PushResult> r = reply.receiveMessage(ANSWER);
    assertTrue(r.isSuccess(), () -> "push failed: " + r);
    return r.getValue();
  }

  private PullResult pull(Target instance, String group, String user) {
    TestProbe<StatusReply<PullResult>> reply = testKit.createTestProbe();
    instance.tell(new AppInstance.Pull(group, null, user, reply.ref()));
    StatusReply<PullResult> r = reply.receiveMessage(ANSWER);
    assertTrue(r.isSuccess(), () -> "pull failed: " + r);
    return r.getValue();
  }

  private ClientSession.Stats stats(ActorRef<ClientSession.Command> session) {
    TestProbe<ClientSession.Stats> reply = testKit.createTestProbe();
    session.tell(new ClientSession.GetStats(reply.ref()));
    return reply.receiveMessage(ANSWER);
  }

  /** @return the error message of a refused connect */
  private String connectRefused(Target instance, String group, String clientId, String user, int schemaVersion,
      TestProbe<SocketOut> socket) {
    TestProbe<StatusReply<ActorRef<ClientSession.Command>>> reply = testKit.createTestProbe();
    instance.tell(new AppInstance.Connect(group, clientId, user, null, schemaVersion, socket.ref(), reply.ref()));
    StatusReply<ActorRef<ClientSession.Command>> r = reply.receiveMessage(ANSWER);
    assertTrue(r.isError(), () -> "expected the connect to be refused, got " + r);
    return r.getError().getMessage();
  }

  private Client connect(Target instance, String group, String clientId, String user, String cookie, boolean autoAck) {
    return connect(instance, group, clientId, user, cookie, autoAck, 1);
  }

  private Client connect(Target instance, String group, String clientId, String user, String cookie, boolean autoAck,
      int schemaVersion) {
    Client client = new Client(instance, group, clientId, user, cookie, autoAck);
    TestProbe<StatusReply<ActorRef<ClientSession.Command>>> reply = testKit.createTestProbe();
    instance.tell(new AppInstance.Connect(group, clientId, user, cookie, schemaVersion, client.socket.ref(), reply.ref()));
    StatusReply<ActorRef<ClientSession.Command>> r = reply.receiveMessage(ANSWER);
    assertTrue(r.isSuccess(), () -> "connect failed: " + r);
    client.session = r.getValue();
    return client;
  }

  /**
   * One connected client as its socket sees it: every message read is recorded; every poke is
   * applied to a replica after checking that it starts where the previous one ended.
   */
  private final class Client {
    final Target instance;
    final String group;
    final String clientId;
    final String userId;
    boolean autoAck;
    final TestProbe<SocketOut> socket = testKit.createTestProbe();
    final TestProbe<ClientSession.Accepted> accepted = testKit.createTestProbe();
    ActorRef<ClientSession.Command> session;
    /** The replica's cookie: the hello's, then each applied poke's. */
    String cookie;
    final Map<String, String> replica = new TreeMap<>();
    final List<JsonNode> received = new ArrayList<>();
    final List<PatchOp> opsSeen = new ArrayList<>();

    Client(Target instance, String group, String clientId, String userId, String cookie, boolean autoAck) {
      this.instance = instance;
      this.group = group;
      this.clientId = clientId;
      this.userId = userId;
      this.cookie = cookie;
      this.autoAck = autoAck;
    }

    /** Reads the next message, which must be a text; acknowledges it if {@code ack} and applies it if it is a poke. */
    JsonNode next(boolean ack) {
      SocketOut out = socket.receiveMessage(ANSWER);
      SocketOut.Text t = assertInstanceOf(SocketOut.Text.class, out, () -> clientId + ": expected a text, got " + out);
      assertEquals(session, t.ackTo(), "a text names its session for the acknowledgement");
      JsonNode message = parse(t.json());
      received.add(message);
      if (ack) {
        t.ackTo().tell(ack(t));
      }
      if (isPoke(message)) {
        assertEquals(cookie, text(message.get("baseCookie")),
            () -> clientId + ": a poke must start at the cookie of the previous one: " + message);
        List<PatchOp> ops = ops(message);
        applyOps(replica, ops);
        opsSeen.addAll(ops);
        cookie = text(message.get("cookie"));
      }
      return message;
    }

    JsonNode next() {
      return next(autoAck);
    }

    JsonNode nextOfType(String type) {
      JsonNode message = next();
      assertEquals(type, type(message), () -> clientId + ": expected " + type + ", got " + message);
      return message;
    }

    /** Reads messages up to and including the first that matches; @return them all */
    List<JsonNode> readUntil(Predicate<JsonNode> until) {
      List<JsonNode> read = new ArrayList<>();
      while (true) {
        JsonNode message = next();
        read.add(message);
        if (until.test(message)) {
          return read;
        }
      }
    }

    /** Reads until the poke confirming {@code mutationId} of this client; @return everything read */
    List<JsonNode> readUntilConfirmed(long mutationId) {
      return readUntil(m -> isPoke(m) && lmid(m, clientId) >= mutationId);
    }

    /** Reads until the replica holds public {@code kv/key}. */
    void readUntilPublic(String key) {
      if (!replica.containsKey("public/kv/" + key)) {
        readUntil(m -> isPoke(m) && replica.containsKey("public/kv/" + key));
      }
    }

    void push(MutationRequest... mutations) {
      session.tell(new ClientSession.ClientPush(List.of(mutations), accepted.ref()));
      accepted.expectMessage(ANSWER, ClientSession.Accepted.INSTANCE);
    }

    /** @return the close the socket receives next, skipping (and acknowledging) texts before it */
    SocketOut.Close awaitClose() {
      while (true) {
        SocketOut out = socket.receiveMessage(ANSWER);
        if (out instanceof SocketOut.Close close) {
          return close;
        }
        SocketOut.Text t = (SocketOut.Text) out;
        received.add(parse(t.json()));
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // 1. connected, the initial poke, chained pokes, confirmations and failure notices

  @Test
  void connectSendsConnectedAndTheInitialPokeThenChainedPokesWithConfirmationsAndFailuresFirst() {
    Target instance = direct(spawn(32));

    // an instance that never wrote anything: an empty reset with the no-epoch cookie
    Client early = connect(instance, "g0", "early", null, null, true);
    JsonNode connected = early.nextOfType("connected");
    assertEquals(0, connected.get("lastMutationId").asLong());
    assertEquals(1, connected.get("protocolVersion").asInt());
    assertFalse(connected.has("userId"), "anonymous: no userId");
    JsonNode first = early.nextOfType("poke");
    assertTrue(first.get("baseCookie").isNull(), first::toString);
    assertEquals(List.of(PatchOp.CLEAR), ops(first));
    assertEquals(0, first.get("lastMutationIDChanges").size());

    PushResult written = pushDirect(instance, "gw", "w", null, put(1, "a", "A"), put(2, "b", "B"));
    String afterW = written.cookie();
    JsonNode seen = early.nextOfType("poke");
    assertEquals(afterW, text(seen.get("cookie")));
    assertEquals(Set.of(PatchOp.put("public", "kv", "a", "", json("A")), PatchOp.put("public", "kv", "b", "", json("B"))),
        Set.copyOf(ops(seen)));
    assertEquals(0, seen.get("lastMutationIDChanges").size(), "w is not of early's group");

    // no cookie: clear + the full state
    Client c1 = connect(instance, "g1", "c1", "u1", null, true);
    connected = c1.nextOfType("connected");
    assertEquals("u1", connected.get("userId").asText());
    assertEquals(0, connected.get("lastMutationId").asLong());
    JsonNode initial = c1.nextOfType("poke");
    assertTrue(initial.get("baseCookie").isNull());
    assertEquals(afterW, text(initial.get("cookie")));
    assertEquals(List.of(PatchOp.CLEAR, PatchOp.put("public", "kv", "a", "", json("A")), PatchOp.put("public", "kv", "b", "", json("B"))),
        ops(initial));

    // a push with a failing mutation in the middle: its notice comes before the poke confirming it,
    // and the confirmation rides in the poke with the push's writes
    c1.push(put(1, "c", "C"), boom(2, "x"), put(3, "a", "A2"));
    JsonNode failed = c1.nextOfType("mutationFailed");
    assertEquals(2, failed.get("id").asLong());
    assertEquals(ErrorCode.MUTATOR_FAILED.name(), failed.get("error").get("code").asText());
    JsonNode confirming = c1.nextOfType("poke");
    assertEquals(Map.of("c1", 3L), Json.mapper().convertValue(confirming.get("lastMutationIDChanges"),
        new com.fasterxml.jackson.core.type.TypeReference<Map<String, Long>>() {}));
    assertEquals(Set.of(PatchOp.put("public", "kv", "c", "", json("C")), PatchOp.put("public", "kv", "a", "", json("A2"))),
        Set.copyOf(ops(confirming)));
    c1.push(del(4, "b"), note(5, "n", "N"));
    JsonNode second = c1.nextOfType("poke");
    assertEquals(5, lmid(second, "c1"));
    assertEquals(Set.of(PatchOp.del("public", "kv", "b"), PatchOp.put("private", "notes", "n", "", json("N"))),
        Set.copyOf(ops(second)));
    String current = c1.cookie;

    // the other client saw the same public changes, no failure notice of c1, no private note
    early.readUntil(m -> isPoke(m) && current.equals(text(m.get("cookie"))));
    assertTrue(early.received.stream().noneMatch(m -> "mutationFailed".equals(type(m))), early.received::toString);
    assertEquals(Map.of("public/kv/a", "\"A2\"", "public/kv/c", "\"C\""), early.replica);

    // a cookie: exactly the changes since it (the new connection supersedes the old one)
    Client again = connect(instance, "g1", "c1", "u1", afterW, true);
    assertEquals(5, again.nextOfType("connected").get("lastMutationId").asLong());
    // mutation 2 failed after that cookie: the client is told again, before the poke confirming it
    assertEquals(2, again.nextOfType("mutationFailed").get("id").asLong());
    JsonNode changes = again.nextOfType("poke");
    assertEquals(afterW, text(changes.get("baseCookie")));
    assertEquals(current, text(changes.get("cookie")));
    assertEquals(Set.of(PatchOp.put("public", "kv", "a", "", json("A2")), PatchOp.del("public", "kv", "b"),
        PatchOp.put("public", "kv", "c", "", json("C")), PatchOp.put("private", "notes", "n", "", json("N"))),
        Set.copyOf(ops(changes)), "no clear, and nothing older than the cookie");
    assertEquals(5, lmid(changes, "c1"));
    assertEquals("SUPERSEDED", c1.awaitClose().reason());

    // a cookie of another epoch: a reset
    String epoch = current.substring(0, current.lastIndexOf(':'));
    String otherEpoch = (epoch.equals("000000000001") ? "000000000002" : "000000000001") + ":3";
    Client stranger = connect(instance, "g1", "c2", "u1", otherEpoch, true);
    stranger.nextOfType("connected");
    JsonNode reset = stranger.nextOfType("poke");
    assertEquals(otherEpoch, text(reset.get("baseCookie")));
    assertEquals(current, text(reset.get("cookie")));
    assertEquals(Map.of("public/kv/a", "\"A2\"", "public/kv/c", "\"C\"", "private/notes/n", "\"N\""), stateOf(ops(reset)));
    assertEquals(5, lmid(reset, "c1"), "a reset names every client of the group");

    // later pokes keep chaining for every session (checked in Client.next)
    pushDirect(instance, "gw", "w", null, put(3, "d", "D"));
    for (Client c : List.of(early, again, stranger)) {
      c.readUntilPublic("d");
      assertEquals(pull(instance, c.group, c.userId).cookie(), c.cookie);
      assertEquals(stateOf(pull(instance, c.group, c.userId).patch()), c.replica);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // 2. visibility

  @Test
  void eachSessionSeesPublicAndItsOwnPrivateRowsNeverServerOnlyOrAnotherUsersPrivateRows() {
    Target instance = direct(spawn(VIS, settings(32)));
    Client u1 = connect(instance, "g-u1", "c-u1", "u1", null, true);
    Client u1b = connect(instance, "g-u1b", "c-u1b", "u1", null, true);
    Client u2 = connect(instance, "g-u2", "c-u2", "u2", null, true);
    Client anon = connect(instance, "g-anon", "c-anon", null, null, true);
    List<Client> all = List.of(u1, u1b, u2, anon);
    for (Client c : all) {
      c.nextOfType("connected");
      c.nextOfType("poke");
    }

    // the same key in every tier, by both users
    u1.push(mutation(1, "mixed", "k", "v1"));
    u1.readUntilConfirmed(1);
    u2.push(mutation(1, "mixed", "k", "v2"), mutation(2, "mixed", "only2", "w"));
    u2.readUntilConfirmed(2);
    anon.push(mutation(1, "put", "pub", "anon"));
    anon.readUntilConfirmed(1);
    // a commit with only server-only writes: its author gets an empty confirming poke, nobody else anything
    u1.push(mutation(2, "secret", "s", "x"));
    List<JsonNode> secretPoke = u1.readUntilConfirmed(2);
    assertEquals(List.of(), ops(secretPoke.get(secretPoke.size() - 1)));
    pushDirect(instance, "g-server", "server", null, mutation(1, "secret", "s2", "y"));
    // a private delete: only its owner hears of it
    u2.push(new MutationRequest(3, "unnote", putArgs("k", "").without("value"), TestApp.TS));
    u2.readUntilConfirmed(3);
    pushDirect(instance, "g-server", "server", null, mutation(2, "put", "marker", "m"));
    for (Client c : all) {
      c.readUntilPublic("marker");
    }

    Map<String, String> publicRows = Map.of("public/kv/k", "\"v2-pub\"", "public/kv/only2", "\"w-pub\"",
        "public/kv/pub", "\"anon\"", "public/kv/marker", "\"m\"");
    Map<String, String> u1Rows = new TreeMap<>(publicRows);
    u1Rows.put("private/notes/k", "\"v1-priv-u1\"");
    Map<String, String> u2Rows = new TreeMap<>(publicRows);
    u2Rows.put("private/notes/only2", "\"w-priv-u2\"");
    assertEquals(u1Rows, u1.replica);
    assertEquals(u1Rows, u1b.replica, "another client of the same user sees the user's private rows");
    assertEquals(u2Rows, u2.replica);
    assertEquals(new TreeMap<>(publicRows), anon.replica);

    for (Client c : all) {
      for (PatchOp op : c.opsSeen) {
        assertNotEquals("secrets", op.table(), () -> c.clientId + " got a server-only row: " + op);
        if (op.op().equals("clear")) {
          continue;
        }
        assertTrue(op.tier().equals("public") || op.tier().equals("private"), () -> c.clientId + ": " + op);
        if (op.tier().equals("private")) {
          assertNotNull(c.userId, () -> "anonymous " + c.clientId + " got a private row: " + op);
          assertEquals("notes", op.table());
          if (op.op().equals("put")) {
            assertTrue(op.value().asText().endsWith("-priv-" + c.userId), () -> c.clientId + " got another user's row: " + op);
          } else {
            assertEquals("u2", c.userId, () -> c.clientId + " heard of u2's private delete: " + op);
          }
        }
      }
      // the instance agrees, and so does a fresh connection's initial poke
      assertEquals(stateOf(pull(instance, c.group, c.userId).patch()), c.replica);
      Client fresh = connect(instance, "g-fresh-" + c.clientId, "fresh-" + c.clientId, c.userId, null, true);
      fresh.nextOfType("connected");
      JsonNode initial = fresh.nextOfType("poke");
      assertEquals(c.replica, stateOf(ops(initial)), () -> "initial poke of a fresh client of " + c.userId);
      assertTrue(initial.toString().indexOf("secret") < 0, initial::toString);
    }
    assertTrue(u2.opsSeen.contains(PatchOp.del("private", "notes", "k")), "u2 hears of its own private delete");
  }

  // ---------------------------------------------------------------------------------------------
  // 3. slow consumers

  @Test
  void aSlowClientWithRoomForOneGetsOneCatchUpAfterDraining() {
    slowConsumerDropsPokesAndCatchesUpOnce(1);
  }

  @Test
  void aSlowClientWithRoomForThreeGetsOneCatchUpAfterDraining() {
    slowConsumerDropsPokesAndCatchesUpOnce(3);
  }

  /**
   * Between nodes acknowledgements can be lost (remoting drops messages when its queue overflows):
   * the last one alone, being cumulative, drains the session.
   */
  @Test
  void aSlowClientWhoseAcknowledgementsButTheLastWereLostStillCatchesUp() {
    slowConsumerDropsPokesAndCatchesUpOnce(3, true);
  }

  /** What the socket's side answers for {@code t} once written: the cumulative acknowledgement of a numbered message. */
  private static ClientSession.Command ack(SocketOut.Text t) {
    return t.seq() > 0 ? new ClientSession.DeliveredUpTo(t.seq()) : ClientSession.Delivered.INSTANCE;
  }

  private void slowConsumerDropsPokesAndCatchesUpOnce(int max) {
    slowConsumerDropsPokesAndCatchesUpOnce(max, false);
  }

  private void slowConsumerDropsPokesAndCatchesUpOnce(int max, boolean onlyLastAckArrives) {
    Target instance = direct(spawn(max));
    pushDirect(instance, "gw", "w", null, put(1, "a", 0));
    Client slow = connect(instance, "gs", "slow", "u1", null, false);

    // writes by others, and the slow client's own, while it reads nothing
    long w = 1;
    for (int i = 0; i < 6; i++) {
      w++;
      pushDirect(instance, "gw", "w", null, put(w, "k" + i, i));
    }
    slow.push(note(1, "n", "N"), put(2, "own", "O"));
    slow.push(boom(3, "x"));
    w++;
    pushDirect(instance, "gw", "w", null, del(w, "a")); // answered after the slow client's pushes were
    w++;
    String last = pushDirect(instance, "gw", "w", null, put(w, "k0", "changed")).cookie();

    ClientSession.Stats stalled = stats(slow.session);
    assertTrue(stalled.pokesDropped() > 0, stalled::toString);
    assertTrue(stalled.queued() <= Math.max(max, 2), stalled::toString);
    assertTrue(stalled.maxQueued() <= Math.max(max, 2), () -> "connected and the initial poke go out together; then at most "
        + max + ": " + stalled);
    assertEquals(0, stalled.catchUps());
    // the socket got exactly what the bound allows, nothing more
    int handed = Math.max(max, 2);
    List<SocketOut.Text> held = new ArrayList<>();
    for (int i = 0; i < handed; i++) {
      SocketOut out = slow.socket.receiveMessage(ANSWER);
      held.add(assertInstanceOf(SocketOut.Text.class, out));
    }
    slow.socket.expectNoMessage(QUIET);
    assertEquals(handed, stalled.queued());

    // the socket drains: acknowledge everything as it is read
    for (SocketOut.Text t : held) {
      JsonNode m = parse(t.json());
      slow.received.add(m);
      if (isPoke(m)) {
        assertEquals(slow.cookie, text(m.get("baseCookie")));
        applyOps(slow.replica, ops(m));
        slow.cookie = text(m.get("cookie"));
      }
    }
    assertEquals("connected", type(slow.received.get(0)));
    int receivedWhileStalled = slow.received.size();
    slow.autoAck = true;
    if (onlyLastAckArrives) {
      SocketOut.Text lastHeld = held.get(held.size() - 1);
      assertEquals(handed, lastHeld.seq(), "the session numbers what it hands out");
      lastHeld.ackTo().tell(ack(lastHeld));
    } else {
      for (SocketOut.Text t : held) {
        t.ackTo().tell(ack(t));
      }
    }
    List<JsonNode> after = slow.readUntil(m -> isPoke(m) && last.equals(text(m.get("cookie"))));
    List<String> types = after.stream().map(ClientSessionTest::type).toList();
    assertEquals(List.of("mutationFailed", "poke"), types, () -> "the kept notice, then one catch-up: " + after);
    assertEquals(3, after.get(0).get("id").asLong());
    JsonNode catchUp = after.get(1);
    assertEquals(3, lmid(catchUp, "slow"), "the catch-up confirms the client's own mutations made while behind");
    slow.socket.expectNoMessage(QUIET);

    ClientSession.Stats caughtUp = stats(slow.session);
    assertEquals(1, caughtUp.catchUps(), caughtUp::toString);
    assertEquals(0, caughtUp.queued(), caughtUp::toString);
    assertEquals(last, caughtUp.cookie());
    assertEquals(slow.received.stream().filter(ClientSessionTest::isPoke).count(), caughtUp.pokesSent());
    assertTrue(receivedWhileStalled + 2 == slow.received.size());

    // the replica now equals the instance's state for this user, and a fresh connect's initial poke
    Map<String, String> expected = stateOf(pull(instance, "gs", "u1").patch());
    assertEquals(expected, slow.replica);
    assertTrue(expected.containsKey("private/notes/n") && !expected.containsKey("public/kv/a"), expected::toString);
    Client fresh = connect(instance, "gf", "fresh", "u1", null, true);
    fresh.nextOfType("connected");
    assertEquals(slow.replica, stateOf(ops(fresh.nextOfType("poke"))));

    // and single pokes resume from the catch-up's cookie
    pushDirect(instance, "gw", "w", null, put(w + 1, "later", 1));
    JsonNode resumed = slow.nextOfType("poke");
    assertEquals(last, text(resumed.get("baseCookie")));
    assertEquals(List.of(PatchOp.put("public", "kv", "later", "", json(1))), ops(resumed));
  }

  @Test
  void failureNoticesAreNeverDroppedAndPrecedeTheCatchUpThatConfirmsThem() {
    Target instance = direct(spawn(1));
    Client slow = connect(instance, "gs", "slow", null, null, false);
    pushDirect(instance, "gw", "w", null, put(1, "a", 1));
    // one push: a second one would not be taken while the first one's notices wait for the socket
    slow.push(boom(1, "x1"), boom(2, "x2"), boom(3, "x3"), boom(4, "x4"), put(5, "mine", 5));
    String last = pushDirect(instance, "gw", "w", null, put(2, "b", 2)).cookie();
    assertTrue(stats(slow.session).pokesDropped() > 0);

    slow.autoAck = true;
    List<JsonNode> all = new ArrayList<>();
    all.add(slow.next(true));
    all.add(slow.next(true));
    all.addAll(slow.readUntil(m -> {
      // acknowledged in next(): keep reading (acknowledging) until the catch-up
      return isPoke(m) && lmid(m, "slow") >= 5;
    }));
    List<String> types = all.stream().map(ClientSessionTest::type).toList();
    assertEquals(List.of("connected", "poke", "mutationFailed", "mutationFailed", "mutationFailed", "mutationFailed", "poke"), types,
        all::toString);
    assertEquals(List.of(1L, 2L, 3L, 4L), all.subList(2, 6).stream().map(m -> m.get("id").asLong()).toList());
    assertEquals(last, slow.cookie);
    assertEquals(stateOf(pull(instance, "gs", null).patch()), slow.replica);
  }

  /**
   * Failures of the client's mutations committed while the session waits for its catch-up patch
   * (here: the batch is in the journal when the session asks) must still reach the client before
   * the catch-up poke, which confirms their ids.
   */
  @Test
  void failureNoticesThatArriveWhileACatchUpIsAwaitedPrecedeIt() throws Exception {
    Target instance = direct(spawn(1));
    Client slow = connect(instance, "gs", "slow", null, null, false);
    SocketOut.Text connected = assertInstanceOf(SocketOut.Text.class, slow.socket.receiveMessage(ANSWER));
    SocketOut.Text initial = assertInstanceOf(SocketOut.Text.class, slow.socket.receiveMessage(ANSWER));
    pushDirect(instance, "gw", "w", null, put(1, "a", 1)); // dropped: the session is behind
    assertTrue(stats(slow.session).pokesDropped() > 0);

    probe.holdNextWrite();
    slow.push(boom(1, "x"), boom(2, "y"));
    probe.awaitHeld();
    // the socket drains while the instance is persisting: the session asks for its catch-up now
    connected.ackTo().tell(ClientSession.Delivered.INSTANCE);
    initial.ackTo().tell(ClientSession.Delivered.INSTANCE);
    assertEquals(0, stats(slow.session).queued());
    probe.release();
    // wait until the session has handled everything the instance sent it, before acknowledging anything:
    // the pull is answered after the instance answered the catch-up request, the stats after the session took it
    pull(instance, "gs", null);
    stats(slow.session);
    // the catch-up is now held behind notice 2; a commit now is not covered by it
    String after = pushDirect(instance, "gw", "w", null, put(2, "b", 2)).cookie();
    stats(slow.session);
    slow.autoAck = true;

    List<JsonNode> read = new ArrayList<>();
    read.add(parse(connected.json()));
    read.add(parse(initial.json()));
    slow.received.addAll(read);
    slow.cookie = text(read.get(1).get("cookie"));
    read.addAll(slow.readUntil(m -> isPoke(m) && lmid(m, "slow") >= 2));
    List<Long> failedBeforeConfirmation = read.stream().filter(m -> "mutationFailed".equals(type(m)))
        .map(m -> m.get("id").asLong()).toList();
    assertEquals(List.of(1L, 2L), failedBeforeConfirmation,
        () -> "both failures must come before the poke confirming id 2; read " + read);
    // and the commit that came while the catch-up was held arrives too (by a second catch-up)
    slow.readUntil(m -> isPoke(m) && after.equals(slow.cookie));
    assertEquals(stateOf(pull(instance, "gs", null).patch()), slow.replica);
    assertEquals(2, stats(slow.session).catchUps());
  }

  // ---------------------------------------------------------------------------------------------
  // 4. ownership, superseding, schema version

  @Test
  void aClientIdBelongsToOneUserANewConnectionSupersedesAndTheSchemaVersionMustMatch() {
    ActorRef<AppInstance.Command> ref = spawn(32);
    Target instance = direct(ref);
    Client a = connect(instance, "g1", "X", "alice", null, true);
    a.nextOfType("connected");
    a.nextOfType("poke");

    // owned by the connected user even before it pushed anything
    TestProbe<SocketOut> bobSocket = testKit.createTestProbe();
    String refused = connectRefused(instance, "g1", "X", "bob", 1, bobSocket);
    assertTrue(refused.startsWith(ErrorCode.CLIENT_OWNED_BY_OTHER_USER.name() + ": "), refused);
    assertTrue(connectRefused(instance, "g1", "X", null, 1, bobSocket).startsWith("CLIENT_OWNED_BY_OTHER_USER: "));
    bobSocket.expectNoMessage(QUIET);
    assertEquals(1, sessions(ref).size());

    // the same user again: the first connection is superseded
    Client a2 = connect(instance, "g1", "X", "alice", null, true);
    a2.nextOfType("connected");
    a2.nextOfType("poke");
    SocketOut first = a.socket.receiveMessage(ANSWER);
    JsonNode error = parse(assertInstanceOf(SocketOut.Text.class, first).json());
    assertEquals("error", type(error));
    assertEquals(ErrorCode.SUPERSEDED.name(), error.get("error").get("code").asText());
    SocketOut.Close close = assertInstanceOf(SocketOut.Close.class, a.socket.receiveMessage(ANSWER));
    assertEquals(4409, close.code());
    testKit.createTestProbe().expectTerminated(a.session, ANSWER);
    a.socket.expectNoMessage(QUIET); // in particular no 1012 from its stop

    // the superseded session's end must not release the client: still alice's, served by a2
    testKit.createTestProbe().awaitAssert(ANSWER, () -> {
      assertEquals(List.of(a2.session), sessions(ref));
      return null;
    });
    assertTrue(connectRefused(instance, "g1", "X", "bob", 1, bobSocket).startsWith("CLIENT_OWNED_BY_OTHER_USER: "));
    a2.push(put(1, "k", 1));
    assertEquals(1, lmid(a2.nextOfType("poke"), "X"));

    // once it pushed, the client stays alice's after she leaves
    a2.session.tell(ClientSession.SocketClosed.INSTANCE);
    testKit.createTestProbe().expectTerminated(a2.session, ANSWER);
    a2.socket.expectNoMessage(QUIET); // the socket is gone: nothing is sent to it
    assertTrue(connectRefused(instance, "g1", "X", "bob", 1, bobSocket).startsWith("CLIENT_OWNED_BY_OTHER_USER: "));

    // another schema version is refused
    String mismatch = connectRefused(instance, "g1", "Y", "alice", 2, bobSocket);
    assertTrue(mismatch.startsWith(ErrorCode.SCHEMA_VERSION_MISMATCH.name() + ": "), mismatch);
    bobSocket.expectNoMessage(QUIET);
  }

  private List<ActorRef<ClientSession.Command>> sessions(ActorRef<AppInstance.Command> instance) {
    TestProbe<AppInstance.Sessions> reply = testKit.createTestProbe();
    instance.tell(new AppInstance.ListSessions(reply.ref()));
    return reply.receiveMessage(ANSWER).sessions();
  }

  // ---------------------------------------------------------------------------------------------
  // 5. duplicate-only pushes

  @Test
  void aDuplicateOnlyPushGetsNoAnswerBecauseItsIdsWereConfirmedAlready() {
    Target instance = direct(spawn(32));
    Client c = connect(instance, "g1", "c", "u1", null, true);
    c.nextOfType("connected");
    c.nextOfType("poke");
    c.push(put(1, "a", 1), put(2, "b", 2));
    JsonNode applied = c.nextOfType("poke");
    assertEquals(2, lmid(applied, "c"));

    c.push(put(1, "a", 1), put(2, "b", 2)); // re-sent: both already processed, confirmed by the poke above
    c.push(put(3, "c", 3));
    JsonNode next = c.nextOfType("poke");
    assertEquals(3, lmid(next, "c"), "the next poke is the one of mutation 3, no empty confirmation before it: " + next);
    assertEquals(1, ops(next).size());

    // after a reconnect, connected's lastMutationId is the confirmation of what was processed
    Client again = connect(instance, "g1", "c", "u1", c.cookie, true);
    assertEquals(3, again.nextOfType("connected").get("lastMutationId").asLong());
    again.nextOfType("poke");
    again.push(put(3, "c", 3));
    again.push(put(4, "d", 4));
    assertEquals(4, lmid(again.nextOfType("poke"), "c"));
    assertEquals(pull(instance, "g1", "u1").cookie(), again.cookie);
  }

  // ---------------------------------------------------------------------------------------------
  // 6. passivation

  @Test
  void anInstanceWithAConnectedClientIsNotPassivatedAndIsOnceTheClientLeaves() throws Exception {
    Duration idle = Duration.ofMillis(200);
    ActorRef<InstanceRegistry.Command> registry = testKit.spawn(
        InstanceRegistry.create(Map.of(TestApp.NAME, TestApp.APP), settings(32, idle)), "registry-" + id.instanceId());
    Target instance = command -> registry.tell(new InstanceRegistry.Deliver(id, command));
    Client c = connect(instance, "g1", "c", null, null, true);
    c.nextOfType("connected");
    c.nextOfType("poke");
    ActorRef<Object> incarnation = child(registry);

    for (int round = 1; round <= 3; round++) {
      Thread.sleep(idle.multipliedBy(3).toMillis()); // > idle timeout + one check interval
      c.push(put(round, "k" + round, round)); // straight to the instance: the registry sees no activity
      assertEquals(round, lmid(c.nextOfType("poke"), "c"), "round " + round);
    }
    Thread.sleep(idle.multipliedBy(3).toMillis());
    assertEquals(0, stats(c.session).pokesDropped(), "the session is alive");
    pushDirect(instance, "g2", "other", null, put(1, "other", 1));
    c.readUntilPublic("other");
    assertEquals(incarnation, child(registry), "never restarted");
    c.socket.expectNoMessage(QUIET); // no 1012

    // the client leaves: now the instance is passivated
    c.session.tell(ClientSession.SocketClosed.INSTANCE);
    testKit.createTestProbe().expectTerminated(incarnation, ANSWER.multipliedBy(2));
    c.socket.expectNoMessage(QUIET);
    // and comes back with its state
    assertEquals(Map.of("public/kv/k1", "1", "public/kv/k2", "2", "public/kv/k3", "3", "public/kv/other", "1"),
        stateOf(pull(instance, "g1", null).patch()));
    testKit.stop(registry);
  }

  private ActorRef<Object> child(ActorRef<InstanceRegistry.Command> registry) throws Exception {
    org.apache.pekko.actor.ActorRef classic = testKit.system().classicSystem()
        .actorSelection(registry.path().child(TestApp.NAME + "~" + id.instanceId()))
        .resolveOne(ANSWER).toCompletableFuture().get();
    return Adapter.toTyped(classic);
  }

  // ---------------------------------------------------------------------------------------------
  // 7. stopping

  @Test
  void whenTheInstanceStopsEverySocketIsClosedWith1012() {
    ActorRef<AppInstance.Command> ref = spawn(1);
    Target instance = direct(ref);
    Client reading = connect(instance, "g1", "reading", "u1", null, true);
    Client anonymous = connect(instance, "g2", "anonymous", null, null, true);
    Client slow = connect(instance, "g3", "slow", "u2", null, false);
    pushDirect(instance, "gw", "w", null, put(1, "a", 1));
    reading.readUntilPublic("a");
    assertTrue(stats(slow.session).pokesDropped() > 0, "one session is behind");

    ref.tell(AppInstance.Stop.INSTANCE);
    Set<String> closed = new HashSet<>();
    for (Client c : List.of(reading, anonymous, slow)) {
      SocketOut.Close close = c.awaitClose();
      assertEquals(1012, close.code(), c.clientId);
      assertTrue(close.reason().getBytes(java.nio.charset.StandardCharsets.UTF_8).length <= 123);
      closed.add(c.clientId);
    }
    assertEquals(Set.of("reading", "anonymous", "slow"), closed);
    testKit.createTestProbe().expectTerminated(ref, ANSWER);
  }

  // ---------------------------------------------------------------------------------------------
  // failures told again on reconnect

  /**
   * A client whose connection died after its mutations were processed but before it read their
   * failures hears of them when it reconnects, before the poke that confirms their ids; a client
   * whose cookie is past them does not hear of them again.
   */
  @Test
  void failuresAClientMayHaveMissedAreToldAgainWhenItReconnects() {
    Target instance = direct(spawn(32));
    Client first = connect(instance, "g1", "c", null, null, true);
    first.nextOfType("connected");
    first.nextOfType("poke");
    String before = first.cookie;
    pushDirect(instance, "g1", "c", null, put(1, "a", 1), boom(2, "b"), put(3, "c", 3), boom(4, "d"));

    // the client never read the notices and pokes of that push: it reconnects with its old cookie
    Client again = connect(instance, "g1", "c", null, before, true);
    assertEquals(4, again.nextOfType("connected").get("lastMutationId").asLong());
    assertEquals(2, again.nextOfType("mutationFailed").get("id").asLong());
    JsonNode failed4 = again.nextOfType("mutationFailed");
    assertEquals(4, failed4.get("id").asLong());
    assertEquals(ErrorCode.MUTATOR_FAILED.name(), failed4.get("error").get("code").asText());
    JsonNode poke = again.nextOfType("poke");
    assertEquals(4, lmid(poke, "c"), "the poke after the failures confirms their ids");

    // a client that has read past them is not told again; nor is another client
    Client current = connect(instance, "g1", "c", null, again.cookie, true);
    current.nextOfType("connected");
    current.nextOfType("poke");
    Client other = connect(instance, "g1", "other", null, before, true);
    other.nextOfType("connected");
    other.nextOfType("poke");
  }
}
