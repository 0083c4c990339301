package io.syncedstore.persistence;

import io.syncedstore.api.auth.Principal;
import static io.syncedstore.persistence.TestApps.LAB;
import static io.syncedstore.persistence.TestApps.named;
import static io.syncedstore.persistence.TestApps.put;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.runtime.AppInstance;
import io.syncedstore.runtime.InstanceErrors;
import io.syncedstore.runtime.InstanceId;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The instance actor on a real H2 file journal: exactly once, failures, tiers, recovery, snapshots. */
@ExtendWith(LogCapturingExtension.class)
class EngineIntegrationTest {
  private static final InstanceId ID = new InstanceId("lab", "room-1");

  @TempDir
  Path dir;

  private SyncEngine start(int snapshotEvery) {
    return SyncEngine.start(TestApps.config(dir, snapshotEvery), List.of(LAB), "test");
  }

  private static <T> T await(CompletionStage<T> stage) {
    try {
      return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw InstanceErrors.unwrap(e.getCause() == null ? e : e.getCause());
    }
  }

  private static SyncException awaitError(CompletionStage<?> stage) {
    try {
      Object value = await(stage);
      fail("expected an error, got " + value);
      return null;
    } catch (SyncException e) {
      return e;
    }
  }

  private static AppInstance.PushResult push(SyncEngine engine, String client, String user, MutationRequest... ms) {
    return await(engine.push(ID, "group-" + client, client, user, List.of(ms)));
  }

  /** Everything a client of {@code user} sees from scratch, as tier/table/key -> value. */
  private static Map<String, String> visible(SyncEngine engine, String user) {
    AppInstance.PullResult pull = await(engine.pull(ID, "viewer", null, user));
    assertTrue(pull.reset());
    Map<String, String> out = new TreeMap<>();
    for (PatchOp op : pull.patch()) {
      if (op.op().equals("put")) {
        out.put(op.tier() + "/" + op.table() + "/" + op.itemKey(), op.value().toString());
      }
    }
    return out;
  }

  @Test
  void samePushTwiceAndAfterRestartAppliesOnce() {
    AppInstance.PushResult first;
    try (SyncEngine engine = start(1000)) {
      first = push(engine, "c1", null, put(1, "a", "1"), put(2, "b", "2"));
      assertEquals(List.of("applied", "applied"), first.results().stream().map(AppInstance.MutationResult::status).toList());
      AppInstance.PushResult again = push(engine, "c1", null, put(1, "a", "changed"), put(2, "b", "changed"));
      assertEquals(List.of("duplicate", "duplicate"), again.results().stream().map(AppInstance.MutationResult::status).toList());
      assertEquals(first.cookie(), again.cookie(), "a duplicate push must not add events");
    }
    try (SyncEngine engine = start(1000)) {
      AppInstance.PushResult afterRestart = push(engine, "c1", null, put(1, "a", "changed"), put(2, "b", "changed"), put(3, "c", "3"));
      assertEquals(List.of("duplicate", "duplicate", "applied"),
          afterRestart.results().stream().map(AppInstance.MutationResult::status).toList());
      assertEquals(3, afterRestart.lastMutationId());
      assertEquals(Map.of("public/kv/a", "\"1\"", "public/kv/b", "\"2\"", "public/kv/c", "\"3\""), visible(engine, null));
    }
    assertEquals(4, journalRows(), "InstanceCreated + 3 mutations, each exactly once");
  }

  @Test
  void gapIsRejectedAndNothingApplied() {
    try (SyncEngine engine = start(1000)) {
      AppInstance.PushResult ok = push(engine, "c1", null, put(1, "a", "1"));
      SyncException gap = awaitError(engine.push(ID, "group-c1", "c1", Principal.ANONYMOUS, List.of(put(2, "b", "2"), put(4, "d", "4"))));
      assertEquals(ErrorCode.MUTATION_ID_GAP, gap.code());
      assertTrue(gap.getMessage().contains("expected mutation id 3"), gap.getMessage());
      SyncException gapAtStart = awaitError(engine.push(ID, "group-c1", "c1", Principal.ANONYMOUS, List.of(put(3, "c", "3"))));
      assertTrue(gapAtStart.getMessage().contains("expected mutation id 2"), gapAtStart.getMessage());
      AppInstance.PullResult since = await(engine.pull(ID, "group-c1", ok.cookie(), Principal.ANONYMOUS));
      assertEquals(List.of(), since.patch(), "nothing of the rejected pushes was applied");
      assertEquals(ok.cookie(), since.cookie());
    }
  }

