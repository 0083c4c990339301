package io.syncedstore.client.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.Table;
import io.syncedstore.client.SyncClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Actions against the kit's real server: reads of every tier, writes through {@code ctx.mutate}
 * attributed to the caller, the errors a caller gets (and that the instance keeps serving after
 * them), the per-instance concurrency limit, a call made after pending mutations, and a connection
 * dropped while an action runs.
 */
class ActionsTest {
  private static final long WAIT_SECONDS = 15;

  // ---- the app -----------------------------------------------------------------------------

  /** A public note; {@code by} is the user whose mutation wrote it. */
  record Note(String id, String text, String by) {}

  /** Input of {@code addNote}. */
  record AddNote(String id, String text) {}

  /** The caller's private profile (private tier, key {@code me}). */
  record Profile(String name) {}

  /** Input of {@code setProfile}. */
  record SetProfile(String name) {}

  /** A server-only secret (key {@code multiplier}). */
  record Secret(int multiplier) {}

  /** Input of {@code setSecret}. */
  record SetSecret(int multiplier) {}

  /** A public counter. */
  record Count(int n) {}

  /** Input of {@code increment}. */
  record Increment(String key) {}

  /** A public result written by an action through {@code ctx.mutate}; {@code by} is the mutation's user. */
  record Summary(String id, String text, String by) {}

  /** Input of {@code writeSummary}. */
  record WriteSummary(String id, String text) {}

  /** Input of {@code reject}: a mutator the server refuses. */
  record Reject(String key) {}

  /** Input of {@code summarize}. */
  record SummarizeIn(String noteId, String resultId) {}

  /**
   * Output of {@code summarize}.
   *
   * @param resultId where the summary was written
   * @param text what was computed
   * @param caller {@code ctx.userId()} as the action saw it
   * @param noteBy who wrote the note it read
   */
  record SummaryOut(String resultId, String text, String caller, String noteBy) {}

  /** Input of {@code fail}: which {@link Error} to throw ({@code assertion} or {@code stackOverflow}). */
  record FailIn(String kind) {}

  /** Input of {@code typed}. */
  record TypedIn(int n) {}

  /** Input of {@code blocked}, {@code slow}, {@code boom}, {@code readCounter}... */
  record Id(String id) {}

  /** Counted down when {@code slow} is interrupted. */
  static volatile CountDownLatch interrupted = new CountDownLatch(1);
  /** {@code blocked} waits for it. */
  static volatile CountDownLatch gate = new CountDownLatch(0);
  /** {@code blocked} releases a permit as it starts. */
  static volatile Semaphore started = new Semaphore(0);

  private static int recurse(int depth) {
    return recurse(depth + 1) + 1;
  }

