package io.syncedstore.runtime;

import io.syncedstore.api.auth.Principal;
import static io.syncedstore.runtime.TestApp.json;
import static io.syncedstore.runtime.TestApp.put;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.runtime.AppInstance.MutationResult;
import io.syncedstore.runtime.AppInstance.PullResult;
import io.syncedstore.runtime.AppInstance.PushResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link InstanceRegistry} with a short idle timeout: instances are passivated, come back from
 * the journal, and commands racing a passivation are not lost.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith({TestKitJUnit5Extension.class, LogCapturingExtension.class})
class InstanceRegistryTest {
  private static final Duration IDLE = Duration.ofMillis(300);
  /** A bound against hanging, not a speed claim. */
  private static final Duration ANSWER = Duration.ofSeconds(5);
  private static final AtomicInteger INSTANCES = new AtomicInteger();

  @JUnit5TestKit
  ActorTestKit testKit = new JUnit5TestKitBuilder()
      .withCustomConfig(TestApp.persistenceConfig("synced-store.instance.idle-timeout = " + IDLE.toMillis() + "ms"))
      .build();

  private final PersistenceTestKit journal = PersistenceTestKit.create(testKit.system());
  private final RuntimeSettings settings = RuntimeSettings.from(testKit.system().settings().config());
  private ActorRef<InstanceRegistry.Command> registry;
  private InstanceId id;
  private JournalProbe probe;

  @BeforeEach
  void freshRegistry() {
    assertEquals(IDLE, settings.idleTimeout(), "the test config must reach the settings");
    int n = INSTANCES.incrementAndGet();
    id = new InstanceId(TestApp.NAME, "r-" + n);
    probe = new JournalProbe(id.persistenceId());
    journal.withPolicy(probe);
    registry = testKit.spawn(InstanceRegistry.create(Map.of(TestApp.NAME, TestApp.APP), settings), "registry-" + n);
  }

  @AfterEach
  void stopRegistry() {
    probe.release();
    journal.resetPolicy();
    testKit.stop(registry);
  }

  private CompletableFuture<StatusReply<PushResult>> push(String client, MutationRequest... mutations) {
    return AskPattern.<InstanceRegistry.Command, StatusReply<PushResult>>ask(registry,
        replyTo -> new InstanceRegistry.Deliver(id, new AppInstance.Push("g1", client, Principal.ANONYMOUS, List.of(mutations), replyTo)),
        ANSWER.multipliedBy(2), testKit.system().scheduler()).toCompletableFuture();
  }

  private CompletableFuture<StatusReply<PullResult>> pull() {
    return AskPattern.<InstanceRegistry.Command, StatusReply<PullResult>>ask(registry,
        replyTo -> new InstanceRegistry.Deliver(id, new AppInstance.Pull("g1", null, Principal.ANONYMOUS, replyTo)),
        ANSWER.multipliedBy(2), testKit.system().scheduler()).toCompletableFuture();
  }

  private static <T> T await(CompletableFuture<StatusReply<T>> reply) throws Exception {
    StatusReply<T> r = reply.get(ANSWER.toMillis(), TimeUnit.MILLISECONDS);
    assertTrue(r.isSuccess(), () -> "expected success, got " + r);
    return r.getValue();
  }

  private static List<String> statuses(PushResult result) {
    return result.results().stream().map(MutationResult::status).toList();
  }

  /** @return the registry's current child for {@link #id} */
  private ActorRef<Object> child() throws Exception {
    org.apache.pekko.actor.ActorRef classic = testKit.system().classicSystem()
        .actorSelection(registry.path().child(TestApp.NAME + "~" + id.instanceId()))
        .resolveOne(ANSWER).toCompletableFuture().get(ANSWER.toMillis(), TimeUnit.MILLISECONDS);
    return Adapter.toTyped(classic);
  }

  @Test
  void idleInstanceIsPassivatedAndRecoversItsStateOnTheNextCommand() throws Exception {
    assertEquals(List.of("applied"), statuses(await(push("c1", put(1, "a", "A")))));
    ActorRef<Object> first = child();
    TestProbe<Object> watcher = testKit.createTestProbe();
    watcher.expectTerminated(first, ANSWER); // nothing else talks to it: it must be passivated

    PushResult second = LoggingTestKit.info("instance [" + id + "] recovered at version [1] with [1] entries")
        .expect(testKit.system(), () -> {
          try {
            return await(push("c1", put(2, "b", "B")));
          } catch (Exception e) {
            throw new AssertionError(e);
          }
        });
    assertEquals(List.of("applied"), statuses(second));
    assertEquals(2, second.lastMutationId());
    assertNotEquals(first, child(), "a new incarnation serves the instance");

    PullResult state = await(pull());
    assertEquals(List.of(PatchOp.CLEAR, PatchOp.put("public", "kv", "a", "", json("A")), PatchOp.put("public", "kv", "b", "", json("B"))),
        state.patch());
    assertEquals(Map.of("c1", 2L), state.lastMutationIdChanges());
    assertTrue(state.cookie().endsWith(":2"), state.cookie());
    assertEquals(List.of("duplicate"), statuses(await(push("c1", put(1, "a", "A")))), "client positions survive passivation");
  }

