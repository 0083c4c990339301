package io.syncedstore.runtime;

import io.syncedstore.api.AppDefinition;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.ShardingEnvelope;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;

/**
 * The cluster profile's home of instances: each {@link AppInstance} is an entity of Pekko Cluster
 * Sharding with entity id {@code app/instanceId} ({@link InstanceId#toString()}), started on
 * whichever node its shard lives on. This behavior is every node's local entry point: it takes the
 * same {@link InstanceRegistry.Deliver} commands as the single-node {@link InstanceRegistry} and
 * hands them to the shard region, so the gateway and the engine are the same code in both
 * profiles.
 *
 * <p>Passivation: sharding's own idle passivation is off ({@code pekko.cluster.sharding.passivation.strategy
 * = none}) because an instance with connected clients gets no commands through sharding (its
 * sessions talk to it directly) and must stay. Each instance checks its own idleness and asks its
 * shard to passivate it ({@link AppInstance#createSharded}). Instances that passivate with actions
 * scheduled for later leave a wake-up here, on the node they ran on.
 */
public final class ShardedInstances {
  private ShardedInstances() {}

  /** The entity type of instances. */
  public static final EntityTypeKey<AppInstance.Command> TYPE_KEY = EntityTypeKey.create(AppInstance.Command.class, "instance");

  /**
   * @param apps the apps served (every node must serve the same apps)
   * @param settings the runtime settings
   * @param pruner deletes old snapshots
   * @return this node's entry point: initializes sharding of instances and routes deliveries to it
   */
  public static Behavior<InstanceRegistry.Command> create(Map<String, AppDefinition> apps, RuntimeSettings settings,
      SnapshotPruner pruner) {
    Map<String, AppDefinition> served = Map.copyOf(apps);
    return Behaviors.setup(context -> {
      ActorRef<InstanceRegistry.Command> self = context.getSelf();
      EngineMetrics.get(context.getSystem()).bindCluster(org.apache.pekko.cluster.typed.Cluster.get(context.getSystem()));
      ActorRef<ShardingEnvelope<AppInstance.Command>> region = ClusterSharding.get(context.getSystem()).init(
          Entity.of(TYPE_KEY, entity -> {
            InstanceId id = InstanceId.parse(entity.getEntityId());
            AppDefinition app = served.get(id.app());
            if (app == null) {
              // Only reachable when nodes serve different apps: a misconfiguration.
              context.getLog().error("no app [{}] on this node; stopping entity [{}]", id.app(), id);
              return Behaviors.stopped();
            }
            EngineMetrics.get(context.getSystem()).instances.incrementAndGet();
            return Behaviors.<AppInstance.Command>setup(ctx -> Behaviors.intercept(
                () -> new org.apache.pekko.actor.typed.BehaviorSignalInterceptor<AppInstance.Command>() {
                  @Override
                  public Behavior<AppInstance.Command> aroundSignal(org.apache.pekko.actor.typed.TypedActorContext<AppInstance.Command> c,
                      org.apache.pekko.actor.typed.Signal signal, SignalTarget<AppInstance.Command> target) {
                    if (signal instanceof org.apache.pekko.actor.typed.PostStop) {
                      EngineMetrics.get(context.getSystem()).instances.decrementAndGet();
                    }
                    return target.apply(c, signal);
                  }
                },
                AppInstance.createSharded(id, app, settings, pruner, new AppInstance.ShardHandle(entity.getShard(), self))));
          }).withStopMessage(AppInstance.Stop.INSTANCE));
      InstanceDirectory.get(context.getSystem()).serve(served, self);
      return Behaviors.withTimers(timers -> Behaviors.receive(InstanceRegistry.Command.class)
          .onMessage(InstanceRegistry.Deliver.class, d -> {
            if (served.containsKey(d.id().app())) {
              region.tell(new ShardingEnvelope<>(d.id().toString(), d.command()));
            } else {
              context.getLog().warn("no app [{}]; dropping a command for [{}]", d.id().app(), d.id());
            }
            return Behaviors.same();
          })
          .onMessage(InstanceRegistry.WakeAt.class, w -> {
            InstanceRegistry.scheduleWake(timers, w, context.getSystem());
            return Behaviors.same();
          })
          .onMessage(InstanceRegistry.StillActive.class, s -> Behaviors.same()) // only the single-node registry asks
          .build());
    });
  }
}
