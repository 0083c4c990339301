package io.syncedstore.persistence;

import com.typesafe.config.Config;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.auth.Principal;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.runtime.ActionWakeups;
import io.syncedstore.runtime.AppInstance;
import io.syncedstore.runtime.ClientSession;
import io.syncedstore.runtime.InstanceErrors;
import io.syncedstore.runtime.InstanceId;
import io.syncedstore.runtime.InstanceRegistry;
import io.syncedstore.runtime.RuntimeSettings;
import io.syncedstore.runtime.SocketOut;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.pattern.StatusReply;

/**
 * One node's engine: the actor system, the journal database and the registry of instances, with
 * {@link CompletionStage} methods to push and pull. The HTTP gateway, the tests and the
 * benchmarks all start the engine through here.
 */
public final class SyncEngine implements AutoCloseable {
  private final ActorSystem<InstanceRegistry.Command> system;
  private final Map<String, AppDefinition> apps;
  private final RuntimeSettings settings;

  private final JdbcSnapshotPruner pruner;
  private final JdbcActionWakeups wakeups;

  private SyncEngine(ActorSystem<InstanceRegistry.Command> system, Map<String, AppDefinition> apps, RuntimeSettings settings,
      JdbcSnapshotPruner pruner,
      JdbcActionWakeups wakeups) {
    this.system = system;
    this.pruner = pruner;
    this.wakeups = wakeups;
    this.apps = apps;
    this.settings = settings;
  }

  /**
   * Prepares the database and starts an actor system serving {@code apps}.
   *
   * @param config the complete, resolved configuration (for example {@code ConfigFactory.load()})
   * @param apps the apps to serve; names must be unique
   * @param name the actor system's name
   */
  public static SyncEngine start(Config config, Collection<AppDefinition> apps, String name) {
    Map<String, AppDefinition> byName = new LinkedHashMap<>();
    for (AppDefinition app : apps) {
      if (byName.put(app.name(), app) != null) {
        throw new IllegalArgumentException("two apps are called " + app.name());
      }
    }
    DatabaseSetup.prepare(config);
    RuntimeSettings settings = RuntimeSettings.from(config);
    JdbcSnapshotPruner pruner = new JdbcSnapshotPruner(config);
    // One process: the registry. The cluster profile (pekko.actor.provider = cluster): Cluster
    // Sharding places instances on the nodes (docs/OPERATIONS.md). The rest is the same code.
    boolean clustered = clustered(config);
    ActorSystem<InstanceRegistry.Command> system = ActorSystem.create(clustered
        ? io.syncedstore.runtime.ShardedInstances.create(byName, settings, pruner)
        : InstanceRegistry.create(byName, settings, pruner), name, config);
    JdbcActionWakeups wakeups = new JdbcActionWakeups(config);
    ActionWakeups.get(system).install(wakeups);
    AutoCloseable compactor = H2Compactor.start(JournalDatabase.of(config),
        config.getDuration("synced-store.persistence.h2-compact-interval"));
    // Before the journal's connection pool closes (it closes with the actor system, SIGTERM included).
    org.apache.pekko.actor.CoordinatedShutdown.get(system).addTask(
        org.apache.pekko.actor.CoordinatedShutdown.PhaseServiceStop(), "stop-h2-compactor", () -> {
          closeQuietly(compactor);
          return java.util.concurrent.CompletableFuture.completedFuture(org.apache.pekko.Done.getInstance());
        });
    wakeInstancesWithOutstandingActions(system, byName, wakeups);
    if (clustered) {
      wakeAfterNodeLoss(system, byName, wakeups);
    }
    return new SyncEngine(system, Map.copyOf(byName), settings, pruner, wakeups);
  }

  /**
   * Starts every instance the wake-up list names, so that its enqueued and scheduled actions run
   * after a restart even if no client comes back to it.
   */
  private static void wakeInstancesWithOutstandingActions(ActorSystem<InstanceRegistry.Command> system,
      Map<String, AppDefinition> apps, JdbcActionWakeups wakeups) {
    int started = 0;
    for (String persistenceId : wakeups.listed()) {
      int bar = persistenceId.indexOf('|');
      String app = bar < 0 ? "" : persistenceId.substring(0, bar);
      if (!apps.containsKey(app)) {
        continue; // an app this server does not serve (any more)
      }
      try {
        InstanceId id = new InstanceId(app, persistenceId.substring(bar + 1));
        // Spread out (100 a second), so that a server with many such instances does not start them all at once.
        system.scheduler().scheduleOnce(Duration.ofMillis(10L * started++),
            () -> system.tell(new InstanceRegistry.Deliver(id, new AppInstance.GetActionStatus(system.ignoreRef()))),
            system.executionContext());
      } catch (SyncException e) {
        // not an instance id: ignore the row
      }
    }
  }

