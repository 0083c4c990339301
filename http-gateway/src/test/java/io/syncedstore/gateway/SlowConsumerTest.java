package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Json;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.runtime.AppInstance;
import io.syncedstore.runtime.ClientSession;
import io.syncedstore.runtime.InstanceId;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that stops reading while 10,000 writes of 1-2 KB go by (far more than the TCP buffers
 * between it and the server hold): its session's outbound buffer stays within
 * {@code synced-store.session.max-queued-messages}, pokes are dropped instead of queued, another
 * client on the same instance keeps receiving and converges meanwhile, and once the slow client reads
 * again one catch-up brings it to exactly the server's state. No timing assertions: only timeouts
 * against hangs.
 */
@ExtendWith(LogCapturingExtension.class)
class SlowConsumerTest {
  static final String APP = "slowconsumer";
  static final int MAX_QUEUED = 16;
  static final int WRITES = 10_000;
  static final int KEYS = 1_000;
  /** Mutations per push message (the instance commits a few pushes together): the slow client still misses hundreds of pokes. */
  static final int PER_PUSH = 5;

  record Put(String key, String text) {}

  record Key(String key) {}

  record Fail(int messageLength) {}

  static final AppDefinition APP_DEFINITION = AppDefinition.builder(APP).schemaVersion(1)
      .table("items", JsonNode.class)
      .mutator("put", Put.class, (ctx, in) -> ctx.table("items").set(in.key(), Map.of("key", in.key(), "text", in.text())))
      .mutator("del", Key.class, (ctx, in) -> ctx.table("items").delete(in.key()))
      // a validation error quoting what it refused: a small input, a large mutationFailed message
      .mutator("fail", Fail.class, (ctx, in) -> {
        throw new IllegalArgumentException("refused: " + "x".repeat(in.messageLength()));
      })
      .build();

  @TempDir
  static Path dir;

  private static SyncServer server;

