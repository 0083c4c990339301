package io.syncedstore.runtime;

import io.syncedstore.api.auth.Principal;
import static io.syncedstore.runtime.TestApp.boom;
import static io.syncedstore.runtime.TestApp.incr;
import static io.syncedstore.runtime.TestApp.json;
import static io.syncedstore.runtime.TestApp.put;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.runtime.AppInstance.MutationResult;
import io.syncedstore.runtime.AppInstance.PullResult;
import io.syncedstore.runtime.AppInstance.PushResult;
import io.syncedstore.runtime.journal.InstanceCreated;
import io.syncedstore.runtime.journal.MutationApplied;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Group commit of {@link AppInstance} against the persistence testkit's in-memory journal (with
 * real event serialization): how pushes are batched into atomic writes, what a batch means for
 * each push, and what happens when the journal fails a write.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith({TestKitJUnit5Extension.class, LogCapturingExtension.class})
class GroupCommitTest {
  /** How long a test waits for an answer that must come: a bound against hanging, not a speed claim. */
  private static final Duration ANSWER = Duration.ofSeconds(5);
  private static final AtomicInteger INSTANCES = new AtomicInteger();

  @JUnit5TestKit
  ActorTestKit testKit = new JUnit5TestKitBuilder().withCustomConfig(TestApp.persistenceConfig("")).build();

  private final PersistenceTestKit journal = PersistenceTestKit.create(testKit.system());
  private InstanceId id;
  private JournalProbe probe;

  @BeforeEach
  void freshInstance() {
    id = new InstanceId(TestApp.NAME, "gc-" + INSTANCES.incrementAndGet());
    probe = new JournalProbe(id.persistenceId());
    journal.withPolicy(probe);
  }

  @AfterEach
  void resetJournal() {
    probe.release();
    journal.resetPolicy();
  }

  private ActorRef<AppInstance.Command> spawn(RuntimeSettings settings) {
    return testKit.spawn(AppInstance.create(id, TestApp.APP, settings));
  }

  private ActorRef<AppInstance.Command> spawn() {
    return spawn(RuntimeSettings.from(testKit.system().settings().config()));
  }

  private CompletableFuture<StatusReply<PushResult>> push(ActorRef<AppInstance.Command> instance, String client, String user,
      MutationRequest... mutations) {
    return AskPattern.<AppInstance.Command, StatusReply<PushResult>>ask(instance,
        replyTo -> new AppInstance.Push("g1", client, user, List.of(mutations), replyTo), ANSWER.multipliedBy(2),
        testKit.system().scheduler()).toCompletableFuture();
  }

  private static <T> T await(CompletableFuture<StatusReply<T>> reply) throws Exception {
    StatusReply<T> r = reply.get(ANSWER.toMillis(), TimeUnit.MILLISECONDS);
    assertTrue(r.isSuccess(), () -> "expected success, got " + r);
    return r.getValue();
  }

  private PullResult pull(ActorRef<AppInstance.Command> instance) throws Exception {
    return await(AskPattern.<AppInstance.Command, StatusReply<PullResult>>ask(instance,
        replyTo -> new AppInstance.Pull("g1", null, Principal.ANONYMOUS, replyTo), ANSWER, testKit.system().scheduler()).toCompletableFuture());
  }

  private static long version(String cookie) {
    return Long.parseLong(cookie.substring(cookie.lastIndexOf(':') + 1));
  }

  @Test
  void fiftyConcurrentPushesAreWrittenInFewAtomicWrites() throws Exception {
    ActorRef<AppInstance.Command> instance = spawn();
    List<CompletableFuture<StatusReply<PushResult>>> replies = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      replies.add(push(instance, "c" + i, null, put(1, "k" + i, i)));
    }
    List<PushResult> results = new ArrayList<>();
    for (CompletableFuture<StatusReply<PushResult>> reply : replies) {
      results.add(await(reply));
    }
    for (PushResult r : results) {
      assertEquals(List.of(new MutationResult(1, "applied", null, null)), r.results());
    }