  /**
   * Cluster profile: when a node is removed (crashed and downed, or left), the instances it ran
   * with actions due are started again elsewhere: every node reads the wake-up list and wakes the
   * listed instances (sharding starts each once, wherever its shard now lives). Without this, a
   * crashed node's scheduled actions would wait until a client touched their instance.
   */
  private static void wakeAfterNodeLoss(ActorSystem<InstanceRegistry.Command> system, Map<String, AppDefinition> apps,
      JdbcActionWakeups wakeups) {
    org.apache.pekko.actor.typed.ActorRef<org.apache.pekko.cluster.ClusterEvent.MemberRemoved> listener = system.systemActorOf(
        org.apache.pekko.actor.typed.javadsl.Behaviors.receive(org.apache.pekko.cluster.ClusterEvent.MemberRemoved.class)
            .onAnyMessage(removed -> {
              // The list is read with JDBC: off the actor's thread.
              CompletableFuture.runAsync(() -> wakeInstancesWithOutstandingActions(system, apps, wakeups));
              return org.apache.pekko.actor.typed.javadsl.Behaviors.same();
            }).build(),
        "wake-after-node-loss", org.apache.pekko.actor.typed.Props.empty());
    org.apache.pekko.cluster.typed.Cluster.get(system).subscriptions().tell(
        org.apache.pekko.cluster.typed.Subscribe.create(listener, org.apache.pekko.cluster.ClusterEvent.MemberRemoved.class));
  }

  /** @return whether {@code config} is the cluster profile ({@code pekko.actor.provider = cluster}) */
  public static boolean clustered(Config config) {
    return "cluster".equals(config.getString("pekko.actor.provider"));
  }

  /** @return whether this engine runs as a node of a cluster (instances sharded) */
  public boolean clustered() {
    return clustered(system.settings().config());
  }

  /** @return the actor system */
  public ActorSystem<InstanceRegistry.Command> system() {
    return system;
  }

  /** @return the engine's settings */
  public RuntimeSettings settings() {
    return settings;
  }

  /** @return app {@code name}, if served */
  public Optional<AppDefinition> app(String name) {
    return Optional.ofNullable(apps.get(name));
  }

  /**
   * @return the id of instance {@code instanceId} of app {@code app}
   * @throws SyncException {@link ErrorCode#NOT_FOUND} when the app is not served,
   *     {@link ErrorCode#BAD_REQUEST} when the instance id is invalid
   */
  public InstanceId instanceId(String app, String instanceId) {
    if (!apps.containsKey(app)) {
      throw new SyncException(ErrorCode.NOT_FOUND, "no app '" + app + "'; this server has " + apps.keySet());
    }
    return new InstanceId(app, instanceId);
  }

  /** @return the apps served, by name */
  public Map<String, AppDefinition> apps() {
    return apps;
  }

  /**
   * Pushes mutations of one client to an instance.
   *
   * @return the result once persisted; fails with a {@link SyncException}
   */
  public CompletionStage<AppInstance.PushResult> push(InstanceId id, String clientGroupId, String clientId, String userId,
      List<MutationRequest> mutations) {
    return push(id, clientGroupId, clientId, Principal.userOrAnonymous(userId), mutations);
  }

  /**
   * Pushes mutations of one client of {@code principal} to an instance; its scopes bound what the
   * mutations may write.
   *
   * @return the result once persisted; fails with a {@link SyncException}
   */
  public CompletionStage<AppInstance.PushResult> push(InstanceId id, String clientGroupId, String clientId, Principal principal,
      List<MutationRequest> mutations) {
    return ask(id, replyTo -> new AppInstance.Push(clientGroupId, clientId, principal, List.copyOf(mutations), replyTo));
  }

  /**
   * Pulls the patch from {@code cookie} for a client group of {@code userId}.
   *
   * @return the patch; fails with a {@link SyncException}
   */
  public CompletionStage<AppInstance.PullResult> pull(InstanceId id, String clientGroupId, String cookie, String userId) {
    return pull(id, clientGroupId, cookie, Principal.userOrAnonymous(userId));
  }

  /**
   * Pulls the patch from {@code cookie} for a client group of {@code principal}.
   *
   * @return the patch, filtered by the principal's user and scopes; fails with a {@link SyncException}
   */
  public CompletionStage<AppInstance.PullResult> pull(InstanceId id, String clientGroupId, String cookie, Principal principal) {
    return ask(id, replyTo -> new AppInstance.Pull(clientGroupId, cookie, principal, replyTo));
  }

  /**
   * Connects a client to an instance: starts its session, which writes {@code connected}, the
   * patch from {@code cookie} and then live pokes to {@code socket}.
   *
   * @return the session; fails with a {@link SyncException} (for example
   *     {@link ErrorCode#CLIENT_OWNED_BY_OTHER_USER} or {@link ErrorCode#SCHEMA_VERSION_MISMATCH})
   */
  public CompletionStage<ActorRef<ClientSession.Command>> connect(InstanceId id, String clientGroupId, String clientId,
      Principal principal, String cookie, int schemaVersion, ActorRef<SocketOut> socket) {
    return ask(id, replyTo -> new AppInstance.Connect(clientGroupId, clientId, principal, cookie, schemaVersion, socket, replyTo));
  }