  @BeforeAll
  static void start() {
    server = TestServers.start(dir, List.of(APP_DEFINITION), Map.of("synced-store.session.max-queued-messages", MAX_QUEUED));
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void aStalledClientCostsABoundedBufferAndCatchesUpExactly() throws Exception {
    String instance = "slow-" + Long.toHexString(System.nanoTime());
    InstanceId id = new InstanceId(APP, instance);
    List<SyncTestClient> opened = new ArrayList<>();
    try {
      SyncTestClient slow = connect(instance, "slow", "dev:sam", opened);
      SyncTestClient fast = connect(instance, "fast", "dev:fay", opened);
      SyncTestClient writer = connect(instance, "writer", "dev:walt", opened);
      slow.nextMessage(); // its initial (empty) poke
      slow.pause();

      long t0 = System.nanoTime();
      Random random = new Random(7);
      List<ClientSession.Stats> samples = new ArrayList<>();
      long last = 0;
      for (int i = 0; i < WRITES; i += PER_PUSH) {
        ObjectNode push = Json.mapper().createObjectNode().put("type", "push");
        ArrayNode mutations = push.putArray("mutations");
        for (int j = i; j < i + PER_PUSH; j++) {
          String key = "k" + random.nextInt(KEYS);
          last = writer.nextMutationId++;
          ObjectNode m = mutations.addObject().put("id", last).put("timestamp", 1_700_000_000_000L + j);
          if (random.nextInt(10) == 0) {
            m.put("name", "del").set("args", Json.mapper().valueToTree(new Key(key)));
          } else {
            m.put("name", "put").set("args", Json.mapper().valueToTree(new Put(key, text(random, j))));
          }
        }
        writer.sendRaw(push.toString());
        if ((i / PER_PUSH) % 100 == 99) {
          samples.add(stats(id, "slow"));
        }
      }
      long lastWrite = last;
      // The writer reads its own pokes: all its writes are applied.
      writer.awaitConfirmed(lastWrite);
      long t1 = System.nanoTime();

      AppInstance.PullResult state = server.engine().pull(id, "observer", null, "sam").toCompletableFuture().get(30, TimeUnit.SECONDS);
      Map<String, JsonNode> expected = replica(state.patch());
      assertTrue(expected.size() > KEYS / 2, "most keys hold a value: " + expected.size());

      // The fast client converges while the slow one still does not read.
      fast.awaitUntil(() -> state.cookie().equals(fast.cookie));
      assertEquals(expected, normalized(fast.replica), "replica of the fast client");
      long t2 = System.nanoTime();

      ClientSession.Stats stalled = stats(id, "slow");
      samples.add(stalled);
      String evidence = "slow session while stalled: " + stalled + "; samples during the writes: " + samples;
      for (ClientSession.Stats s : samples) {
        assertTrue(s.queued() <= MAX_QUEUED, "queued above max-queued-messages: " + evidence);
        assertTrue(s.maxQueued() <= MAX_QUEUED, "maxQueued above max-queued-messages: " + evidence);
      }
      assertTrue(stalled.pokesDropped() > 0, "a stalled client's pokes must be dropped, not buffered: " + evidence);
      assertTrue(!slow.isClosed(), "the stalled client was disconnected: " + evidence);

      slow.resume();
      try {
        slow.awaitUntil(() -> state.cookie().equals(slow.cookie));
      } catch (AssertionError e) {
        throw new AssertionError("the slow client did not reach the final cookie " + state.cookie() + " after it read again"
            + " (it holds " + slow.cookie + "); its session now: " + statsOrNone(id, "slow") + "; " + evidence, e);
      }
      assertEquals(expected, normalized(slow.replica), "replica of the slow client after it read again; " + evidence);
      long t3 = System.nanoTime();
      ClientSession.Stats after = stats(id, "slow");
      assertTrue(after.catchUps() >= 1, "the slow client converged through a catch-up: " + after + "; " + evidence);
      assertTrue(after.maxQueued() <= MAX_QUEUED, "maxQueued above max-queued-messages: " + after);
      assertEquals(state.cookie(), after.cookie(), "the slow session's cookie: " + after);
      assertTrue(slow.errors.isEmpty() && fast.errors.isEmpty() && writer.errors.isEmpty() && writer.failures.isEmpty(),
          slow.errors + " " + fast.errors + " " + writer.errors + " " + writer.failures);

      ClientSession.Stats fastStats = stats(id, "fast");
      assertTrue(fastStats.maxQueued() <= MAX_QUEUED, "maxQueued of the fast session: " + fastStats);
      System.out.println("SlowConsumerTest: slow " + after + "; fast " + fastStats + "; writer " + stats(id, "writer")
          + "; slow client read " + slow.pokes + " pokes, fast client " + fast.pokes + "; ms: writes " + (t1 - t0) / 1_000_000
          + ", fast client converged " + (t2 - t1) / 1_000_000 + ", slow client caught up " + (t3 - t2) / 1_000_000);
    } finally {
      opened.forEach(SyncTestClient::close);
    }
  }

  /**
   * A client that stops reading but keeps pushing mutations that fail. Each failure becomes a
   * {@code mutationFailed} message, which the session never drops: {@code ClientSession.notice}
   * appends it to {@code notices} unconditionally, and {@code onPushAnswered} forwards the client's
   * next push whatever the backlog, so the gateway keeps reading the client's pushes. 10,000
   * failures with ~4 KB messages (from ~1 MB the client sends) are ~40 MB of notices, of which only
   * ~4 MB fit in the socket buffers: the rest waits in the session's memory, unbounded. A bounded
   * session stops reading the client's pushes (TCP backpressure) or closes the connection; this
   * test accepts either. Disabled while the bug stands; run it with
   * {@code -Djunit.jupiter.conditions.deactivate=org.junit.*DisabledCondition}.
   */
  @Test
  void aClientThatPushesFailingMutationsWithoutReadingCostsABoundedBuffer() throws Exception {
    String instance = "notices-" + Long.toHexString(System.nanoTime());
    InstanceId id = new InstanceId(APP, instance);
    int total = 10_000;
    int perPush = 50;
    int messageLength = 4_000;
    List<SyncTestClient> opened = new ArrayList<>();
    ExecutorService sender = Executors.newSingleThreadExecutor();
    try {
      SyncTestClient client = connect(instance, "pusher", "dev:pat", opened);
      client.nextMessage(); // its initial poke
      client.pause();
      // Sent from another thread: a bounded server stops reading, and the sends then block.
      sender.submit(() -> {
        for (int i = 0; i < total; i += perPush) {
          ObjectNode push = Json.mapper().createObjectNode().put("type", "push");
          ArrayNode mutations = push.putArray("mutations");
          for (int j = 0; j < perPush; j++) {
            mutations.addObject().put("id", client.nextMutationId++).put("name", "fail").put("timestamp", 1L)
                .set("args", Json.mapper().valueToTree(new Fail(messageLength)));
          }
          client.sendRaw(push.toString());
        }
        return null;
      });
      // Wait until the instance has processed every failing mutation, or stopped taking them.
      long processed = -1;
      long unchangedSince = System.nanoTime();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (System.nanoTime() < deadline && !client.isClosed()) {
        long now = server.engine().pull(id, "g-pusher", null, "pat").toCompletableFuture().get(30, TimeUnit.SECONDS)
            .lastMutationIdChanges().getOrDefault("pusher", 0L);
        if (now != processed) {
          processed = now;
          unchangedSince = System.nanoTime();
        }
        if (processed >= total || System.nanoTime() - unchangedSince > TimeUnit.SECONDS.toNanos(5)) {
          break;
        }
        Thread.sleep(100);
      }
      long noticeBytes = processed * (messageLength + 150);
      assertTrue(client.isClosed() || processed < total, "while its client read nothing, the session took all " + processed
          + " failing mutations, whose mutationFailed messages (~" + noticeBytes / 1_000_000 + " MB, never dropped) are far"
          + " more than socket buffers hold: the rest waits in the session's memory; " + stats(id, "pusher"));
    } finally {
      sender.shutdownNow();
      opened.forEach(SyncTestClient::close);
    }
  }

  private static SyncTestClient connect(String instance, String clientId, String token, List<SyncTestClient> opened) {
    SyncTestClient c = SyncTestClient.open(server.port(), APP, instance, clientId);
    opened.add(c);
    c.hello("g-" + clientId, null, 1, token);
    c.awaitConnected();
    return c;
  }

  /** 1-2 KB of text, different for every write. */
  private static String text(Random random, int i) {
    StringBuilder sb = new StringBuilder("write " + i + " ");
    int length = 1024 + random.nextInt(1024);
    while (sb.length() < length) {
      sb.append((char) ('a' + random.nextInt(26)));
    }
    return sb.toString();
  }

  private static ClientSession.Stats stats(InstanceId id, String clientId) throws Exception {
    List<ClientSession.Stats> all = server.engine().sessionStats(id).toCompletableFuture().get(30, TimeUnit.SECONDS);
    return all.stream().filter(s -> s.clientId().equals(clientId)).findFirst()
        .orElseThrow(() -> new AssertionError("the session of " + clientId + " is gone (its connection failed or was closed);"
            + " sessions: " + all));
  }

  private static Object statsOrNone(InstanceId id, String clientId) {
    try {
      return stats(id, clientId);
    } catch (Throwable e) {
      return e.getMessage();
    }
  }

  private static Map<String, JsonNode> replica(List<PatchOp> patch) {
    Map<String, JsonNode> m = new TreeMap<>();
    for (PatchOp op : patch) {
      switch (op.op()) {
        case "clear" -> m.clear();
        case "put" -> m.put(op.tier() + "/" + op.table() + "/" + op.itemKey(), SyncTestClient.read(op.value().toString()));
        case "del" -> m.remove(op.tier() + "/" + op.table() + "/" + op.itemKey());
        default -> throw new AssertionError("unknown op " + op);
      }
    }
    return m;
  }

  private static Map<String, JsonNode> normalized(Map<String, JsonNode> replica) {
    Map<String, JsonNode> m = new TreeMap<>();
    replica.forEach((k, v) -> m.put(k, SyncTestClient.read(v.toString())));
    return m;
  }
}
