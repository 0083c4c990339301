package io.syncedstore.runtime;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.syncedstore.api.AppDefinition;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The single-node home of instances: starts an {@link AppInstance} on its first command, routes
 * commands to it, and passivates it after {@code idle-timeout} without commands. While an
 * instance is stopping, commands for it wait here (bounded) and go to its successor, so nothing
 * is lost to a passivation race. The cluster profile replaces this with Cluster Sharding.
 */
public final class InstanceRegistry extends AbstractBehavior<InstanceRegistry.Command> {

  /** What the registry accepts. */
  public sealed interface Command extends JsonSerializable {}

  /**
   * Deliver {@code command} to instance {@code id}, starting it if needed. The app must be one
   * the registry was created with; callers check that first.
   *
   * @param id the instance
   * @param command the command; a field of an interface type needs its concrete type in the JSON,
   *     named from a closed list rather than by class name (Pekko's advice against gadget classes).
   *     {@code MessageSerializationTest} checks the list against every cross-node command.
   */
  public record Deliver(InstanceId id,
      @JsonTypeInfo(use = JsonTypeInfo.Id.NAME)
      @JsonSubTypes({
          @JsonSubTypes.Type(value = AppInstance.Push.class, name = "Push"),
          @JsonSubTypes.Type(value = AppInstance.Pull.class, name = "Pull"),
          @JsonSubTypes.Type(value = AppInstance.Connect.class, name = "Connect"),
          @JsonSubTypes.Type(value = AppInstance.ListSessions.class, name = "ListSessions"),
          @JsonSubTypes.Type(value = AppInstance.RunAction.class, name = "RunAction"),
          @JsonSubTypes.Type(value = AppInstance.GetActionStatus.class, name = "GetActionStatus"),
          @JsonSubTypes.Type(value = AppInstance.ActionMutate.class, name = "ActionMutate"),
          @JsonSubTypes.Type(value = AppInstance.ChangeMembership.class, name = "ChangeMembership"),
          @JsonSubTypes.Type(value = AppInstance.Stop.class, name = "Stop")})
      AppInstance.Command command) implements Command {}

  /**
   * An instance asked to passivate has connected clients and stays: commands that waited for it go to it.
   *
   * @param id the instance
   */
  public record StillActive(InstanceId id) implements Command {}

  /**
   * A passivating instance has scheduled actions, none due yet: start it again at {@code atMillis}
   * (epoch milliseconds) so that it runs them.
   *
   * @param id the instance
   * @param atMillis when its earliest action is due
   */
  public record WakeAt(InstanceId id, long atMillis) implements Command {}

  private record Stopped(InstanceId id) implements Command {}

  private enum Tick implements Command { INSTANCE }

  /** Commands waiting for a stopping instance beyond this many are dropped (their asks time out). */
  private static final int MAX_WAITING = 10_000;

  private static final class Child {
    final ActorRef<AppInstance.Command> ref;
    long lastActivityNanos = System.nanoTime();
    boolean stopping;
    final ArrayDeque<AppInstance.Command> waiting = new ArrayDeque<>();

    Child(ActorRef<AppInstance.Command> ref) {
      this.ref = ref;
    }
  }

  /** @return a registry serving {@code apps} */
  public static Behavior<Command> create(Map<String, AppDefinition> apps, RuntimeSettings settings) {
    return create(apps, settings, SnapshotPruner.NONE);
  }

  /** @return a registry serving {@code apps} whose instances delete old snapshots with {@code pruner} */
  public static Behavior<Command> create(Map<String, AppDefinition> apps, RuntimeSettings settings, SnapshotPruner pruner) {
    return Behaviors.setup(context -> {
      InstanceDirectory.get(context.getSystem()).serve(apps, context.getSelf());
      return Behaviors.withTimers(timers -> new InstanceRegistry(context, timers, apps, settings, pruner));
    });
  }

  private final Map<String, AppDefinition> apps;
  private final RuntimeSettings settings;
  private final SnapshotPruner pruner;
  private final Map<InstanceId, Child> children = new HashMap<>();
  private final TimerScheduler<Command> timers;
  /** The longest timer set at once; a later wake-up fires early, and the instance passivates and asks again. */
  private static final Duration MAX_WAKE_DELAY = Duration.ofDays(1);

