package io.syncedstore.runtime;

import static io.syncedstore.runtime.TestApp.put;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.syncedstore.api.auth.Principal;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.runtime.AppInstance.MutationResult;
import io.syncedstore.runtime.AppInstance.PushResult;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link ShardedInstances} on a one-node cluster: deliveries reach sharded instances, an idle
 * instance passivates itself through its shard and comes back from the journal, and an instance
 * with a connected client stays until the client's socket goes away.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith({TestKitJUnit5Extension.class, LogCapturingExtension.class})
class ShardedInstancesTest {
  private static final Duration IDLE = Duration.ofMillis(400);
  /** A bound against hanging, not a speed claim. */
  private static final Duration ANSWER = Duration.ofSeconds(10);

  @JUnit5TestKit
  ActorTestKit testKit = new JUnit5TestKitBuilder()
      .withCustomConfig(TestApp.persistenceConfig("""
          synced-store.instance.idle-timeout = %dms
          pekko.actor.provider = cluster
          pekko.remote.artery.canonical.hostname = "127.0.0.1"
          pekko.remote.artery.canonical.port = 0
          pekko.cluster.sharding.passivation.strategy = none
          pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
          """.formatted(IDLE.toMillis())))
      .build();

  @Test
  void shardedInstancePassivatesWhenIdleStaysWhileAClientIsConnectedAndRecovers() throws Exception {
    Cluster cluster = Cluster.get(testKit.system());
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    waitUntil("the node is up", () -> cluster.selfMember().status() == MemberStatus.up());

    RuntimeSettings settings = RuntimeSettings.from(testKit.system().settings().config());
    ActorRef<InstanceRegistry.Command> router = testKit.spawn(
        ShardedInstances.create(Map.of(TestApp.NAME, TestApp.APP), settings, SnapshotPruner.NONE), "sharded");
    EngineMetrics metrics = EngineMetrics.get(testKit.system());
    InstanceId id = new InstanceId(TestApp.NAME, "sharded-1");

    assertTrue(metrics.scrape().contains("synced_store_cluster_members_up 1.0"), "the node's view of the cluster is a metric");
    assertEquals(List.of("applied"), statuses(await(push(router, id, put(1, "a", "A")))));
    assertEquals(1, metrics.instances.get(), "the push started one instance");
    waitUntil("the idle instance passivated itself", () -> metrics.instances.get() == 0);

    // A client connects: its session keeps the instance in memory past the idle timeout.
    TestProbe<SocketOut> socket = testKit.createTestProbe();
    PushResult second = LoggingTestKit.info("instance [" + id + "] recovered at version [1] with [1] entries")
        .expect(testKit.system(), () -> {
          try {
            return await(push(router, id, put(2, "b", "B")));
          } catch (Exception e) {
            throw new AssertionError(e);
          }
        });
    assertEquals(2, second.lastMutationId(), "the client's position came back from the journal");
    assertEquals(List.of("duplicate"), statuses(await(push(router, id, put(1, "a", "A")))));
    CompletableFuture<StatusReply<ActorRef<ClientSession.Command>>> connected = AskPattern.<InstanceRegistry.Command,
        StatusReply<ActorRef<ClientSession.Command>>>ask(router, replyTo -> new InstanceRegistry.Deliver(id,
            new AppInstance.Connect("g2", "c2", Principal.ANONYMOUS, null, 1, socket.ref(), replyTo)), ANSWER,
        testKit.system().scheduler()).toCompletableFuture();
    assertTrue(connected.get(ANSWER.toMillis(), TimeUnit.MILLISECONDS).isSuccess());
    Thread.sleep(IDLE.multipliedBy(4).toMillis()); // several idle checks
    assertEquals(1, metrics.instances.get(), "an instance with a connected client stays");

    // The socket's actor goes away without a word (its node died): the session, which watches it,
    // ends, and the instance passivates.
    socket.stop();
    waitUntil("the instance passivated once its client was gone", () -> metrics.instances.get() == 0);
  }

  private CompletableFuture<StatusReply<PushResult>> push(ActorRef<InstanceRegistry.Command> router, InstanceId id,
      MutationRequest... mutations) {
    return AskPattern.<InstanceRegistry.Command, StatusReply<PushResult>>ask(router,
        replyTo -> new InstanceRegistry.Deliver(id, new AppInstance.Push("g1", "c1", Principal.ANONYMOUS, List.of(mutations), replyTo)),
        ANSWER, testKit.system().scheduler()).toCompletableFuture();
  }

  private static <T> T await(CompletableFuture<StatusReply<T>> reply) throws Exception {
    StatusReply<T> r = reply.get(ANSWER.toMillis(), TimeUnit.MILLISECONDS);
    assertTrue(r.isSuccess(), () -> "expected success, got " + r);
    return r.getValue();
  }

  private static List<String> statuses(PushResult result) {
    return result.results().stream().map(MutationResult::status).toList();
  }

  private static void waitUntil(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + ANSWER.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(20);
    }
  }
}