    List<List<Object>> writes = probe.writes;
    assertEquals(51, probe.eventsWritten(), "50 mutations and the instance's creation");
    assertInstanceOf(InstanceCreated.class, writes.get(0).get(0));
    // one write per flush: the pushes that arrived while the previous write was in flight go together
    assertTrue(writes.size() <= 5, () -> "50 pushes took " + writes.size() + " atomic writes, sizes "
        + writes.stream().map(List::size).toList());

    // every push of a batch is answered with the cookie right after its batch
    Set<Long> batchEnds = new TreeSet<>();
    long version = 0;
    for (List<Object> batch : writes) {
      version += batch.stream().filter(e -> e instanceof MutationApplied).count();
      batchEnds.add(version);
    }
    Map<Long, Long> pushesPerCookie = results.stream().collect(Collectors.groupingBy(r -> version(r.cookie()), Collectors.counting()));
    assertEquals(batchEnds, new TreeSet<>(pushesPerCookie.keySet()));
    long previousEnd = 0;
    for (long end : batchEnds) {
      assertEquals(end - previousEnd, pushesPerCookie.get(end), "pushes answered with cookie version " + end);
      previousEnd = end;
    }
  }

  @Test
  void pushesArrivingDuringAWriteAreCommittedInOneWriteWithOneCookie() throws Exception {
    ActorRef<AppInstance.Command> instance = spawn();
    probe.holdNextWrite();
    CompletableFuture<StatusReply<PushResult>> first = push(instance, "first", null, put(1, "first", 0));
    probe.awaitHeld();
    // the instance is persisting: everything sent now waits, and must then go out in one write
    List<CompletableFuture<StatusReply<PushResult>>> replies = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      replies.add(push(instance, "c" + i, null, put(1, "k" + i, i)));
    }
    probe.release();
    await(first);
    Set<String> cookies = new TreeSet<>();
    for (CompletableFuture<StatusReply<PushResult>> reply : replies) {
      cookies.add(await(reply).cookie());
    }

    assertEquals(List.of(2, 50), probe.writes.stream().map(List::size).toList(), "creation + first, then all 50 together");
    assertEquals(1, cookies.size(), () -> "one batch, one cookie: " + cookies);
    assertEquals(51, version(cookies.iterator().next()));
    assertEquals(51, pull(instance).patch().size() - 1);
  }

  @Test
  void aBatchIsProcessedInArrivalOrderAgainstTheStateIncludingEarlierPushes() throws Exception {
    ActorRef<AppInstance.Command> instance = spawn();
    await(push(instance, "warm", null, put(1, "warm", 0)));
    probe.holdNextWrite();
    CompletableFuture<StatusReply<PushResult>> holder = push(instance, "warm", null, put(2, "warm", 1));
    probe.awaitHeld();

    CompletableFuture<StatusReply<PushResult>> a1 = push(instance, "a", null, put(1, "x", 1), put(2, "y", 2));
    CompletableFuture<StatusReply<PushResult>> a2 = push(instance, "a", null, put(2, "y", 2), incr(3, "counter"));
    CompletableFuture<StatusReply<PushResult>> aGap = push(instance, "a", null, put(5, "z", 5));
    CompletableFuture<StatusReply<PushResult>> b = push(instance, "b", "u1", incr(1, "counter"), boom(2, "counter"), incr(3, "counter"));
    CompletableFuture<StatusReply<PushResult>> bOther = push(instance, "b", "u2", put(4, "stolen", 1));
    CompletableFuture<StatusReply<PushResult>> c = push(instance, "c", null, incr(1, "counter"));
    probe.release();
    await(holder);

    PushResult ra1 = await(a1);
    PushResult ra2 = await(a2);
    assertEquals(2, ra1.lastMutationId());
    assertEquals(List.of("applied", "applied"), ra1.results().stream().map(MutationResult::status).toList());
    assertEquals(List.of("duplicate", "applied"), ra2.results().stream().map(MutationResult::status).toList(),
        "the first push of the batch already applied id 2");
    assertEquals(3, ra2.lastMutationId());
    StatusReply<PushResult> gap = aGap.get(ANSWER.toMillis(), TimeUnit.MILLISECONDS);
    assertTrue(gap.isError() && gap.getError().getMessage().startsWith("MUTATION_ID_GAP: ")
        && gap.getError().getMessage().contains("expected mutation id 4"), gap.toString());

    PushResult rb = await(b);
    assertEquals(List.of("applied", "failed", "applied"), rb.results().stream().map(MutationResult::status).toList());
    assertEquals(ErrorCode.MUTATOR_FAILED, rb.results().get(1).code());
    StatusReply<PushResult> other = bOther.get(ANSWER.toMillis(), TimeUnit.MILLISECONDS);
    assertTrue(other.isError() && other.getError().getMessage().startsWith("CLIENT_OWNED_BY_OTHER_USER: "),
        () -> "the client became u1's earlier in the same batch: " + other);
    await(c);

    // creation + warm #1, the held warm #2, then everything that piled up behind it in one write
    assertEquals(List.of(2, 1, 7), probe.writes.stream().map(List::size).toList());
    Set<String> cookies = new TreeSet<>(List.of(ra1.cookie(), ra2.cookie(), rb.cookie(), await(c).cookie()));
    assertEquals(1, cookies.size(), cookies::toString);

    // incr read the writes of earlier mutations of the same batch: a2 (1), b #1 (2), b #3 (3), c (4)
    PullResult state = pull(instance);
    assertTrue(state.patch().contains(PatchOp.put("public", "kv", "counter", "", json(4))), state.patch().toString());
    assertTrue(state.patch().stream().noneMatch(op -> "stolen".equals(op.itemKey()) || "z".equals(op.itemKey())), state.patch().toString());
  }

  @Test
  void failedWriteAnswersNobodyRestartsAndTheRetryIsAppliedExactlyOnce() throws Exception {
    ActorRef<AppInstance.Command> instance = spawn();
    await(push(instance, "warm", null, put(1, "warm", 0)));
    PullResult before = pull(instance);

    // pile two pushes up behind a held write so they form one batch, and fail that batch's write
    probe.holdNextWrite();
    CompletableFuture<StatusReply<PushResult>> holder = push(instance, "warm", null, put(2, "warm", 1));
    probe.awaitHeld();
    TestProbe<StatusReply<PushResult>> p1 = testKit.createTestProbe();
    TestProbe<StatusReply<PushResult>> p3 = testKit.createTestProbe();
    instance.tell(new AppInstance.Push("g1", "c1", Principal.ANONYMOUS, List.of(put(1, "a", 1), put(2, "b", 2)), p1.ref()));
    instance.tell(new AppInstance.Push("g1", "c3", Principal.ANONYMOUS, List.of(put(1, "c", 3)), p3.ref()));
    probe.failNextWrites(1);
    LoggingTestKit.info("instance [" + id + "] recovered at version").expect(testKit.system(), () -> {
      probe.release();
      return null;
    });
    await(holder);
    assertEquals(1, probe.failed.size(), "the batch's write was failed once");
    assertEquals(3, probe.failed.get(0).size(), "both pushes were in the failed batch");
    // the journal never had them, so nobody may be told they were applied
    p1.expectNoMessage(Duration.ofMillis(300));
    p3.expectNoMessage(Duration.ofMillis(10));

    // Regression: a restarted instance that recovered onto the mutated emptyState object still held the
    // never-persisted batch and answered the retry with "duplicate" (see
    // recoveryAfterAFailedWriteHoldsExactlyWhatTheJournalHolds).
    PushResult retry1 = await(push(instance, "c1", null, put(1, "a", 1), put(2, "b", 2)));
    assertEquals(List.of("applied", "applied"), retry1.results().stream().map(MutationResult::status).toList());
    PushResult retry3 = await(push(instance, "c3", null, put(1, "c", 3)));
    assertEquals(List.of("applied"), retry3.results().stream().map(MutationResult::status).toList());
    PushResult again = await(push(instance, "c1", null, put(1, "a", 1), put(2, "b", 2)));
    assertEquals(List.of("duplicate", "duplicate"), again.results().stream().map(MutationResult::status).toList());

    Map<String, Long> appliedPerMutation = new LinkedHashMap<>();
    for (Object event : journal.persistedInStorage(id.persistenceId())) {
      if (event instanceof MutationApplied e) {
        appliedPerMutation.merge(e.clientId() + "#" + e.mutationId(), 1L, Long::sum);
      }
    }
    assertEquals(Map.of("warm#1", 1L, "warm#2", 1L, "c1#1", 1L, "c1#2", 1L, "c3#1", 1L), appliedPerMutation);
    assertEquals(before.cookie().replaceAll(":\\d+$", ":5"), pull(instance).cookie(), "same epoch, five mutations");
    p1.expectNoMessage(Duration.ofMillis(10));
  }

  /**
   * Regression: after a journal write fails, the instance restarts (restartWithBackoff) and
   * recovers, and its state must be exactly what the journal holds.
   *
   * <p>Cause: Pekko's javadsl {@code EventSourcedBehavior.createEventSourcedBehavior()} calls
   * {@code emptyState()} once per spawn and reuses that object as the starting state of every
   * recovery of that incarnation, including the in-place restarts of {@code onPersistFailure}.
   * {@link InstanceState} is mutable; before the fix its {@code apply} changed that object in
   * place, so the "empty" state was the live state: it still held the events applied before the
   * failed write (never persisted), and recovery replayed every persisted event onto it again.
   * Now the empty state is never modified ({@link InstanceState#empty}).
   */
  @Test
  void recoveryAfterAFailedWriteHoldsExactlyWhatTheJournalHolds() throws Exception {
    ActorRef<AppInstance.Command> instance = spawn();
    PushResult warm = await(push(instance, "warm", null, put(1, "warm", 0)));
    assertEquals(1, version(warm.cookie()));
    PullResult persisted = pull(instance);

    probe.failNextWrites(1);
    TestProbe<StatusReply<PushResult>> failing = testKit.createTestProbe();
    LoggingTestKit.info("instance [" + id + "] recovered at version").expect(testKit.system(), () -> {
      instance.tell(new AppInstance.Push("g1", "c1", Principal.ANONYMOUS, List.of(put(1, "lost", 1)), failing.ref()));
      return null;
    });
    failing.expectNoMessage(Duration.ofMillis(100));
    assertEquals(2, journal.persistedInStorage(id.persistenceId()).size(), "the journal holds creation + warm #1 only");

    // expected: exactly what the journal holds, i.e. what a fresh incarnation recovers
    // actual (bug): cookie <epoch>:3 and a patch that contains "lost"
    assertEquals(persisted, pull(instance), "state after the restart must equal the journal's");
  }

  @Test
  void pushesWaitingBehindAFailedWriteAreNotLost() throws Exception {
    ActorRef<AppInstance.Command> instance = spawn();
    await(push(instance, "warm", null, put(1, "warm", 0)));
    probe.holdNextWrite();
    probe.failNextWrites(1);
    TestProbe<StatusReply<PushResult>> failing = testKit.createTestProbe();
    instance.tell(new AppInstance.Push("g1", "c1", Principal.ANONYMOUS, List.of(put(1, "a", 1)), failing.ref()));
    probe.awaitHeld();
    // stashed while the write is in flight: must survive the restart that follows the failure
    CompletableFuture<StatusReply<PushResult>> waiting = push(instance, "c2", null, put(1, "b", 2));
    probe.release();

    PushResult result = await(waiting);
    assertEquals(List.of("applied"), result.results().stream().map(MutationResult::status).toList());
    failing.expectNoMessage(Duration.ofMillis(100));
    // Regression: c1 #1 was never persisted, so the restarted instance must not call it a duplicate
    // (see recoveryAfterAFailedWriteHoldsExactlyWhatTheJournalHolds).
    assertEquals(List.of("applied"), await(push(instance, "c1", null, put(1, "a", 1))).results().stream()
        .map(MutationResult::status).toList());
  }

  @Test
  void pushesBeyondMaxPendingMutationsAreRefusedAsOverloaded() throws Exception {
    ActorRef<AppInstance.Command> instance = spawn(TestApp.settings(1000, Duration.ofMinutes(2), 10));
    await(push(instance, "warm", null, put(1, "warm", 0)));
    probe.holdNextWrite();
    CompletableFuture<StatusReply<PushResult>> holder = push(instance, "warm", null, put(2, "warm", 1));
    probe.awaitHeld();
    List<CompletableFuture<StatusReply<PushResult>>> replies = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      replies.add(push(instance, "c" + i, null, put(1, "k" + i, i), put(2, "k" + i, i)));
    }
    probe.release();
    await(holder);

    List<String> outcomes = new ArrayList<>();
    for (CompletableFuture<StatusReply<PushResult>> reply : replies) {
      StatusReply<PushResult> r = reply.get(ANSWER.toMillis(), TimeUnit.MILLISECONDS);
      outcomes.add(r.isSuccess() ? "ok" : r.getError().getMessage().substring(0, r.getError().getMessage().indexOf(':')));
    }
    // 5 pushes of 2 fill the 10 pending mutations; the 6th must wait for the next flush
    assertEquals(List.of("ok", "ok", "ok", "ok", "ok", "OVERLOADED"), outcomes);
    assertEquals(List.of("applied", "applied"), await(push(instance, "c5", null, put(1, "k5", 5), put(2, "k5", 5))).results()
        .stream().map(MutationResult::status).toList());
  }

  @Test
  void stopFinishesQueuedPushesAndAFreshIncarnationRecoversFromTheSerializedJournal() throws Exception {
    ActorRef<AppInstance.Command> instance = spawn();
    await(push(instance, "c1", "u1", put(1, "a", Map.of("nested", List.of(1, "two", 3.5))), TestApp.note(2, "n", "secret")));
    await(push(instance, "c2", null, put(1, "b", 2), TestApp.del(2, "a"), boom(3, "x")));
    TestProbe<StatusReply<PushResult>> last = testKit.createTestProbe();
    TestProbe<Object> watcher = testKit.createTestProbe();
    instance.tell(new AppInstance.Push("g1", "c3", Principal.ANONYMOUS, List.of(put(1, "c", true)), last.ref()));
    instance.tell(AppInstance.Stop.INSTANCE);
    StatusReply<PushResult> lastReply = last.receiveMessage(ANSWER);
    assertTrue(lastReply.isSuccess(), lastReply::toString);
    watcher.expectTerminated(instance, ANSWER);

    ActorRef<AppInstance.Command> reborn = spawn();
    PullResult after = pull(reborn);
    assertEquals(lastReply.getValue().cookie(), after.cookie());
    assertEquals(List.of(PatchOp.CLEAR, PatchOp.put("public", "kv", "b", "", json(2)), PatchOp.put("public", "kv", "c", "", json(true))),
        after.patch());
    assertEquals(Map.of("c1", 2L, "c2", 3L, "c3", 1L), after.lastMutationIdChanges());
    PullResult owner = await(AskPattern.<AppInstance.Command, StatusReply<PullResult>>ask(reborn,
        replyTo -> new AppInstance.Pull("g1", null, "u1", replyTo), ANSWER, testKit.system().scheduler()).toCompletableFuture());
    assertTrue(owner.patch().contains(PatchOp.put("private", "notes", "n", "", json("secret"))), owner.patch().toString());
    assertEquals(List.of("duplicate"), await(push(reborn, "c3", null, put(1, "c", true))).results().stream()
        .map(MutationResult::status).toList());
  }
}