  /**
   * Sets a timer that delivers a wake-up (an action-status query, which starts the instance) to
   * {@code wake}'s instance when its earliest scheduled action is due; the registry and
   * {@link ShardedInstances} both route the delivery.
   */
  static void scheduleWake(TimerScheduler<Command> timers, WakeAt wake, org.apache.pekko.actor.typed.ActorSystem<?> system) {
    long delay = Math.max(0, Math.min(wake.atMillis() - System.currentTimeMillis(), MAX_WAKE_DELAY.toMillis()));
    timers.startSingleTimer("wake-" + wake.id(), new Deliver(wake.id(), new AppInstance.GetActionStatus(system.ignoreRef())),
        Duration.ofMillis(delay));
  }

  private InstanceRegistry(ActorContext<Command> context, TimerScheduler<Command> timers, Map<String, AppDefinition> apps,
      RuntimeSettings settings, SnapshotPruner pruner) {
    super(context);
    this.pruner = pruner;
    this.apps = Map.copyOf(apps);
    this.settings = settings;
    this.timers = timers;
    Duration check = settings.idleTimeout().dividedBy(4);
    timers.startTimerWithFixedDelay(Tick.INSTANCE, check.isZero() ? Duration.ofMillis(100) : check);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Deliver.class, this::onDeliver)
        .onMessage(Stopped.class, this::onStopped)
        .onMessage(StillActive.class, this::onStillActive)
        .onMessage(WakeAt.class, w -> {
          scheduleWake(timers, w, getContext().getSystem());
          return this;
        })
        .onMessageEquals(Tick.INSTANCE, this::onTick)
        .build();
  }

  private Behavior<Command> onDeliver(Deliver d) {
    Child child = children.get(d.id());
    if (child == null) {
      child = start(d.id());
      if (child == null) {
        return this;
      }
    }
    child.lastActivityNanos = System.nanoTime();
    if (child.stopping) {
      if (child.waiting.size() < MAX_WAITING) {
        child.waiting.add(d.command());
      } else {
        getContext().getLog().warn("instance [{}] is stopping and [{}] commands wait for it; dropping one", d.id(), MAX_WAITING);
      }
    } else {
      child.ref.tell(d.command());
    }
    return this;
  }

  private Child start(InstanceId id) {
    AppDefinition app = apps.get(id.app());
    if (app == null) {
      getContext().getLog().warn("no app [{}]; dropping a command for [{}]", id.app(), id);
      return null;
    }
    ActorRef<AppInstance.Command> ref = getContext().spawn(AppInstance.create(id, app, settings, pruner), actorName(id));
    getContext().watchWith(ref, new Stopped(id));
    Child child = new Child(ref);
    children.put(id, child);
    EngineMetrics.get(getContext().getSystem()).instances.incrementAndGet();
    return child;
  }

  private Behavior<Command> onStopped(Stopped s) {
    Child old = children.remove(s.id());
    if (old != null) {
      EngineMetrics.get(getContext().getSystem()).instances.decrementAndGet();
    }
    if (old != null && !old.waiting.isEmpty()) {
      Child fresh = start(s.id());
      if (fresh != null) {
        old.waiting.forEach(fresh.ref::tell);
      }
    }
    return this;
  }

  private Behavior<Command> onStillActive(StillActive active) {
    Child child = children.get(active.id());
    if (child != null && child.stopping) {
      child.stopping = false;
      child.lastActivityNanos = System.nanoTime();
      while (!child.waiting.isEmpty()) {
        child.ref.tell(child.waiting.removeFirst());
      }
    }
    return this;
  }

  private Behavior<Command> onTick() {
    long idleNanos = settings.idleTimeout().toNanos();
    long now = System.nanoTime();
    for (Map.Entry<InstanceId, Child> e : children.entrySet()) {
      Child child = e.getValue();
      if (!child.stopping && now - child.lastActivityNanos >= idleNanos) {
        getContext().getLog().debug("passivating idle instance [{}]", e.getKey());
        child.stopping = true;
        child.ref.tell(new AppInstance.Passivate(getContext().getSelf()));
      }
    }
    return this;
  }

  /** @return a unique, valid actor name for {@code id} (app and instance ids use only name-safe characters) */
  private static String actorName(InstanceId id) {
    return id.app() + "~" + id.instanceId();
  }
}
