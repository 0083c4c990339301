package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Json;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.runtime.AppInstance;
import io.syncedstore.runtime.ClientSession;
import io.syncedstore.runtime.InstanceId;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Randomized visibility of live sync over real WebSockets: several users (one or two clients each,
 * some sharing a client group) and an anonymous client write and delete in the public tier, their
 * own private tier, another user's private tier (which must fail) and the server-only tier, from
 * random clients, with random reconnects from the cookie held. Every poke op every client reads is
 * checked as it is read: public rows, the receiving user's own private rows, never a server-only
 * row. At the end every client's replica equals what the server shows its user, and a client that
 * connects afterwards gets exactly that in its first (reset) poke.
 *
 * <p>The seed is {@code -Dsync.seed} (default 42); {@code -Dsync.randomSeeds=N} (default 2) more
 * runs use random seeds. Every failure names its seed. A seed fixes the operations, not the
 * interleaving of the sockets, so a rerun repeats the same writes but not necessarily the same race.
 */
@ExtendWith(LogCapturingExtension.class)
class SyncVisibilityTest {
  static final String APP = "visibility";
  static final int SCHEMA = 3;
  static final String PUB = "pub";
  static final String NOTES = "notes";
  static final String SECRETS = "secrets";
  private static final List<String> KEYS = List.of("k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7");

  record Put(String key, ObjectNode value) {}

  record Key(String key) {}

  record PutOf(String owner, String key, ObjectNode value) {}

  record ServerPut(String table, String key, ObjectNode value) {}

  record ServerKey(String table, String key) {}

  /** Stamps a value with the tier it is written to (and, private, the owner taken from the context). */
  static ObjectNode stamp(ObjectNode value, String tier, String owner) {
    ObjectNode v = value.deepCopy();
    v.put("tier", tier);
    if (owner != null) {
      v.put("owner", owner);
    }
    return v;
  }

  /**
   * Tables {@code pub} (written public), {@code notes} (written private) and {@code secrets}
   * (written server-only only); the server-only mutators also write {@code pub} and {@code notes},
   * so a table's name alone does not tell a leak.
   */
  static final AppDefinition APP_DEFINITION = AppDefinition.builder(APP).schemaVersion(SCHEMA)
      .table(PUB, JsonNode.class)
      .table(NOTES, JsonNode.class)
      .table(SECRETS, JsonNode.class)
      .mutator("putPublic", Put.class, (ctx, in) -> ctx.table(PUB).set(in.key(), stamp(in.value(), "public", null)))
      .mutator("delPublic", Key.class, (ctx, in) -> ctx.table(PUB).delete(in.key()))
      .mutator("putPrivate", Put.class, (ctx, in) -> {
        String user = ctx.userId().orElse(null); // anonymous: privateOfUser refuses, the mutation fails
        ctx.privateOfUser(user).table(NOTES).set(in.key(), stamp(in.value(), "private", user));
      })
      .mutator("delPrivate", Key.class, (ctx, in) -> ctx.privateOfUser(ctx.userId().orElse(null)).table(NOTES).delete(in.key()))
      // another user's private tier: the server refuses the write (TIER_VIOLATION), the mutation fails
      .mutator("putPrivateOf", PutOf.class, (ctx, in) ->
          ctx.privateOfUser(in.owner()).table(NOTES).set(in.key(), stamp(in.value(), "private", in.owner())))
      .mutator("putServer", ServerPut.class, (ctx, in) ->
          ctx.serverOnly().table(in.table()).set(in.key(), stamp(in.value(), "server", null)))
      .mutator("delServer", ServerKey.class, (ctx, in) -> ctx.serverOnly().table(in.table()).delete(in.key()))
      // one mutation, three tiers; anonymous fails as a whole (nothing of it may show)
      .mutator("putAll", Put.class, (ctx, in) -> {
        ctx.table(PUB).set(in.key(), stamp(in.value(), "public", null));
        ctx.serverOnly().table(SECRETS).set(in.key(), stamp(in.value(), "server", null));
        ctx.serverOnly().table(PUB).set(in.key(), stamp(in.value(), "server", null));
        String user = ctx.userId().orElse(null);
        ctx.privateOfUser(user).table(NOTES).set(in.key(), stamp(in.value(), "private", user));
      })
      .build();