  /**
   * Changes membership of instance {@code id} ({@link io.syncedstore.api.Membership}): runs the
   * system mutation {@code mutator} as {@code userId} with the app's hook, in the op log.
   *
   * @return the push result, whose one mutation result says whether it applied or why it failed
   */
  public CompletionStage<AppInstance.PushResult> changeMembership(InstanceId id, String userId, String mutator,
      com.fasterxml.jackson.databind.JsonNode args) {
    return ask(id, replyTo -> new AppInstance.ChangeMembership(userId, mutator, args, replyTo));
  }

  /** @return what instance {@code id}'s actions are doing (starting the instance if needed) */
  public CompletionStage<AppInstance.ActionStatus> actionStatus(InstanceId id) {
    return AskPattern.ask(system, replyTo -> new InstanceRegistry.Deliver(id, new AppInstance.GetActionStatus(replyTo)),
        settings.askTimeout(), system.scheduler());
  }

  /** @return the counters of every session connected to instance {@code id} (starting the instance if needed) */
  public CompletionStage<List<ClientSession.Stats>> sessionStats(InstanceId id) {
    CompletionStage<AppInstance.Sessions> sessions = AskPattern.ask(system,
        replyTo -> new InstanceRegistry.Deliver(id, new AppInstance.ListSessions(replyTo)), settings.askTimeout(), system.scheduler());
    return sessions.thenComposeAsync(list -> {
      List<ActorRef<ClientSession.Command>> refs = list.sessions();
      List<CompletableFuture<ClientSession.Stats>> stats = new ArrayList<>();
      for (ActorRef<ClientSession.Command> ref : refs) {
        stats.add(AskPattern.<ClientSession.Command, ClientSession.Stats>ask(ref, ClientSession.GetStats::new,
            settings.askTimeout(), system.scheduler()).toCompletableFuture());
      }
      return CompletableFuture.allOf(stats.toArray(CompletableFuture[]::new))
          .thenApply(v -> stats.stream().map(CompletableFuture::join).toList());
    }, system.executionContext());
  }

  /**
   * Calls action {@code name} of instance {@code id} as {@code userId}.
   *
   * @return its output; fails with a {@link SyncException} ({@code UNKNOWN_ACTION}, {@code OVERLOADED},
   *     {@code ACTION_FAILED}, {@code ACTION_TIMEOUT}...)
   */
  public CompletionStage<com.fasterxml.jackson.databind.JsonNode> runAction(InstanceId id, String userId, String name,
      com.fasterxml.jackson.databind.JsonNode input) {
    return runAction(id, Principal.userOrAnonymous(userId), name, input);
  }

  /**
   * Calls action {@code name} of instance {@code id} as {@code caller} (whose scopes its
   * {@code ctx.callerView()} applies).
   *
   * @return its output; fails with a {@link SyncException}
   */
  public CompletionStage<com.fasterxml.jackson.databind.JsonNode> runAction(InstanceId id, Principal caller, String name,
      com.fasterxml.jackson.databind.JsonNode input) {
    // The instance answers every call itself, its own timeout included; a queued call may wait for slots first.
    Duration wait = settings.askTimeout().plus(settings.actions().timeout()).multipliedBy(2);
    return ask(id, replyTo -> new AppInstance.RunAction(caller, name, input, replyTo), wait);
  }

  private <T> CompletionStage<T> ask(InstanceId id,
      Function<ActorRef<StatusReply<T>>, AppInstance.Command> command) {
    return ask(id, command, settings.askTimeout());
  }

  private <T> CompletionStage<T> ask(InstanceId id,
      Function<ActorRef<StatusReply<T>>, AppInstance.Command> command, Duration timeout) {
    if (!apps.containsKey(id.app())) {
      return CompletableFuture.failedFuture(new SyncException(ErrorCode.NOT_FOUND, "no app '" + id.app() + "'"));
    }
    return AskPattern.<InstanceRegistry.Command, T>askWithStatus(system,
            replyTo -> new InstanceRegistry.Deliver(id, command.apply(replyTo)), timeout, system.scheduler())
        // Async: the reply completes this future on the instance's own thread; callers' continuations
        // (HTTP responses, the next push) must not run there and stall the instance.
        .handleAsync((value, error) -> {
          if (error != null) {
            throw InstanceErrors.unwrap(error);
          }
          return value;
        }, system.executionContext());
  }

  private static void closeQuietly(AutoCloseable closeable) {
    try {
      closeable.close();
    } catch (Exception e) {
      org.slf4j.LoggerFactory.getLogger(SyncEngine.class).warn("could not stop {}: {}", closeable, e.toString());
    }
  }

  /** Stops the actor system and waits (bounded) until it has terminated and the database is closed. */
  @Override
  public void close() {
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      pruner.close();
      wakeups.close();
    } catch (TimeoutException e) {
      throw new IllegalStateException("the actor system did not terminate within 30 s", e);
    } catch (Exception e) {
      throw new IllegalStateException("error while stopping the actor system", e);
    }
  }

  /** @return how long callers should wait for an instance */
  public Duration askTimeout() {
    return settings.askTimeout();
  }
}