  @Test
  void throwingMutatorMidBatchWritesNothingAndTheNextApplies() {
    try (SyncEngine engine = start(1000)) {
      AppInstance.PushResult r = push(engine, "c1", null, put(1, "a", "1"), named(2, "boom", "key", "x"), put(3, "b", "2"));
      assertEquals(List.of("applied", "failed", "applied"), r.results().stream().map(AppInstance.MutationResult::status).toList());
      assertEquals(ErrorCode.MUTATOR_FAILED, r.results().get(1).code());
      assertTrue(r.results().get(1).message().contains("boom on x"), r.results().get(1).message());
      assertEquals(3, r.lastMutationId(), "a failed mutation still advances the id");
      assertEquals(Map.of("public/kv/a", "\"1\"", "public/kv/b", "\"2\""), visible(engine, null));
      AppInstance.PullResult own = await(engine.pull(ID, "group-c1", null, Principal.ANONYMOUS));
      assertEquals(Map.of("c1", 3L), own.lastMutationIdChanges());
    }
  }

  @Test
  void badInputFailsWithACodeAndLeavesStateUnchanged() {
    try (SyncEngine engine = start(1000)) {
      AppInstance.PushResult before = push(engine, "c1", null, put(1, "a", "1"));
      AppInstance.PushResult r = push(engine, "c1", null,
          named(2, "nope", "key", "a"),
          named(3, "put", "value", "no key"),
          named(4, "put", "key", 5, "value", "wrong type"),
          named(5, "put", "key", "big", "value", "x".repeat(300 * 1024)));
      assertEquals(List.of(ErrorCode.UNKNOWN_MUTATOR, ErrorCode.INVALID_INPUT, ErrorCode.INVALID_INPUT, ErrorCode.INPUT_TOO_LARGE),
          r.results().stream().map(AppInstance.MutationResult::code).toList());
      assertTrue(r.results().get(1).message().contains("'key'"), r.results().get(1).message());
      assertTrue(r.results().get(2).message().contains("'key'"), r.results().get(2).message());
      AppInstance.PullResult since = await(engine.pull(ID, "group-c1", before.cookie(), Principal.ANONYMOUS));
      assertEquals(List.of(), since.patch());
      assertEquals(Map.of("public/kv/a", "\"1\""), visible(engine, null));
    }
  }

  @Test
  void clientIdBelongsToItsFirstUser() {
    try (SyncEngine engine = start(1000)) {
      push(engine, "c1", "alice", put(1, "a", "1"));
      SyncException e = awaitError(engine.push(ID, "group-c1", "c1", "mallory", List.of(put(2, "a", "stolen"))));
      assertEquals(ErrorCode.CLIENT_OWNED_BY_OTHER_USER, e.code());
      assertEquals(Map.of("public/kv/a", "\"1\""), visible(engine, null));
    }
  }

  @Test
  void pullsShowPublicAndOwnPrivateRowsOnly() {
    try (SyncEngine engine = start(1000)) {
      push(engine, "ca", "alice", put(1, "shared", "p"), named(2, "putPrivate", "key", "n", "value", "alice's"),
          named(3, "putServer", "key", "secret", "value", "s"));
      push(engine, "cb", "bob", named(1, "putPrivate", "key", "n", "value", "bob's"));
      assertEquals(Map.of("public/kv/shared", "\"p\"", "private/notes/n", "\"alice's\""), visible(engine, "alice"));
      assertEquals(Map.of("public/kv/shared", "\"p\"", "private/notes/n", "\"bob's\""), visible(engine, "bob"));
      assertEquals(Map.of("public/kv/shared", "\"p\""), visible(engine, null));
    }
  }

  @Test
  void incrementalPullCarriesPutsDeletesAndOwnConfirmations() {
    try (SyncEngine engine = start(1000)) {
      AppInstance.PushResult r1 = push(engine, "c1", null, put(1, "a", "1"), put(2, "b", "2"));
      push(engine, "c1", null, named(3, "del", "key", "a"), put(4, "b", "3"));
      push(engine, "other", null, put(1, "z", "9"));
      AppInstance.PullResult pull = await(engine.pull(ID, "group-c1", r1.cookie(), Principal.ANONYMOUS));
      assertFalse(pull.reset());
      List<String> ops = new ArrayList<>();
      pull.patch().forEach(op -> ops.add(op.op() + " " + op.itemKey() + (op.value() == null ? "" : "=" + op.value())));
      ops.sort(null);
      assertEquals(List.of("del a", "put b=\"3\"", "put z=\"9\""), ops);
      assertEquals(Map.of("c1", 4L), pull.lastMutationIdChanges(), "only this group's clients, only changed ones");
    }
  }