  static final AppDefinition APP = AppDefinition.builder("actions-test").schemaVersion(1)
      .table("notes", Note.class)
      .table("profile", Profile.class)
      .table("secrets", Secret.class)
      .table("counters", Count.class)
      .table("results", Summary.class)
      .mutator("addNote", AddNote.class, (ctx, in) ->
          ctx.table("notes").set(in.id(), new Note(in.id(), in.text(), ctx.userId().orElse("?"))))
      .mutator("setProfile", SetProfile.class, (ctx, in) ->
          ctx.privateOfUser(ctx.userId().orElseThrow()).table("profile").set("me", new Profile(in.name())))
      .mutator("setSecret", SetSecret.class, (ctx, in) -> {
        if (ctx.isServer()) {
          ctx.serverOnly().table("secrets").set("multiplier", new Secret(in.multiplier()));
        }
      })
      .mutator("increment", Increment.class, (ctx, in) -> {
        Table counters = ctx.table("counters");
        int n = counters.get(in.key(), Count.class).map(Count::n).orElse(0);
        counters.set(in.key(), new Count(n + 1));
      })
      .mutator("writeSummary", WriteSummary.class, (ctx, in) ->
          ctx.table("results").set(in.id(), new Summary(in.id(), in.text(), ctx.userId().orElse("?"))))
      .mutator("reject", Reject.class, (ctx, in) -> {
        ctx.table("notes").set(in.key(), new Note(in.key(), "rejected", "?"));
        if (ctx.isServer()) {
          throw new IllegalStateException("the server refuses " + in.key());
        }
      })
      .action("summarize", SummarizeIn.class, SummaryOut.class, (ctx, in) -> {
        String caller = ctx.userId().orElseThrow(() -> new IllegalStateException("anonymous caller"));
        Note note = ctx.table("notes").get(in.noteId(), Note.class)
            .orElseThrow(() -> new IllegalStateException("no note " + in.noteId()));
        Profile profile = ctx.privateOfUser(caller).table("profile").get("me", Profile.class)
            .orElseThrow(() -> new IllegalStateException("no profile for " + caller));
        Secret secret = ctx.serverOnly().table("secrets").get("multiplier", Secret.class)
            .orElseThrow(() -> new IllegalStateException("no secret"));
        String text = profile.name() + ": " + note.text().toUpperCase() + " x" + secret.multiplier();
        ctx.mutate("writeSummary", new WriteSummary(in.resultId(), text));
        return new SummaryOut(in.resultId(), text, caller, note.by());
      })
      .action("boom", Id.class, String.class, (ctx, in) -> {
        throw new IllegalStateException("boom");
      })
      .action("slow", Id.class, String.class, (ctx, in) -> {
        try {
          Thread.sleep(60_000);
        } catch (InterruptedException e) {
          interrupted.countDown();
          throw e;
        }
        return "slept";
      })
      .action("fail", FailIn.class, String.class, (ctx, in) -> {
        if (in.kind().equals("assertion")) {
          throw new AssertionError("assertion in action");
        }
        return "depth " + recurse(0);
      })
      .action("typed", TypedIn.class, Integer.class, (ctx, in) -> in.n() * 2)
      .action("mutateRejected", Reject.class, String.class, (ctx, in) -> {
        try {
          ctx.mutate("reject", in);
          return "applied";
        } catch (SyncException e) {
          return e.code().name();
        }
      })
      .action("readCounter", Id.class, Integer.class, (ctx, in) ->
          ctx.table("counters").get(in.id(), Count.class).map(Count::n).orElse(0))
      .action("bump", Id.class, Integer.class, (ctx, in) -> {
        ctx.mutate("increment", new Increment(in.id()));
        return ctx.table("counters").get(in.id(), Count.class).map(Count::n).orElse(0);
      })
      .action("nothing", Id.class, Void.class, (ctx, in) -> null)
      .action("badScan", Id.class, Integer.class, (ctx, in) -> ctx.table("counters").scan(null).size())
      .action("mutateRejectedUncaught", Reject.class, String.class, (ctx, in) -> {
        ctx.mutate("reject", in);
        return "applied";
      })
      .action("stubborn", Id.class, String.class, (ctx, in) -> {
        started.release();
        while (true) { // ignores interrupts: keeps its pool thread until the test opens the gate
          try {
            if (gate.await(WAIT_SECONDS * 2, TimeUnit.SECONDS)) {
              return "done " + in.id();
            }
            throw new IllegalStateException("the gate was never opened");
          } catch (InterruptedException e) {
            // deliberately ignored
          }
        }
      })
      .action("blocked", Id.class, String.class, (ctx, in) -> {
        started.release();
        if (!gate.await(WAIT_SECONDS * 2, TimeUnit.SECONDS)) {
          throw new IllegalStateException("the gate was never opened");
        }
        return "done " + in.id();
      })
      .build();

  // ---- helpers -----------------------------------------------------------------------------

  private static <T> T get(CompletableFuture<T> f) throws Exception {
    return f.get(WAIT_SECONDS, TimeUnit.SECONDS);
  }

