package io.syncedstore.client.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.syncedstore.api.AppDefinition;
import io.syncedstore.client.SyncClient;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Actions enqueued and scheduled by mutators: run after commit, durable across a server restart
 * (at least once), scheduled ones at or after their time, cancelled ones never.
 */
class EnqueuedActionsTest {
  /**
   * Input of {@code enqueue}, {@code cancel} and the action {@code work}.
   *
   * @param key which job
   */
  record Job(String key) {}

  /**
   * Input of {@code schedule}.
   *
   * @param key which job
   * @param delayMs how long from now
   */
  record Schedule(String key, long delayMs) {}

  /**
   * Input of {@code markDone}.
   *
   * @param key which job
   * @param at when the action ran (server clock)
   */
  record Done(String key, long at) {}

  /** Runs of the action per key; a key in {@link #HOLD} blocks until released. */
  static final Map<String, AtomicInteger> RUNS = new ConcurrentHashMap<>();
  static final Map<String, CountDownLatch> HOLD = new ConcurrentHashMap<>();
  static final Map<String, CountDownLatch> STARTED = new ConcurrentHashMap<>();

  static final AppDefinition APP = AppDefinition.builder("enqueue-test").schemaVersion(1)
      .table("done", Long.class)
      .table("schedules", String.class)
      .mutator("enqueue", Job.class, (ctx, in) -> ctx.enqueueAction("work", new Job(in.key())))
      .mutator("schedule", Schedule.class, (ctx, in) -> ctx.table("schedules").set(in.key(),
          ctx.scheduleAction(Duration.ofMillis(in.delayMs()), "work", new Job(in.key()))))
      .mutator("cancel", Job.class, (ctx, in) -> ctx.table("schedules").get(in.key(), String.class)
          .ifPresent(ctx::cancelScheduledAction))
      .mutator("markDone", Done.class, (ctx, in) -> ctx.table("done").set(in.key(), in.at()))
      .action("work", Job.class, Void.class, (ctx, in) -> {
        RUNS.computeIfAbsent(in.key(), k -> new AtomicInteger()).incrementAndGet();
        STARTED.computeIfAbsent(in.key(), k -> new CountDownLatch(1)).countDown();
        CountDownLatch hold = HOLD.get(in.key());
        if (hold != null) {
          hold.await(); // interrupted when the server stops: the completion is never recorded
        }
        ctx.mutate("markDone", new Done(in.key(), System.currentTimeMillis()));
        return null;
      })
      .build();

  private static int runs(String key) {
    AtomicInteger n = RUNS.get(key);
    return n == null ? 0 : n.get();
  }

  @Test
  void anEnqueuedActionRunsAfterCommitAndWritesThroughItsMutation() {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient alice = kit.createClient("alice");
      SyncClient bob = kit.createClient("bob");
      alice.mutate("enqueue", new Job("plain"));
      kit.waitForKeyExists(bob, "done", "plain");
      kit.waitForAllClients();
      assertEquals(1, runs("plain"));
    }
  }

  @Test
  void anEnqueuedActionInterruptedByAServerStopRunsAgainAfterTheRestart() throws Exception {
    HOLD.put("crash", new CountDownLatch(1));
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient alice = kit.createClient("alice");
      alice.mutate("enqueue", new Job("crash"));
      assertTrue(STARTED.computeIfAbsent("crash", k -> new CountDownLatch(1)).await(10, TimeUnit.SECONDS), "the action started");
      kit.stopServer(); // before the action completed: its completion is not in the journal
      HOLD.remove("crash");
      kit.startServer();
      kit.waitForKeyExists(alice, "done", "crash"); // the reconnecting client starts the instance, which runs it again
      assertEquals(2, runs("crash"), "at least once: run again after the restart");
      kit.waitForActions(); // its completion is recorded
      kit.restartServer();
      SyncClient bob = kit.createClient("bob");
      kit.waitForAllClients();
      boolean done = bob.query(tx -> tx.table("done").has("crash"));
      assertTrue(done);
      assertEquals(2, runs("crash"), "recorded as completed: not run a third time");
    }
  }

  @Test
  void scheduledActionsFireAfterARestartAtTheirTimeAndCancelledOnesNever() {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient alice = kit.createClient("alice");
      kit.waitForAllClients();
      long before = System.currentTimeMillis();
      alice.mutate("schedule", new Schedule("later", 1500));
      alice.mutate("schedule", new Schedule("cancelled", 1500));
      alice.mutate("cancel", new Job("cancelled"));
      kit.waitForAllClients();
      kit.restartServer(); // before either is due
      kit.waitForAllClients();
      kit.waitForKeyExists(alice, "done", "later");
      long ranAt = alice.query(tx -> tx.table("done").get("later", Long.class)).orElseThrow();
      assertTrue(ranAt >= before + 1500, "ran at or after its time: " + (ranAt - before) + " ms after scheduling");
      // the cancelled one was due at the same time; give it a generous second past that to show up
      kit.waitFor("a second past the cancelled action's time", () -> System.currentTimeMillis() > before + 2500, () -> "");
      kit.waitForAllClients();
      boolean cancelledRan = alice.query(tx -> tx.table("done").has("cancelled"));
      assertFalse(cancelledRan, "a cancelled action never runs");
      assertEquals(0, runs("cancelled"));
    }
  }

  @Test
  void aRestartedServerRunsScheduledActionsOfInstancesNobodyTouches() {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient alice = kit.createClient("alice", b -> b.instanceId("quiet"));
      alice.mutate("schedule", new Schedule("wake", 1000));
      kit.waitForAllClients();
      alice.close(); // nobody will touch instance "quiet" after the restart
      kit.restartServer();
      kit.waitFor("the scheduled action to run in the untouched instance", () -> runs("wake") == 1, () -> "runs " + runs("wake"));
    }
  }

  @Test
  void aPassivatedInstanceWakesUpForItsScheduledAction() {
    try (SyncTestKit kit = SyncTestKit.builder(APP).serverSetting("synced-store.instance.idle-timeout", "400ms").start()) {
      SyncClient alice = kit.createClient("alice", b -> b.instanceId("sleepy"));
      alice.mutate("schedule", new Schedule("sleepy", 2500));
      kit.waitForAllClients();
      alice.close(); // the instance passivates while its action is not yet due
      kit.waitFor("the action to run after the instance passivated", () -> runs("sleepy") == 1, () -> "runs " + runs("sleepy"));
    }
  }

  @Test
  void anActionScheduledFarAheadDoesNotStopItsInstance() {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient alice = kit.createClient("alice", b -> b.instanceId("patient"));
      alice.mutate("schedule", new Schedule("next-year", Duration.ofDays(300).toMillis())); // beyond Pekko's longest timer
      alice.mutate("enqueue", new Job("now"));
      kit.waitForKeyExists(alice, "done", "now");
      kit.restartServer(); // recovery arms the far timer again
      alice.mutate("enqueue", new Job("after-restart"));
      kit.waitForKeyExists(alice, "done", "after-restart");
      assertEquals(0, runs("next-year"));
    }
  }
}