  @ParameterizedTest(name = "snapshotEvery={0}")
  @ValueSource(ints = {1000, 7})
  void restartRecoversIdenticalState(int snapshotEvery) throws Exception {
    Map<String, String> before;
    Map<String, String> beforeAlice;
    String cookie;
    try (SyncEngine engine = start(snapshotEvery)) {
      long id = 0;
      for (int i = 0; i < 40; i++) {
        push(engine, "c1", "alice", put(++id, "k" + (i % 13), "v" + i));
        if (i % 5 == 0) {
          push(engine, "c1", "alice", named(++id, "del", "key", "k" + (i % 7)));
        }
        if (i % 9 == 0) {
          push(engine, "c1", "alice", named(++id, "putPrivate", "key", "p" + i, "value", "mine"));
        }
      }
      before = visible(engine, null);
      beforeAlice = visible(engine, "alice");
      cookie = await(engine.pull(ID, "group-c1", null, "alice")).cookie();
    }
    assertEquals(snapshotEvery < 100, snapshotRows() > 0, "snapshots are taken every " + snapshotEvery + " events");
    try (SyncEngine engine = start(snapshotEvery)) {
      assertEquals(before, visible(engine, null));
      assertEquals(beforeAlice, visible(engine, "alice"));
      AppInstance.PullResult fromOldCookie = await(engine.pull(ID, "group-c1", cookie, "alice"));
      assertFalse(fromOldCookie.reset(), "a cookie from before the restart is still valid");
      assertEquals(List.of(), fromOldCookie.patch());
      assertEquals(cookie, fromOldCookie.cookie());
    }
  }

  @Test
  void exactDecimalsAreTheSameBeforeAndAfterARestart() {
    String before;
    try (SyncEngine engine = start(1000)) {
      push(engine, "c1", null, named(1, "put", "key", "money", "value", new java.math.BigDecimal("0.12345678901234567890123")));
      before = visible(engine, null).get("public/kv/money");
    }
    assertEquals("0.12345678901234567890123", before);
    try (SyncEngine engine = start(1000)) {
      assertEquals(before, visible(engine, null).get("public/kv/money"), "the journal changed the value");
    }
  }

  @Test
  void snapshotsAreSpacedByInstanceSizeAndOnlyTheLastTwoAreKept() throws Exception {
    // snapshot-every 5, one row per event: every push adds an entry, so after a snapshot taken with
    // n entries the next one is due n events later (at least 5): the gaps double. Two are kept.
    Map<String, String> before;
    try (SyncEngine engine = SyncEngine.start(TestApps.config(dir, 5, 1), List.of(LAB), "test")) {
      for (int i = 1; i <= 60; i++) {
        push(engine, "c1", null, put(i, "k" + i, "v" + i));
      }
      before = visible(engine, null);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (snapshotSequenceNumbers().size() != 2 && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      List<Long> kept = snapshotSequenceNumbers();
      assertEquals(2, kept.size(), "only the last two snapshots are kept: " + kept);
      long older = kept.get(0);
      long newer = kept.get(1);
      // the instance held at least older - 2 entries (sequence 1 is InstanceCreated) when the older one was taken
      assertTrue(newer - older >= older - 2 && newer - older > 5, "snapshots are spaced by the instance's size: " + kept);
      assertTrue(newer > 20, "snapshots kept being taken: " + kept);
    }
    try (SyncEngine engine = SyncEngine.start(TestApps.config(dir, 5, 1), List.of(LAB), "test")) {
      assertEquals(before, visible(engine, null));
    }
  }

  private List<Long> snapshotSequenceNumbers() {
    List<Long> out = new ArrayList<>();
    try (Connection c = DriverManager.getConnection("jdbc:h2:file:" + dir + "/journal;DATABASE_TO_UPPER=false", "sa", "");
        ResultSet rs = c.createStatement().executeQuery(
            "SELECT \"sequence_number\" FROM \"snapshot\" WHERE \"persistence_id\" = 'lab|room-1' ORDER BY 1")) {
      while (rs.next()) {
        out.add(rs.getLong(1));
      }
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    return out;
  }

  @Test
  void cookieFromAnotherEpochGetsAReset() {
    try (SyncEngine engine = start(1000)) {
      push(engine, "c1", null, put(1, "a", "1"));
      AppInstance.PullResult pull = await(engine.pull(ID, "group-c1", "someotherepoch:1", Principal.ANONYMOUS));
      assertTrue(pull.reset());
      assertEquals("clear", pull.patch().get(0).op());
      SyncException bad = awaitError(engine.pull(ID, "group-c1", "garbage", Principal.ANONYMOUS));
      assertEquals(ErrorCode.BAD_REQUEST, bad.code());
    }
  }

  private long journalRows() {
    return count("SELECT COUNT(*) FROM \"event_journal\" WHERE \"persistence_id\" = 'lab|room-1'");
  }

  private long snapshotRows() {
    return count("SELECT COUNT(*) FROM \"snapshot\" WHERE \"persistence_id\" = 'lab|room-1'");
  }

  private long count(String sql) {
    try (Connection c = DriverManager.getConnection("jdbc:h2:file:" + dir + "/journal;DATABASE_TO_UPPER=false", "sa", "");
        ResultSet rs = c.createStatement().executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