  @TempDir
  static Path dir;

  private static SyncServer server;

  @BeforeAll
  static void start() {
    // A tiny outbound queue, so that sessions often fall behind and send catch-up pokes: the
    // catch-up patch must be filtered as strictly as the live ones.
    server = TestServers.start(dir, List.of(APP_DEFINITION), Map.of("synced-store.session.max-queued-messages", 2));
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  static Stream<Long> seeds() {
    List<Long> seeds = new ArrayList<>();
    String fixed = System.getProperty("sync.seed");
    seeds.add(fixed == null || fixed.isBlank() ? 42L : Long.parseLong(fixed.trim()));
    int extra = Integer.getInteger("sync.randomSeeds", 2);
    Random random = new Random();
    for (int i = 0; i < extra; i++) {
      seeds.add(random.nextLong());
    }
    return seeds.stream();
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void everySessionSeesExactlyWhatItsUserMaySee(long seed) throws Exception {
    System.out.println("SyncVisibilityTest seed " + seed + " (rerun with -Dsync.seed=" + seed + ")");
    Run run = new Run(seed);
    try {
      run.run();
    } catch (AssertionError | RuntimeException e) {
      throw new AssertionError("seed " + seed + " (rerun with -Dsync.seed=" + seed + "), instance " + run.instance
          + ": " + e.getMessage(), e);
    } finally {
      run.closeAll();
    }
  }

  /** One client as the test knows it: its connection (replaced on reconnect) and what it expects. */
  private static final class Client {
    final String clientId;
    final String group;
    final String user; // null: anonymous
    SyncTestClient socket;
    final Set<Long> expectedFailures = new TreeSet<>();
    final Set<Long> reportedFailures = new TreeSet<>();
    long pokesChecked;

    Client(String clientId, String group, String user) {
      this.clientId = clientId;
      this.group = group;
      this.user = user;
    }

    String token() {
      return user == null ? null : "dev:" + user;
    }

    long lastPushed() {
      return socket.nextMutationId - 1;
    }

    @Override
    public String toString() {
      return clientId + "(" + (user == null ? "anonymous" : user) + ", group " + group + ")";
    }
  }

  /** One address: tier, owner (private only), table, item key. */
  private record Address(String tier, String owner, String table, String key) {
    @Override
    public String toString() {
      return tier + (owner == null ? "" : "(" + owner + ")") + "/" + table + "/" + key;
    }
  }

  private final class Run {
    final long seed;
    final Random random;
    final String instance;
    final InstanceId id;
    final List<String> users = new ArrayList<>();
    final List<Client> clients = new ArrayList<>();
    final Map<String, Set<String>> groups = new HashMap<>();
    /** The last successful write of each client to each address: a value, or null for a delete. */
    final Map<Address, Map<String, JsonNode>> lastWrites = new HashMap<>();
    /** Keys a delete may name in a public / a user's private poke op (deletes issued, successful). */
    final Set<String> publicDeletes = new HashSet<>();
    final Map<String, Set<String>> privateDeletes = new HashMap<>();
    final List<SyncTestClient> everyConnection = new ArrayList<>();
    int sequence;
    int reconnects;

    Run(long seed) {
      this.seed = seed;
      this.random = new Random(seed);
      this.instance = "vis-" + Long.toHexString(seed) + "-" + Long.toHexString(System.nanoTime());
      this.id = new InstanceId(APP, instance);
    }

    void run() throws Exception {
      int userCount = 3 + random.nextInt(2);
      List<String> names = List.of("alice", "bob", "carol", "dave");
      users.addAll(names.subList(0, userCount));
      for (String user : users) {
        int n = 1 + random.nextInt(2);
        boolean shareGroup = random.nextBoolean();
        for (int i = 0; i < n; i++) {
          String group = shareGroup ? "g-" + user : "g-" + user + "-" + i;
          clients.add(new Client(user + "-c" + i, group, user));
        }
      }
      clients.add(new Client("anon-c0", "g-anon", null));
      for (Client c : clients) {
        groups.computeIfAbsent(c.group, g -> new TreeSet<>()).add(c.clientId);
        privateDeletes.computeIfAbsent(c.user, u -> new HashSet<>());
      }
      for (Client c : clients) {
        connect(c, null);
      }

      int steps = 250 + random.nextInt(150);
      for (int step = 0; step < steps; step++) {
        Client c = clients.get(random.nextInt(clients.size()));
        if (random.nextInt(100) < 2) {
          reconnect(c);
        }
        writeRandomly(c);
      }

      // Every client's writes confirmed (failures reported before their confirming poke).
      for (Client c : clients) {
        readUntil(c, () -> c.socket.lastMutationId >= c.lastPushed(), "its last mutation " + c.lastPushed() + " confirmed");
      }
      // A last public write that every session must poke: afterwards each client's cookie is the final one.
      Client barrier = clients.get(0);
      ObjectNode value = value(barrier);
      long barrierId = barrier.socket.push("putPublic", new Put("barrier", value));
      recordWrite(barrier, new Address("public", null, PUB, "barrier"), stamp(value, "public", null));
      readUntil(barrier, () -> barrier.socket.lastMutationId >= barrierId, "the barrier mutation confirmed");

      Map<String, AppInstance.PullResult> visible = new TreeMap<>();
      for (String user : usersAndAnonymous()) {
        visible.put(String.valueOf(user), server.engine().pull(id, "observer-" + user, null, user).toCompletableFuture()
            .get(30, TimeUnit.SECONDS));
      }
      String finalCookie = visible.get(String.valueOf(users.get(0))).cookie();
      for (var e : visible.entrySet()) {
        assertEquals(finalCookie, e.getValue().cookie(), "cookie of the pull of " + e.getKey());
      }
      // The server's visible state, checked against what the test wrote (independent of the server's filter).
      Map<String, Map<String, JsonNode>> expected = new HashMap<>();
      for (String user : usersAndAnonymous()) {
        Map<String, JsonNode> state = replicaOf(visible.get(String.valueOf(user)).patch(), user, "pull for " + user);
        checkAgainstWrites(user, state);
        expected.put(String.valueOf(user), state);
      }

      for (Client c : clients) {
        readUntil(c, () -> finalCookie.equals(c.socket.cookie), "the final cookie " + finalCookie);
        assertEquals(expected.get(String.valueOf(c.user)), normalized(c.socket.replica), "replica of " + c);
        assertEquals(c.expectedFailures, c.reportedFailures, "mutationFailed messages of " + c);
        for (JsonNode m : c.socket.takeAll()) {
          check(c, m); // anything that came after the final cookie (nothing should) is checked too
        }
      }

      // Clients connecting now get exactly their user's visible state in their first poke.
      for (String user : usersAndAnonymous()) {
        Client late = new Client("late-" + (user == null ? "anon" : user), "g-late-" + user, user);
        groups.put(late.group, Set.of(late.clientId));
        connect(late, null);
        JsonNode poke = late.socket.nextMessage();
        check(late, poke);
        assertEquals("poke", poke.path("type").asText(), "first message after connected of " + late + ": " + poke);
        assertTrue(poke.get("baseCookie").isNull(), "a first poke starts from no cookie: " + poke);
        assertEquals(finalCookie, poke.get("cookie").asText(), "cookie of the first poke of " + late);
        assertEquals("clear", poke.get("patch").path(0).path("op").asText(), "a first poke is a reset: " + poke);
        assertEquals(Map.of(), Json.mapper().convertValue(poke.get("lastMutationIDChanges"), Map.class),
            "a new client group has no mutation ids: " + poke);
        assertEquals(expected.get(String.valueOf(user)), normalized(late.socket.replica), "first poke of " + late);
        assertEquals(expected.get(String.valueOf(user)), replicaOf(poke, user), "first poke of " + late);
      }

      long catchUps = 0;
      long dropped = 0;
      for (ClientSession.Stats s : server.engine().sessionStats(id).toCompletableFuture().get(30, TimeUnit.SECONDS)) {
        catchUps += s.catchUps();
        dropped += s.pokesDropped();
      }
      long checked = clients.stream().mapToLong(c -> c.pokesChecked).sum();
      long mutations = clients.stream().mapToLong(Client::lastPushed).sum();
      long failures = clients.stream().mapToLong(c -> c.expectedFailures.size()).sum();
      System.out.printf("SyncVisibilityTest seed %d: %d users, %d clients, %d mutations (%d refused), %d reconnects, "
          + "%d pokes checked, %d pokes dropped and %d catch-ups in the sessions still connected%n", seed, users.size(),
          clients.size(), mutations, failures, reconnects, checked, dropped, catchUps);
    }

    List<String> usersAndAnonymous() {
      List<String> all = new ArrayList<>(users);
      all.add(null);
      return all;
    }

    void connect(Client c, String cookie) {
      SyncTestClient previous = c.socket;
      SyncTestClient s = SyncTestClient.open(server.port(), APP, instance, c.clientId);
      everyConnection.add(s);
      s.hello(c.group, cookie, SCHEMA, c.token());
      if (previous != null) {
        s.replica.putAll(previous.replica);
        s.lastMutationId = previous.lastMutationId;
        s.nextMutationId = previous.nextMutationId;
      }
      c.socket = s;
      JsonNode connected = s.nextMessage();
      assertEquals("connected", connected.path("type").asText(), c + " expected connected first, got " + connected);
      assertEquals(c.user, connected.hasNonNull("userId") ? connected.get("userId").asText() : null, "user of " + c);
      assertEquals(s.lastMutationId, connected.get("lastMutationId").asLong(), "lastMutationId in connected of " + c);
    }

    /** Closes {@code c}'s socket once its writes are confirmed and connects again with the cookie it holds. */
    void reconnect(Client c) {
      readUntil(c, () -> c.socket.lastMutationId >= c.lastPushed(), "its mutations confirmed before a reconnect");
      String cookie = c.socket.cookie;
      c.socket.close();
      reconnects++;
      connect(c, cookie);
    }

    ObjectNode value(Client c) {
      ObjectNode v = Json.mapper().createObjectNode();
      v.put("by", c.clientId);
      v.put("n", ++sequence);
      v.put("pad", "x".repeat(random.nextInt(200)));
      return v;
    }

    void writeRandomly(Client c) {
      String key = KEYS.get(random.nextInt(KEYS.size()));
      boolean anonymous = c.user == null;
      int dice = random.nextInt(100);
      if (dice < 28) {
        ObjectNode v = value(c);
        c.socket.push("putPublic", new Put(key, v));
        recordWrite(c, new Address("public", null, PUB, key), stamp(v, "public", null));
      } else if (dice < 38) {
        c.socket.push("delPublic", new Key(key));
        publicDeletes.add(key);
        recordWrite(c, new Address("public", null, PUB, key), null);
      } else if (dice < 58) {
        ObjectNode v = value(c);
        long mid = c.socket.push("putPrivate", new Put(key, v));
        if (anonymous) {
          c.expectedFailures.add(mid);
        } else {
          recordWrite(c, new Address("private", c.user, NOTES, key), stamp(v, "private", c.user));
        }
      } else if (dice < 66) {
        long mid = c.socket.push("delPrivate", new Key(key));
        if (anonymous) {
          c.expectedFailures.add(mid);
        } else {
          privateDeletes.get(c.user).add(key);
          recordWrite(c, new Address("private", c.user, NOTES, key), null);
        }
      } else if (dice < 78) {
        String table = List.of(SECRETS, SECRETS, PUB, NOTES).get(random.nextInt(4));
        ObjectNode v = value(c);
        c.socket.push("putServer", new ServerPut(table, key, v));
        recordWrite(c, new Address("server", null, table, key), stamp(v, "server", null));
      } else if (dice < 84) {
        String table = List.of(SECRETS, PUB, NOTES).get(random.nextInt(3));
        c.socket.push("delServer", new ServerKey(table, key));
        recordWrite(c, new Address("server", null, table, key), null);
      } else if (dice < 92) {
        ObjectNode v = value(c);
        long mid = c.socket.push("putAll", new Put(key, v));
        if (anonymous) {
          c.expectedFailures.add(mid);
        } else {
          recordWrite(c, new Address("public", null, PUB, key), stamp(v, "public", null));
          recordWrite(c, new Address("server", null, SECRETS, key), stamp(v, "server", null));
          recordWrite(c, new Address("server", null, PUB, key), stamp(v, "server", null));
          recordWrite(c, new Address("private", c.user, NOTES, key), stamp(v, "private", c.user));
        }
      } else {
        String owner = users.get(random.nextInt(users.size()));
        ObjectNode v = value(c);
        long mid = c.socket.push("putPrivateOf", new PutOf(owner, key, v));
        if (owner.equals(c.user)) {
          recordWrite(c, new Address("private", owner, NOTES, key), stamp(v, "private", owner));
        } else {
          c.expectedFailures.add(mid);
        }
      }
    }

    void recordWrite(Client c, Address address, JsonNode value) {
      lastWrites.computeIfAbsent(address, a -> new HashMap<>()).put(c.clientId, value == null ? null : normalize(value));
    }

    /** Reads and checks {@code c}'s messages until {@code done}; each read waits at most {@link SyncTestClient#WAIT}. */
    void readUntil(Client c, java.util.function.BooleanSupplier done, String what) {
      while (!done.getAsBoolean()) {
        JsonNode m;
        try {
          m = c.socket.nextMessage();
        } catch (AssertionError e) {
          throw new AssertionError(c + " waiting for " + what + ": " + e.getMessage(), e);
        }
        check(c, m);
      }
    }

    /** The checks on every message a client reads. */
    void check(Client c, JsonNode m) {
      String type = m.path("type").asText();
      switch (type) {
        case "poke" -> checkPoke(c, m);
        case "mutationFailed" -> {
          long mid = m.get("id").asLong();
          assertTrue(c.expectedFailures.contains(mid), c + " got mutationFailed for mutation " + mid
              + ", which should have been applied (or is not its own): " + m);
          assertTrue(c.reportedFailures.add(mid), c + " got mutationFailed twice for " + mid);
          assertEquals("TIER_VIOLATION", m.path("error").path("code").asText(), c + ": " + m);
        }
        case "connected", "pong" -> { }
        default -> throw new AssertionError(c + " got an unexpected message: " + m);
      }
    }

    void checkPoke(Client c, JsonNode poke) {
      c.pokesChecked++;
      JsonNode patch = poke.get("patch");
      for (int i = 0; i < patch.size(); i++) {
        JsonNode op = patch.get(i);
        String what = c + " got op " + brief(op) + " in poke " + abbreviate(poke);
        String kind = op.path("op").asText();
        if (kind.equals("clear")) {
          assertEquals(0, i, "clear must be a patch's first op: " + what);
          continue;
        }
        String tier = op.path("tier").asText();
        String table = op.path("table").asText();
        String key = op.path("itemKey").asText();
        assertTrue(!table.equals(SECRETS), "server-only table leaked: " + what);
        switch (tier) {
          case "public" -> assertEquals(PUB, table, "the public tier only ever holds pub: " + what);
          case "private" -> {
            assertTrue(c.user != null, "an anonymous client got a private op: " + what);
            assertEquals(NOTES, table, "the private tier only ever holds notes: " + what);
          }
          default -> throw new AssertionError("op with tier '" + tier + "': " + what);
        }
        switch (kind) {
          case "put" -> {
            JsonNode value = op.get("value");
            assertTrue(value != null && value.isObject(), "put without an object value: " + what);
            assertEquals(tier, value.path("tier").asText(), "a row of another tier (a " + value.path("tier").asText()
                + " row) leaked: " + what);
            if (tier.equals("private")) {
              assertEquals(c.user, value.path("owner").asText(), "another user's private row leaked: " + what);
            }
          }
          case "del" -> {
            boolean known = tier.equals("public") ? publicDeletes.contains(key)
                : privateDeletes.get(c.user).contains(key);
            assertTrue(known, "a del that no " + tier + " delete of this user's view issued (a leaked delete of another"
                + " tier or user?): " + what);
          }
          default -> throw new AssertionError("unknown op: " + what);
        }
      }
      JsonNode lmids = poke.get("lastMutationIDChanges");
      lmids.fieldNames().forEachRemaining(client -> assertTrue(groups.get(c.group).contains(client),
          c + " got the mutation id of " + client + ", not of its group " + groups.get(c.group) + ": " + abbreviate(poke)));
    }

    /** @return the rows of a pull's patch as {@code tier/table/itemKey -> value}, each op checked like a poke's */
    Map<String, JsonNode> replicaOf(List<PatchOp> patch, String user, String what) {
      Client viewer = new Client("observer", "observer", user);
      groups.putIfAbsent("observer", Set.of());
      privateDeletes.computeIfAbsent(user, u -> new HashSet<>());
      ObjectNode asPoke = Json.mapper().createObjectNode().put("type", "poke");
      asPoke.set("patch", Json.mapper().valueToTree(patch));
      asPoke.set("lastMutationIDChanges", Json.mapper().createObjectNode());
      try {
        checkPoke(viewer, SyncTestClient.read(asPoke.toString()));
      } catch (AssertionError e) {
        throw new AssertionError(what + ": " + e.getMessage(), e);
      }
      return replicaOf(asPoke, user);
    }

    Map<String, JsonNode> replicaOf(JsonNode poke, String user) {
      Map<String, JsonNode> state = new TreeMap<>();
      for (JsonNode op : poke.get("patch")) {
        String k = op.path("tier").asText() + "/" + op.path("table").asText() + "/" + op.path("itemKey").asText();
        switch (op.path("op").asText()) {
          case "clear" -> state.clear();
          case "put" -> state.put(k, normalize(op.get("value")));
          case "del" -> state.remove(k);
          default -> throw new AssertionError("unknown op " + op);
        }
      }
      return state;
    }

    /**
     * The visible state of {@code user} must follow from the writes the test made, whatever order
     * the server committed concurrent clients in: a row shows the last write of one of the clients
     * that wrote it; a row every writer last put is there; a row nobody wrote, or only in another
     * tier or user's tier, is not.
     */
    void checkAgainstWrites(String user, Map<String, JsonNode> state) {
      Set<String> seen = new HashSet<>();
      for (var e : lastWrites.entrySet()) {
        Address a = e.getKey();
        boolean visible = a.tier().equals("public") || (a.tier().equals("private") && Objects.equals(a.owner(), user));
        if (!visible) {
          continue;
        }
        String k = a.tier() + "/" + a.table() + "/" + a.key();
        seen.add(k);
        JsonNode actual = state.get(k);
        Map<String, JsonNode> byClient = e.getValue();
        if (actual == null) {
          assertTrue(byClient.containsValue(null), "for " + (user == null ? "anonymous" : user) + ", " + a
              + " is missing, but the last write of every client that wrote it is a put: " + byClient);
        } else {
          assertTrue(byClient.containsValue(actual), "for " + (user == null ? "anonymous" : user) + ", " + a + " is "
              + actual + ", which is no client's last write: " + byClient);
        }
      }
      for (String k : state.keySet()) {
        assertTrue(seen.contains(k), "for " + (user == null ? "anonymous" : user) + ", row " + k + " = " + state.get(k)
            + " was never written to that tier of that user");
      }
    }

    void closeAll() {
      for (SyncTestClient s : everyConnection) {
        try {
          s.close();
        } catch (RuntimeException ignored) {
          // closing is best effort
        }
      }
    }
  }

  /** Through text, as a client reads it: the server may hold 1 as a long, a client's parser as an int. */
  static JsonNode normalize(JsonNode value) {
    return SyncTestClient.read(value.toString());
  }

  static Map<String, JsonNode> normalized(Map<String, JsonNode> replica) {
    Map<String, JsonNode> m = new TreeMap<>();
    replica.forEach((k, v) -> m.put(k, normalize(v)));
    return m;
  }

  /** {@code node} with every {@code pad} value replaced by its length, for messages. */
  static JsonNode brief(JsonNode node) {
    JsonNode copy = node.deepCopy();
    copy.findParents("pad").forEach(p -> ((ObjectNode) p).put("pad", "<" + p.get("pad").asText().length() + " chars>"));
    return copy;
  }

  static String abbreviate(JsonNode node) {
    String s = brief(node).toString();
    return s.length() > 600 ? s.substring(0, 600) + "..." : s;
  }
}