  private static SyncException failure(CompletableFuture<?> f) {
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(WAIT_SECONDS, TimeUnit.SECONDS));
    return assertInstanceOf(SyncException.class, e.getCause(), "the future fails with a SyncException");
  }

  private static SyncException failure(CompletableFuture<?> f, ErrorCode code) {
    SyncException e = failure(f);
    assertEquals(code, e.code(), "code of " + e.getMessage());
    return e;
  }

  // ---- tests -------------------------------------------------------------------------------

  @Test
  void actionReadsEveryTierWritesThroughAMutatorAsTheCallerAndReturnsTypedOutput() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient alice = kit.createClient("alice");
      SyncClient bob = kit.createClient("bob");
      kit.waitForAllClients(); // the client learns its user id from the server; setProfile needs it
      alice.mutate("addNote", new AddNote("n1", "hello"));
      alice.mutate("setProfile", new SetProfile("Alice A."));
      alice.mutate("setSecret", new SetSecret(3));
      // No wait: the call goes out once those three are confirmed, so the action sees them.
      SummaryOut out = get(alice.action("summarize", new SummarizeIn("n1", "r1"), SummaryOut.class));
      assertEquals(new SummaryOut("r1", "Alice A.: HELLO x3", "alice", "alice"), out);

      kit.waitForKeyExists(bob, "results", "r1");
      assertEquals(new Summary("r1", "Alice A.: HELLO x3", "alice"),
          bob.query(tx -> tx.table("results").get("r1", Summary.class).orElseThrow()),
          "the action's mutation reaches other clients, attributed to the caller");
      kit.waitForKeyExists(alice, "results", "r1");
      assertEquals("alice", alice.query(tx -> tx.table("results").get("r1", Summary.class).orElseThrow().by()));

      // The private read is the caller's: bob has no profile.
      SyncException e = failure(bob.action("summarize", new SummarizeIn("n1", "r2"), SummaryOut.class), ErrorCode.ACTION_FAILED);
      assertTrue(e.getMessage().contains("no profile for bob"), e.getMessage());
      // The untyped form gives the JSON.
      assertEquals("alice", get(alice.action("summarize", new SummarizeIn("n1", "r3"))).get("caller").asText());
      kit.waitForKeyExists(bob, "results", "r3");
      kit.waitForAllClients();
      assertFalse((boolean) bob.query(tx -> tx.table("results").has("r2")), "a failed action wrote nothing");
    }
  }

  @Test
  void errorsReachTheCallerAndTheInstanceKeepsServing() throws Exception {
    interrupted = new CountDownLatch(1);
    try (SyncTestKit kit = SyncTestKit.builder(APP).serverSetting("synced-store.actions.timeout", "500ms").start()) {
      SyncClient alice = kit.createClient("alice");

      SyncException boom = failure(alice.action("boom", new Id("x")), ErrorCode.ACTION_FAILED);
      assertTrue(boom.getMessage().contains("boom"), boom.getMessage());

      SyncException slow = failure(alice.action("slow", new Id("x"), String.class), ErrorCode.ACTION_TIMEOUT);
      assertTrue(slow.getMessage().contains("500"), slow.getMessage());
      assertTrue(interrupted.await(WAIT_SECONDS, TimeUnit.SECONDS), "the abandoned action's thread is interrupted");

      SyncException assertion = failure(alice.action("fail", new FailIn("assertion")), ErrorCode.ACTION_FAILED);
      assertTrue(assertion.getMessage().contains("assertion in action"), assertion.getMessage());
      SyncException overflow = failure(alice.action("fail", new FailIn("stackOverflow")), ErrorCode.ACTION_FAILED);
      assertTrue(overflow.getMessage().contains("StackOverflowError"), overflow.getMessage());

      SyncException unknown = failure(alice.action("noSuchAction", new Id("x")), ErrorCode.UNKNOWN_ACTION);
      assertTrue(unknown.getMessage().contains("noSuchAction"), unknown.getMessage());

      failure(alice.action("typed", Map.of("n", "not a number")), ErrorCode.INVALID_INPUT);
      assertEquals(42, get(alice.action("typed", new TypedIn(21), Integer.class)), "valid input of the same action works");

      assertEquals("MUTATOR_FAILED", get(alice.action("mutateRejected", new Reject("nope"), String.class)),
          "ctx.mutate of a mutator the server refuses throws its error into the action");

      assertEquals(null, get(alice.action("nothing", new Id("x"), Void.class)), "no output");
      // A read that throws on the instance's thread fails the action, not the instance.
      SyncException badRead = failure(alice.action("badScan", new Id("x"), Integer.class), ErrorCode.ACTION_FAILED);
      assertTrue(badRead.getMessage().startsWith("badScan failed"), badRead.getMessage());
      assertTrue(get(alice.action("nothing", new Id("x"))).isNull(), "no output, as JSON");

      // The instance still serves mutations and actions (their own ctx.mutate included).
      alice.mutate("increment", new Increment("c"));
      assertEquals(1, get(alice.action("readCounter", new Id("c"), Integer.class)));
      assertEquals(2, get(alice.action("bump", new Id("c"), Integer.class)), "the action reads its own write");
      kit.waitForValue(alice, "counters", "c", new Count(2));
      kit.waitForAllClients();
      assertFalse((boolean) alice.query(tx -> tx.table("notes").has("nope")), "the refused mutation wrote nothing");
    }
  }

  @Test
  void concurrencyLimitQueuesThenRefuses() throws Exception {
    gate = new CountDownLatch(1);
    started = new Semaphore(0);
    try (SyncTestKit kit = SyncTestKit.builder(APP)
        .serverSetting("synced-store.actions.max-concurrent", 2)
        .serverSetting("synced-store.actions.max-queued", 1)
        .start()) {
      SyncClient alice = kit.createClient("alice");
      SyncClient bob = kit.createClient("bob");
      try {
        CompletableFuture<String> a1 = alice.action("blocked", new Id("a1"), String.class);
        CompletableFuture<String> a2 = bob.action("blocked", new Id("a2"), String.class);
        assertTrue(started.tryAcquire(2, WAIT_SECONDS, TimeUnit.SECONDS), "two actions run");
        CompletableFuture<String> a3 = alice.action("blocked", new Id("a3"), String.class); // queued
        CompletableFuture<String> a4 = alice.action("blocked", new Id("a4"), String.class); // after a3 on one connection: refused

        SyncException refused = failure(a4, ErrorCode.OVERLOADED);
        assertTrue(refused.getMessage().contains("max-concurrent"), refused.getMessage());
        assertFalse(a1.isDone() || a2.isDone() || a3.isDone(), "the others wait");
        assertEquals(0, started.availablePermits(), "the third is queued, not running");

        gate.countDown();
        assertEquals("done a1", get(a1));
        assertEquals("done a2", get(a2));
        assertEquals("done a3", get(a3));
        assertTrue(started.tryAcquire(1, WAIT_SECONDS, TimeUnit.SECONDS), "the queued one ran");
        assertEquals("done a5", get(bob.action("blocked", new Id("a5"), String.class)), "slots are free again");
      } finally {
        gate.countDown();
      }
    }
  }

  @Test
  void actionCalledAfterPendingMutationsSeesThemAll() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient alice = kit.createClient("alice");
      kit.waitForAllClients();
      kit.network(alice).holdOutbound();
      for (int i = 0; i < 20; i++) {
        alice.mutate("increment", new Increment("c"));
        if (i == 10) {
          alice.mutate("reject", new Reject("r")); // fails on the server: the call must not wait for it forever
        }
      }
      CompletableFuture<Integer> count = alice.action("readCounter", new Id("c"), Integer.class);
      // Only a bound: the call must not go out while its earlier mutations are held.
      Thread.sleep(300);
      assertFalse(count.isDone(), "the call waits for the pending mutations to be confirmed");
      assertEquals(21, alice.pendingCount());
      kit.network(alice).releaseOutbound();
      assertEquals(20, get(count), "the action sees all 20 mutations made before the call");
      kit.waitForAllClients();
    }
  }

  @Test
  void connectionDroppedWhileAnActionRunsFailsTheCallWithTimeout() throws Exception {
    gate = new CountDownLatch(1);
    started = new Semaphore(0);
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient alice = kit.createClient("alice");
      try {
        CompletableFuture<String> running = alice.action("blocked", new Id("d1"), String.class);
        assertTrue(started.tryAcquire(1, WAIT_SECONDS, TimeUnit.SECONDS), "the action runs");
        kit.network(alice).drop();
        SyncException lost = failure(running, ErrorCode.TIMEOUT);
        assertTrue(lost.getMessage().contains("may or may not have run"), lost.getMessage());
        // Called while (probably) offline: waits for the reconnection.
        CompletableFuture<Integer> next = alice.action("readCounter", new Id("c"), Integer.class);
        gate.countDown(); // the orphaned invocation finishes on the server; nobody hears of it
        assertEquals(0, get(next));

        kit.waitForAllClients();
        alice.mutate("increment", new Increment("c"));
        assertEquals(2, get(alice.action("bump", new Id("c"), Integer.class)), "a new action works after the reconnection");
        kit.waitForValue(alice, "counters", "c", new Count(2));
      } finally {
        gate.countDown();
      }
    }
  }

  @Test
  void oneConnectionRunsAtMostSixteenActionsAtOnce() throws Exception {
    gate = new CountDownLatch(1);
    started = new Semaphore(0);
    try (SyncTestKit kit = SyncTestKit.builder(APP)
        .serverSetting("synced-store.actions.max-concurrent", 16)
        .start()) {
      SyncClient alice = kit.createClient("alice");
      try {
        List<CompletableFuture<String>> calls = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
          calls.add(alice.action("blocked", new Id("b" + i), String.class));
        }
        assertTrue(started.tryAcquire(16, WAIT_SECONDS, TimeUnit.SECONDS), "16 actions run");
        SyncException refused = failure(alice.action("blocked", new Id("b16"), String.class), ErrorCode.OVERLOADED);
        assertTrue(refused.getMessage().contains("16 actions"), refused.getMessage());
        gate.countDown();
        for (int i = 0; i < 16; i++) {
          assertEquals("done b" + i, get(calls.get(i)));
        }
        assertEquals("done b17", get(alice.action("blocked", new Id("b17"), String.class)), "the connection takes calls again");
      } finally {
        gate.countDown();
      }
    }
  }

  @Test
  void aReusedClientIdStillSendsTheCallAfterItsRenumberedMutations() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient first = kit.createClient("alice", b -> b.clientId("fixed").clientGroupId("g"));
      for (int i = 0; i < 5; i++) {
        first.mutate("increment", new Increment("c"));
      }
      kit.waitForAllClients();
      first.close();
      kit.stopServer();

      // Same client id, no storage: its pending ids 1-3 are renumbered to 6-8 when it connects.
      SyncClient second = kit.createClient("alice", b -> b.clientId("fixed").clientGroupId("g"));
      for (int i = 0; i < 3; i++) {
        second.mutate("increment", new Increment("c"));
      }
      CompletableFuture<Integer> count = second.action("readCounter", new Id("c"), Integer.class);
      kit.network(second).holdOutbound(); // the mutations stay pending after the connection: the call must wait for them
      kit.startServer();
      kit.waitFor("the second client to connect", second::isOnline, () -> "offline");
      Thread.sleep(300); // only a bound, as in actionCalledAfterPendingMutationsSeesThemAll
      kit.network(second).releaseOutbound();
      assertEquals(8, get(count), "the action sees the 3 mutations made before the call");
    }
  }

  @Test
  void aSyncExceptionEscapingTheActionReachesTheCallerWithItsOwnCode() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient alice = kit.createClient("alice");
      SyncException e = failure(alice.action("mutateRejectedUncaught", new Reject("k"), String.class));
      assertEquals(ErrorCode.MUTATOR_FAILED, e.code(), "Action#run: a SyncException keeps its code; got "
          + e.code() + ": " + e.getMessage());
    }
  }

  // ---- found by review, fixed ----------------------------------------------------------

  @Test
  void timedOutActionsAreInterruptedEvenWhenEveryActionThreadIsBusy() throws Exception {
    interrupted = new CountDownLatch(2);
    try (SyncTestKit kit = SyncTestKit.builder(APP)
        .serverSetting("synced-store.actions.timeout", "500ms")
        .serverSetting("synced-store.actions.dispatcher.thread-pool-executor.fixed-pool-size", 2)
        .start()) {
      SyncClient alice = kit.createClient("alice");
      CompletableFuture<JsonNode> s1 = alice.action("slow", new Id("1"));
      CompletableFuture<JsonNode> s2 = alice.action("slow", new Id("2"));
      failure(s1, ErrorCode.ACTION_TIMEOUT);
      failure(s2, ErrorCode.ACTION_TIMEOUT);
      assertTrue(interrupted.await(5, TimeUnit.SECONDS), "both interrupted; not interrupted: " + interrupted.getCount());
    }
  }

  @Test
  void anActionWaitingForAThreadOfThePoolDoesNotTimeOutAndRunsOnceAThreadIsFree() throws Exception {
    gate = new CountDownLatch(1);
    started = new Semaphore(0);
    try (SyncTestKit kit = SyncTestKit.builder(APP)
        .serverSetting("synced-store.actions.timeout", "500ms")
        .serverSetting("synced-store.actions.dispatcher.thread-pool-executor.fixed-pool-size", 2)
        .start()) {
      SyncClient alice = kit.createClient("alice");
      // Both pool threads stay busy past their timeouts (these two ignore their interrupts).
      CompletableFuture<JsonNode> b1 = alice.action("stubborn", new Id("1"));
      CompletableFuture<JsonNode> b2 = alice.action("stubborn", new Id("2"));
      assertTrue(started.tryAcquire(2, WAIT_SECONDS, TimeUnit.SECONDS), "both threads of the pool are busy");
      CompletableFuture<Integer> late = alice.action("bump", new Id("late"), Integer.class); // no thread yet
      failure(b1, ErrorCode.ACTION_TIMEOUT);
      failure(b2, ErrorCode.ACTION_TIMEOUT);
      // Its timeout counts from when its code starts: waiting for a thread is not running out of time.
      assertFalse(late.isDone(), "still waiting for a thread, not timed out");
      gate.countDown(); // the pool frees up
      assertEquals(1, get(late), "it ran once a thread was free, exactly once");
      kit.waitForAllClients();
      assertEquals(1, alice.query(tx -> tx.table("counters").get("late", Count.class)).orElseThrow().n());
    } finally {
      gate.countDown();
    }
  }

}