  @Test
  void commandsForAStoppingInstanceWaitAndGoToItsSuccessor() throws Exception {
    assertEquals(List.of("applied"), statuses(await(push("c1", put(1, "a", 1)))));
    ActorRef<Object> first = child();
    TestProbe<Object> watcher = testKit.createTestProbe();

    // keep the instance busy in a write past the idle timeout: the registry sends Stop, which waits
    // behind the write, and everything delivered meanwhile must wait in the registry
    probe.holdNextWrite();
    CompletableFuture<StatusReply<PushResult>> inFlight = push("c1", put(2, "b", 2));
    probe.awaitHeld();
    Thread.sleep(IDLE.multipliedBy(3).toMillis()); // > idle timeout + one check interval: the registry has sent Stop
    List<CompletableFuture<StatusReply<PushResult>>> waiting = new ArrayList<>();
    for (int i = 3; i <= 7; i++) {
      waiting.add(push("c1", put(i, "k" + i, i)));
    }
    CompletableFuture<StatusReply<PullResult>> pullWaiting = pull();
    LoggingTestKit.info("instance [" + id + "] recovered at version [2]").expect(testKit.system(), () -> {
      probe.release();
      return null;
    });
    watcher.expectTerminated(first, ANSWER);

    assertEquals(List.of("applied"), statuses(await(inFlight)));
    for (int i = 0; i < waiting.size(); i++) {
      PushResult r = await(waiting.get(i));
      assertEquals(List.of("applied"), statuses(r), "push #" + (i + 3));
      assertEquals(i + 3, r.lastMutationId());
    }
    PullResult state = await(pullWaiting);
    long version = Long.parseLong(state.cookie().substring(state.cookie().lastIndexOf(':') + 1));
    assertTrue(version >= 2, () -> "the waiting pull must see at least what was persisted before: " + state);
    assertNotEquals(first, child());
    assertEquals(8, await(pull()).patch().size(), "clear + 7 keys");
  }

  @Test
  void everyCommandAroundTheIdleBoundaryIsAnswered() throws Exception {
    Random random = new Random(42);
    long next = 1;
    assertEquals(List.of("applied"), statuses(await(push("c1", put(next, "k" + next, (int) next)))));
    ActorRef<Object> first = child();
    next++;
    int rounds = 8;
    for (int round = 0; round < rounds; round++) {
      // land a burst just before, at or just after the moment the registry decides to passivate
      Thread.sleep(IDLE.toMillis() - 60 + random.nextInt(200));
      List<CompletableFuture<StatusReply<PushResult>>> pushes = new ArrayList<>();
      List<CompletableFuture<StatusReply<PullResult>>> pulls = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        pushes.add(push("c1", put(next, "k" + next, (int) next)));
        pulls.add(pull());
        next++;
      }
      long expected = next - 3;
      for (CompletableFuture<StatusReply<PushResult>> p : pushes) {
        PushResult r = await(p);
        assertEquals(List.of("applied"), statuses(r), "round " + round);
        assertEquals(expected++, r.lastMutationId());
      }
      for (CompletableFuture<StatusReply<PullResult>> p : pulls) {
        await(p);
      }
    }
    PullResult state = await(pull());
    assertEquals(next, state.patch().size(), "clear + one key per mutation");
    assertEquals(Map.of("c1", next - 1), state.lastMutationIdChanges());
    assertNotEquals(first, child(), "some burst must have met a passivation, or this test proved nothing");
  }

  @Test
  void commandForAnUnknownAppIsDroppedWithAWarning() throws Exception {
    TestProbe<StatusReply<PullResult>> replies = testKit.createTestProbe();
    InstanceId unknown = new InstanceId("nope", "x");
    LoggingTestKit.warn("no app [nope]").expect(testKit.system(), () -> {
      registry.tell(new InstanceRegistry.Deliver(unknown, new AppInstance.Pull("g1", null, Principal.ANONYMOUS, replies.ref())));
      return null;
    });
    replies.expectNoMessage(Duration.ofMillis(100));
    // the registry is still serving
    assertTrue(await(pull()).reset());
  }
}
