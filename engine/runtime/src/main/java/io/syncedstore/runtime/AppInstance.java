package io.syncedstore.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Membership;
import io.syncedstore.api.protocol.CloseCodes;
import io.syncedstore.api.store.TableAddress;
import io.syncedstore.api.auth.Principal;
import io.syncedstore.api.auth.Scopes;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.exec.MutationExecutor;
import io.syncedstore.api.exec.MutationInvocation;
import io.syncedstore.api.exec.MutationOutcome;
import io.syncedstore.api.protocol.Cookie;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.api.store.Overlay;
import io.syncedstore.api.store.Row;
import io.syncedstore.api.store.StoreView;
import io.syncedstore.api.store.Write;
import io.syncedstore.runtime.journal.ActionCompleted;
import io.syncedstore.runtime.journal.InstanceCreated;
import io.syncedstore.runtime.journal.InstanceEvent;
import io.syncedstore.runtime.journal.InstanceSnapshot;
import io.syncedstore.runtime.journal.MutationApplied;
import io.syncedstore.runtime.journal.MutationFailed;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.SnapshotCompleted;
import org.apache.pekko.persistence.typed.SnapshotAdapter;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerWithReply;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import org.apache.pekko.persistence.typed.javadsl.ReplyEffect;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;

/**
 * One app instance: the persistent actor that owns the instance's operation log and applies
 * mutations serially.
 *
 * <p>Pushes are group-committed: a push is queued (bounded by {@code max-pending-mutations}) and
 * a {@code Flush} is sent to self; every push that arrives before that flush is handled, and
 * every push that arrives while a write is in flight (Pekko stashes them), is run and persisted
 * together with one {@code persistAll}. Replies go out only after the journal has the events.
 */
public final class AppInstance extends EventSourcedBehaviorWithEnforcedReplies<AppInstance.Command, InstanceEvent, InstanceState> {

  /** Everything an instance accepts. */
  public sealed interface Command extends JsonSerializable {}

  /**
   * Push mutations of one client. Mutation ids must be strictly increasing; ids already applied
   * are acknowledged as duplicates, and the first new id must be the client's last + 1.
   *
   * @param clientGroupId the client's group
   * @param clientId the client
   * @param principal who pushes: its user writes the private tier, its scopes bound the writes
   * @param mutations the mutations, in id order
   * @param replyTo gets a {@link PushResult} once persisted, or an error ({@link InstanceErrors})
   */
  public record Push(String clientGroupId, String clientId, Principal principal, List<MutationRequest> mutations,
      ActorRef<StatusReply<PushResult>> replyTo) implements Command {
    /** A push of {@link Principal#userOrAnonymous}{@code (userId)}. */
    public Push(String clientGroupId, String clientId, String userId, List<MutationRequest> mutations,
        ActorRef<StatusReply<PushResult>> replyTo) {
      this(clientGroupId, clientId, Principal.userOrAnonymous(userId), mutations, replyTo);
    }

    /** @return the pushing user, or {@code null} for anonymous */
    public String userId() {
      return principal.userId();
    }
  }

  /**
   * Pull the patch from {@code cookie} to now, and the group's changed last mutation ids.
   *
   * @param clientGroupId the client group asking
   * @param cookie the cookie the group holds, or {@code null}
   * @param principal who pulls (its user selects the private tier, its scopes filter the rows)
   * @param replyTo gets a {@link PullResult}
   */
  public record Pull(String clientGroupId, String cookie, Principal principal, ActorRef<StatusReply<PullResult>> replyTo)
      implements Command {
    /** A pull of {@link Principal#userOrAnonymous}{@code (userId)}. */
    public Pull(String clientGroupId, String cookie, String userId, ActorRef<StatusReply<PullResult>> replyTo) {
      this(clientGroupId, cookie, Principal.userOrAnonymous(userId), replyTo);
    }
  }

  /**
   * Connect a client: start its {@link ClientSession}, which sends {@code connected} and the patch
   * from {@code cookie} to {@code socket} at once, and then a poke for every commit.
   *
   * @param clientGroupId the client's group
   * @param clientId the client; owned by the first user that uses it
   * @param principal who connects (its user selects the private tier, its scopes filter the rows)
   * @param cookie the cookie the client holds, or {@code null}
   * @param schemaVersion the app schema version the client was built against
   * @param socket the client's socket
   * @param replyTo gets the session, or an error ({@link InstanceErrors})
   */
  public record Connect(String clientGroupId, String clientId, Principal principal, String cookie, int schemaVersion,
      ActorRef<SocketOut> socket, ActorRef<StatusReply<ActorRef<ClientSession.Command>>> replyTo) implements Command {
    /** A connection of {@link Principal#userOrAnonymous}{@code (userId)}. */
    public Connect(String clientGroupId, String clientId, String userId, String cookie, int schemaVersion,
        ActorRef<SocketOut> socket, ActorRef<StatusReply<ActorRef<ClientSession.Command>>> replyTo) {
      this(clientGroupId, clientId, Principal.userOrAnonymous(userId), cookie, schemaVersion, socket, replyTo);
    }

    /** @return the connecting user, or {@code null} for anonymous */
    public String userId() {
      return principal.userId();
    }
  }

  /**
   * The sessions of connected clients, for statistics and tests.
   *
   * @param replyTo gets them
   */
  public record ListSessions(ActorRef<Sessions> replyTo) implements Command {}

  /**
   * The answer to {@link ListSessions}.
   *
   * @param sessions the sessions of connected clients, on the instance's node
   */
  public record Sessions(List<ActorRef<ClientSession.Command>> sessions) implements JsonSerializable {}

  /**
   * Stop unless clients are connected; if they are, tell {@code registry} {@link InstanceRegistry.StillActive}.
   *
   * @param registry the registry asking
   */
  public record Passivate(ActorRef<InstanceRegistry.Command> registry) implements Command, LocalOnly {}

  /**
   * Run action {@code name} for {@code userId}: in an {@link ActionWorker} once a slot is free
   * (at most {@code synced-store.actions.max-concurrent} at once, {@code max-queued} waiting).
   *
   * @param userId the caller, or {@code null} for anonymous
   * @param name the action
   * @param input its input
   * @param replyTo gets the output, or an error ({@code UNKNOWN_ACTION}, {@code INVALID_INPUT},
   *     {@code OVERLOADED}, {@code ACTION_FAILED}, {@code ACTION_TIMEOUT}...)
   */
  public record RunAction(Principal caller, String name, JsonNode input, ActorRef<StatusReply<JsonNode>> replyTo)
      implements Command {
    /** A call by {@link Principal#userOrAnonymous}{@code (userId)}. */
    public RunAction(String userId, String name, JsonNode input, ActorRef<StatusReply<JsonNode>> replyTo) {
      this(Principal.userOrAnonymous(userId), name, input, replyTo);
    }

    /** @return the calling user, or {@code null} */
    public String userId() {
      return caller.userId();
    }
  }

  /**
   * Report the instance's actions, for tests and operators.
   *
   * @param replyTo gets the {@link ActionStatus}
   */
  public record GetActionStatus(ActorRef<ActionStatus> replyTo) implements Command {}

  /**
   * An instance's actions.
   *
   * @param running invocations running
   * @param waiting calls and enqueued actions waiting for a slot
   * @param outstandingDue enqueued or scheduled actions due now whose completion is not recorded
   * @param scheduledLater scheduled actions not yet due
   */
  public record ActionStatus(int running, int waiting, int outstandingDue, int scheduledLater) implements JsonSerializable {
    /** @return whether nothing runs, waits or is due */
    public boolean idle() {
      return running == 0 && waiting == 0 && outstandingDue == 0;
    }
  }

  /** A worker reads the state: {@code read} runs on the instance's thread (local only, never serialized). */
  record ActionRead(Function<InstanceState, Object> read, ActorRef<Object> replyTo) implements Command, LocalOnly {}

  /**
   * A worker's {@code ctx.mutate}: applied as a mutation of the server's own client, attributed to
   * {@code userId}. From this instance's own worker {@code invocationId} names it, and the write is
   * refused once that invocation was given up (timed out); from another instance it is -1.
   */
  record ActionMutate(long invocationId, String userId, String name, JsonNode args, ActorRef<StatusReply<PushResult>> replyTo)
      implements Command {}

  /**
   * A membership change ({@link Membership}): the system mutation {@code mutator} with {@code args},
   * run as {@code userId} (the user concerned) by the server's own client, with the app's hook.
   *
   * @param userId the user the change concerns
   * @param mutator one of {@link Membership#MUTATORS}
   * @param args its input
   * @param replyTo gets the push result (the mutation may have failed: see its result)
   */
  public record ChangeMembership(String userId, String mutator, JsonNode args, ActorRef<StatusReply<PushResult>> replyTo)
      implements Command {}

  /** A worker finished: {@code error == null} means success. */
  record ActionDone(long invocationId, JsonNode output, SyncException error) implements Command, LocalOnly {}

  private record ActionTimedOut(long invocationId) implements Command, LocalOnly {}

  private record WorkerStopped(long invocationId) implements Command, LocalOnly {}

  private record ActionDue(String actionId) implements Command, LocalOnly {}

  /** The worker's task got a thread: the action's timeout starts now, not while it waited for one. */
  record ActionStarted(long invocationId) implements Command, LocalOnly {}

  private record CompleteAction(String actionId, ErrorCode code, String message) implements Command, LocalOnly {}

  /** A session that fell behind asks for the patch from {@code cookie}, answered with {@link ClientSession.CatchUp}. */
  record SessionCatchUp(ActorRef<ClientSession.Command> session, String cookie, String clientGroupId, Principal principal)
      implements Command, LocalOnly {}

  private record SessionEnded(ActorRef<ClientSession.Command> session) implements Command, LocalOnly {}

  /** Stop (passivate) after pending work. */
  public enum Stop implements Command {
    /** The only value. */
    INSTANCE
  }

  /** Persist everything queued. */
  private enum Flush implements Command, LocalOnly { INSTANCE }

  /**
   * Sharded instances only: time to check whether the instance has been idle for {@code idle-timeout}.
   * A restart (supervision) starts a new chain of checks; {@code incarnation} lets the old chain end.
   */
  private record IdleCheck(long incarnation) implements Command, LocalOnly {}

  private static final java.util.concurrent.atomic.AtomicLong INCARNATIONS = new java.util.concurrent.atomic.AtomicLong();

  /**
   * How a sharded instance (the cluster profile) passivates itself: no registry watches it, so it
   * checks its own idleness and asks its shard to stop it ({@link ShardedInstances}).
   *
   * @param shard the shard hosting the instance: gets {@code ClusterSharding.Passivate}, then sends {@link Stop}
   * @param wakeups this node's router: gets {@link InstanceRegistry.WakeAt} when the instance
   *     passivates with actions scheduled for later
   */
  record ShardHandle(ActorRef<org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding.ShardCommand> shard,
      ActorRef<InstanceRegistry.Command> wakeups) {}

  /**
   * The answer to a push.
   *
   * @param lastMutationId the client's last processed mutation id after this push
   * @param results one per mutation of the push
   * @param cookie the instance's cookie right after this push was persisted
   */
  public record PushResult(long lastMutationId, List<MutationResult> results, String cookie) implements JsonSerializable {}

  /**
   * What happened to one mutation.
   *
   * @param id the mutation id
   * @param status {@code applied}, {@code failed} or {@code duplicate} (applied by an earlier push)
   * @param code the error code when failed
   * @param message the error message when failed
   */
  @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
  public record MutationResult(long id, String status, ErrorCode code, String message) {
    static MutationResult applied(long id) {
      return new MutationResult(id, "applied", null, null);
    }

    static MutationResult duplicate(long id) {
      return new MutationResult(id, "duplicate", null, null);
    }
  }

  /**
   * The answer to a pull.
   *
   * @param cookie the cookie the patch leads to
   * @param reset whether the patch starts with {@code clear}
   * @param lastMutationIdChanges the group's clients whose last mutation id changed since the cookie
   * @param patch the operations
   * @param clientGroupKnown whether any client of the asking group ever pushed to this instance
   */
  public record PullResult(String cookie, boolean reset, Map<String, Long> lastMutationIdChanges, List<PatchOp> patch,
      boolean clientGroupKnown) implements JsonSerializable {}

  /** @return the behavior of instance {@code id} of {@code app} */
  public static Behavior<Command> create(InstanceId id, AppDefinition app, RuntimeSettings settings) {
    return create(id, app, settings, SnapshotPruner.NONE);
  }

  /** @return the behavior of instance {@code id} of {@code app}, deleting its old snapshots with {@code pruner} */
  public static Behavior<Command> create(InstanceId id, AppDefinition app, RuntimeSettings settings, SnapshotPruner pruner) {
    return create(id, app, settings, pruner, null);
  }

  /**
   * @return the behavior of instance {@code id} as an entity of Cluster Sharding: like
   *     {@link #create(InstanceId, AppDefinition, RuntimeSettings, SnapshotPruner)}, but the
   *     instance passivates itself through {@code handle} after {@code idle-timeout} without commands
   */
  static Behavior<Command> createSharded(InstanceId id, AppDefinition app, RuntimeSettings settings, SnapshotPruner pruner,
      ShardHandle handle) {
    return create(id, app, settings, pruner, handle);
  }

  private static Behavior<Command> create(InstanceId id, AppDefinition app, RuntimeSettings settings, SnapshotPruner pruner,
      ShardHandle handle) {
    // Journal failures restart through onPersistFailure; anything else unexpected restarts too (with
    // backoff) instead of stopping the instance. Recovery rebuilds the state from the journal.
    return Behaviors.supervise(Behaviors.<Command>setup(context -> {
      AppInstance instance = new AppInstance(context, id, app, settings, pruner, handle);
      if (handle == null) {
        return instance; // the registry sees every command and decides when to passivate
      }
      // Every message but the idle check itself counts as activity.
      return Behaviors.intercept(() -> new org.apache.pekko.actor.typed.BehaviorInterceptor<Command, Command>(Command.class) {
        @Override
        public Behavior<Command> aroundReceive(org.apache.pekko.actor.typed.TypedActorContext<Command> ctx, Command message,
            ReceiveTarget<Command> target) {
          if (!(message instanceof IdleCheck)) {
            instance.lastActivityNanos = System.nanoTime();
          }
          return target.apply(ctx, message);
        }
      }, instance);
    })).onFailure(RuntimeException.class,
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
  }

  /** The epoch of a cookie handed out before the instance wrote anything; real epochs are 12 hex digits. */
  static final String NO_EPOCH = "0";

  private final ActorContext<Command> context;
  private final InstanceId id;
  private final AppDefinition app;
  private final RuntimeSettings settings;
  private final MutationExecutor executor;
  private final SnapshotPruner pruner;
  // Snapshot bookkeeping, command side: when the next snapshot is due, and the snapshots of this
  // incarnation, oldest first.
  private long nextSnapshotSeqNr;
  private final java.util.ArrayDeque<Long> snapshotsTaken = new java.util.ArrayDeque<>();
  // Command-side only, never part of the persisted state: pushes waiting for the next flush.
  private final List<Push> queued = new ArrayList<>();
  /** When each of {@link #queued} arrived ({@code System.nanoTime}), for the push-to-confirmation metric. */
  private final List<Long> queuedAt = new ArrayList<>();
  private final EngineMetrics metrics;
  private int queuedMutations;
  private boolean flushScheduled;
  private final long recoveryStartNanos = System.nanoTime();
  // Connected clients: sessions are children, gone with this actor; never persisted.
  private final Map<ActorRef<ClientSession.Command>, SessionInfo> sessions = new HashMap<>();
  private final Map<String, ActorRef<ClientSession.Command>> sessionsByClient = new HashMap<>();
  private long sessionsStarted;

  private record SessionInfo(String clientId, String userId) {}

  /** The client id of mutations made by actions ({@code ctx.mutate}); ids starting with {@code $} are the server's. */
  static final String SERVER_CLIENT = MutationInvocation.SERVER_CLIENT;
  // Actions, command side only: running invocations by number, and calls waiting for a slot.
  /** A call ({@code systemId == null}, answered to {@code replyTo}) or an enqueued action ({@code systemId} set, completion persisted). */
  private record QueuedAction(String systemId, Principal caller, String name, JsonNode input, ActorRef<StatusReply<JsonNode>> replyTo,
      long queuedAtNanos) {}

  /** {@code timeout} is {@code null} until the action's code starts ({@link ActionStarted}). */
  private record RunningAction(String systemId, ActorRef<ActionWorker.Command> worker, ActorRef<StatusReply<JsonNode>> replyTo,
      org.apache.pekko.actor.Cancellable timeout) {
    RunningAction withTimeout(org.apache.pekko.actor.Cancellable t) {
      return new RunningAction(systemId, worker, replyTo, t);
    }

    void cancelTimeout() {
      if (timeout != null) {
        timeout.cancel();
      }
    }
  }

  private final Map<Long, RunningAction> runningActions = new HashMap<>();
  private final java.util.ArrayDeque<QueuedAction> waitingActions = new java.util.ArrayDeque<>();
  /** Calls among {@link #waitingActions}: bounded by {@code max-queued}; enqueued actions wait without that bound (they are persisted). */
  private int waitingCalls;
  /** Enqueued actions queued or running in this incarnation: each runs once per incarnation. */
  private final java.util.Set<String> systemStarted = new java.util.HashSet<>();
  /** Whether the wake-up list was last told that this instance has outstanding actions. */
  private boolean listedForWakeup;
  /** Timers of scheduled actions not yet due. */
  private final Map<String, org.apache.pekko.actor.Cancellable> systemTimers = new HashMap<>();
  /** Invocation numbers; starting from the clock keeps them distinct across restarts of this actor (a stale worker's id never matches). */
  private long actionsStarted = System.nanoTime() & Long.MAX_VALUE >>> 1;
  /** The last mutation id handed to {@link #SERVER_CLIENT}; -1 until read from the state. */
  private long serverMutationId = -1;

  /** Sharded instances only (else {@code null}): how to passivate, and when the last command arrived. */
  private final ShardHandle shardHandle;
  private long lastActivityNanos = System.nanoTime(); // written by the interceptor, on the actor's thread
  private boolean passivationRequested;
  private final long incarnation = INCARNATIONS.incrementAndGet();

  private AppInstance(ActorContext<Command> context, InstanceId id, AppDefinition app, RuntimeSettings settings,
      SnapshotPruner pruner, ShardHandle shardHandle) {
    super(PersistenceId.ofUniqueId(id.persistenceId()),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.context = context;
    this.id = id;
    this.app = app;
    this.settings = settings;
    this.executor = new MutationExecutor(app, true);
    this.pruner = pruner;
    this.metrics = EngineMetrics.get(context.getSystem());
    this.shardHandle = shardHandle;
  }

  @Override
  public InstanceState emptyState() {
    return InstanceState.empty(settings.maxTombstones());
  }

  @Override
  public CommandHandlerWithReply<Command, InstanceEvent, InstanceState> commandHandler() {
    return newCommandHandlerWithReplyBuilder().forAnyState()
        .onCommand(Push.class, this::onPush)
        .onCommand(Pull.class, this::onPull)
        .onCommand(Flush.class, this::onFlush)
        .onCommand(Stop.class, this::onStop)
        .onCommand(Connect.class, this::onConnect)
        .onCommand(SessionCatchUp.class, this::onSessionCatchUp)
        .onCommand(SessionEnded.class, this::onSessionEnded)
        .onCommand(ListSessions.class, (state, c) -> {
          c.replyTo().tell(new Sessions(List.copyOf(sessions.keySet())));
          return Effect().noReply();
        })
        .onCommand(Passivate.class, this::onPassivate)
        .onCommand(IdleCheck.class, this::onIdleCheck)
        .onCommand(RunAction.class, this::onRunAction)
        .onCommand(GetActionStatus.class, (state, g) -> {
          long now = System.currentTimeMillis();
          int due = 0;
          int later = 0;
          for (InstanceState.OutstandingAction a : state.outstandingActions()) {
            if (a.runAt() <= now) {
              due++;
            } else {
              later++;
            }
          }
          g.replyTo().tell(new ActionStatus(runningActions.size(), waitingActions.size(), due, later));
          return Effect().noReply();
        })
        .onCommand(ActionRead.class, (state, r) -> {
          Object result;
          try {
            result = r.read().apply(state);
          } catch (RuntimeException e) {
            result = e; // the action's read failed (bad scan options...): the action sees it, the instance goes on
          }
          r.replyTo().tell(result);
          return Effect().noReply();
        })
        .onCommand(ActionMutate.class, this::onActionMutate)
        .onCommand(ChangeMembership.class, (state, c) -> Membership.isMembershipMutator(c.mutator())
            ? onActionMutate(state, new ActionMutate(-1, c.userId(), c.mutator(), c.args(), c.replyTo()))
            : Effect().reply(c.replyTo(), InstanceErrors.reply(ErrorCode.UNKNOWN_MUTATOR, "not a membership mutator: " + c.mutator())))
        .onCommand(ActionDone.class, (state, done) -> finishAction(state, done.invocationId(), done.error() == null
            ? StatusReply.success(done.output()) : InstanceErrors.reply(done.error()), false))
        .onCommand(ActionTimedOut.class, (state, t) -> finishAction(state, t.invocationId(), InstanceErrors.reply(
            ErrorCode.ACTION_TIMEOUT, "the action ran longer than " + settings.actions().timeout().toMillis()
                + " ms and was abandoned; what it wrote through ctx.mutate before stays"), true))
        .onCommand(WorkerStopped.class, (state, w) -> finishAction(state, w.invocationId(), InstanceErrors.reply(
            ErrorCode.ACTION_FAILED, "the action's worker stopped unexpectedly"), false))
        .onCommand(CompleteAction.class, (state, c) -> Effect().persist((InstanceEvent) new ActionCompleted(c.actionId(), c.code(),
            c.message())).thenRun(s2 -> {
              systemStarted.remove(c.actionId());
              updateWakeup(s2);
            }).thenNoReply())
        .onCommand(ActionDue.class, (state, due) -> {
          systemTimers.remove(due.actionId());
          InstanceState.OutstandingAction a = state.outstanding(due.actionId());
          if (a != null) {
            scheduleSystemAction(state, a.id(), a.runAt()); // runs it if due, else re-arms the timer
          }
          return Effect().noReply();
        })
        .onCommand(ActionStarted.class, (state, started) -> {
          RunningAction running = runningActions.get(started.invocationId());
          if (running != null && running.timeout() == null) {
            runningActions.put(started.invocationId(), running.withTimeout(context.scheduleOnce(settings.actions().timeout(),
                context.getSelf(), new ActionTimedOut(started.invocationId()))));
          }
          return Effect().noReply();
        })
        .build();
  }

  @Override
  public EventHandler<InstanceState, InstanceEvent> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(InstanceState::apply);
  }

  /**
   * Snapshot after {@code max(snapshot-every, entries / snapshot-rows-per-event)} events, the
   * entries counted when the previous snapshot was taken (so the next one is always due: an
   * instance growing faster than its interval cannot postpone it forever). A large instance
   * therefore does not spend its time writing snapshots. Pekko's count-based retention cannot
   * space snapshots by size; old snapshots are deleted on {@link SnapshotCompleted}.
   */
  @Override
  public boolean shouldSnapshot(InstanceState state, InstanceEvent event, long sequenceNr) {
    if (nextSnapshotSeqNr == 0) {
      nextSnapshotSeqNr = settings.snapshotInterval(0);
    }
    if (sequenceNr < nextSnapshotSeqNr) {
      return false;
    }
    nextSnapshotSeqNr = sequenceNr + settings.snapshotInterval(state.store().liveRows());
    return true;
  }

  @Override
  public SnapshotAdapter<InstanceState> snapshotAdapter() {
    return new SnapshotAdapter<>() {
      @Override
      public Object toJournal(InstanceState state) {
        return state.toSnapshot(); // called on the actor's thread: the copy is taken before the store serializes it
      }

      @Override
      public InstanceState fromJournal(Object from) {
        return InstanceState.fromSnapshot((InstanceSnapshot) from, settings.maxTombstones());
      }
    };
  }

  @Override
  public SignalHandler<InstanceState> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.instance(), state -> {
          nextSnapshotSeqNr = lastSequenceNumber(context) + settings.snapshotInterval(state.store().liveRows());
          // At least once: whatever was enqueued or scheduled and not recorded as completed runs (again).
          List.copyOf(state.outstandingActions()).forEach(a -> scheduleSystemAction(state, a.id(), a.runAt()));
          listedForWakeup = !state.outstandingActions().isEmpty();
          ActionWakeups.get(context.getSystem()).set(id.persistenceId(), listedForWakeup); // also clears a stale entry
          context.getLog().info("instance [{}] recovered at version [{}] with [{}] entries in [{}] ms", id, state.version(),
              state.store().liveRows(), (System.nanoTime() - recoveryStartNanos) / 1_000_000);
          if (shardHandle != null) {
            scheduleIdleCheck();
          }
        })
        .onSignal(org.apache.pekko.actor.typed.PostStop.instance(), state -> failActions("the instance stopped"))
        .onSignal(org.apache.pekko.actor.typed.PreRestart.instance(), state -> failActions("the instance restarted"))
        .onSignal(SnapshotCompleted.class, (state, completed) -> {
          snapshotsTaken.addLast(completed.metadata().sequenceNr());
          if (snapshotsTaken.size() > settings.keepSnapshots()) {
            snapshotsTaken.removeFirst();
            pruner.deleteBefore(id.persistenceId(), snapshotsTaken.peekFirst());
          }
        })
        .build();
  }

  private ReplyEffect<InstanceEvent, InstanceState> onPush(InstanceState state, Push push) {
    SyncException invalid = validate(push);
    if (invalid != null) {
      return Effect().reply(push.replyTo(), InstanceErrors.reply(invalid));
    }
    if (overloaded(push.mutations().size())) {
      return Effect().reply(push.replyTo(), overloadedReply());
    }
    enqueue(push);
    return Effect().noReply();
  }

  private boolean overloaded(int moreMutations) {
    return queuedMutations + moreMutations > settings.maxPendingMutations();
  }

  private <T> StatusReply<T> overloadedReply() {
    return InstanceErrors.reply(ErrorCode.OVERLOADED,
        "instance " + id + " has " + queuedMutations + " mutations waiting to be persisted; retry later");
  }

  /** Queues {@code push} for the next group commit, and makes sure one is coming. */
  private void enqueue(Push push) {
    queued.add(push);
    queuedAt.add(System.nanoTime());
    queuedMutations += push.mutations().size();
    if (!flushScheduled) {
      flushScheduled = true;
      context.getSelf().tell(Flush.INSTANCE);
    }
  }

  private SyncException validate(Push push) {
    if (push.clientId() == null || push.clientId().isEmpty() || push.clientGroupId() == null || push.clientGroupId().isEmpty()) {
      return new SyncException(ErrorCode.BAD_REQUEST, "a push needs a clientId and a clientGroupId");
    }
    if (push.clientId().startsWith("$") || push.clientGroupId().startsWith("$")) {
      return new SyncException(ErrorCode.BAD_REQUEST, "client ids and client group ids starting with $ are the server's");
    }
    if (push.mutations().size() > settings.maxMutationsPerPush()) {
      return new SyncException(ErrorCode.BAD_REQUEST,
          "a push may carry at most " + settings.maxMutationsPerPush() + " mutations, got " + push.mutations().size());
    }
    long previous = 0;
    for (MutationRequest m : push.mutations()) {
      if (m.id() <= 0) {
        return new SyncException(ErrorCode.BAD_REQUEST, "mutation ids start at 1, got " + m.id());
      }
      if (m.id() <= previous) {
        return new SyncException(ErrorCode.BAD_REQUEST,
            "mutation ids in a push must increase; " + m.id() + " follows " + previous);
      }
      previous = m.id();
    }
    return null;
  }

  private ReplyEffect<InstanceEvent, InstanceState> onFlush(InstanceState state, Flush flush) {
    flushScheduled = false;
    if (queued.isEmpty()) {
      return Effect().noReply();
    }
    return flushQueued(state, false);
  }

  /** Runs and persists every queued push; replies once persisted; then stops if {@code stop}. */
  private ReplyEffect<InstanceEvent, InstanceState> flushQueued(InstanceState state, boolean stop) {
    List<Push> batch = List.copyOf(queued);
    List<Long> arrived = List.copyOf(queuedAt);
    queued.clear();
    queuedAt.clear();
    long writeStarted = System.nanoTime();
    queuedMutations = 0;

    String baseCookie = state.epoch() == null ? new Cookie(NO_EPOCH, 0).toString() : state.cookie().toString();
    List<InstanceEvent> events = new ArrayList<>();
    if (state.epoch() == null) {
      events.add(created());
    }
    List<Consumer<InstanceState>> replies = new ArrayList<>(batch.size());
    Overlay pendingWrites = new Overlay(state.store());
    int appliedEvents = 0;
    int failedEvents = 0;
    Map<String, InstanceState.ClientRecord> pendingClients = new HashMap<>();
    Map<List<Object>, com.fasterxml.jackson.databind.JsonNode> previousValues = new HashMap<>();
    for (Push push : batch) {
      InstanceState.ClientRecord client = pendingClients.getOrDefault(push.clientId(), state.client(push.clientId()));
      // The server's own client is used by every user's actions: no ownership, ids assigned by this actor.
      SyncException notMember = SERVER_CLIENT.equals(push.clientId()) ? null : notAMember(state, push.principal());
      SyncException refused = notMember != null || SERVER_CLIENT.equals(push.clientId()) ? notMember : refuse(push, client);
      if (refused != null) {
        replies.add(s -> push.replyTo().tell(InstanceErrors.reply(refused)));
        continue;
      }
      long last = client == null ? 0 : client.lastMutationId();
      List<MutationResult> results = new ArrayList<>(push.mutations().size());
      for (MutationRequest m : push.mutations()) {
        if (m.id() <= last) {
          results.add(MutationResult.duplicate(m.id()));
          continue;
        }
        MutationInvocation invocation = new MutationInvocation(push.clientId(), m.id(), m.name(), m.args(), push.userId(), m.timestamp());
        MutationOutcome outcome = executor.run(pendingWrites, invocation);
        if (outcome instanceof MutationOutcome.Applied applied && push.principal().scoped()) {
          outcome = withinScopes(applied, push.principal().scopes(), pendingWrites);
        }
        if (outcome instanceof MutationOutcome.Applied applied) {
          for (Write w : applied.writes()) {
            if (!sessions.isEmpty() && w.tier() != io.syncedstore.api.Tier.SERVER_ONLY) {
              // what the row held before this batch (for the sessions' pokes; none connected, none sent):
              // scoped sessions send a delete only to clients that could see it
              previousValues.computeIfAbsent(CommittedBatch.key(w), k -> {
                Row old = pendingWrites.get(w.address(), w.itemKey());
                return old == null ? CommittedBatch.ABSENT : old.value();
              });
            }
            pendingWrites.write(w);
          }
          appliedEvents++;
          events.add(new MutationApplied(push.clientGroupId(), push.clientId(), m.id(), m.name(), m.args(),
              push.userId(), m.timestamp(), applied.writes(), applied.actions(), applied.cancelledActions()));
          results.add(MutationResult.applied(m.id()));
        } else if (outcome instanceof MutationOutcome.Failed failed) {
          failedEvents++;
          events.add(new MutationFailed(push.clientGroupId(), push.clientId(), m.id(), m.name(), m.args(),
              push.userId(), m.timestamp(), failed.code(), failed.message()));
          results.add(new MutationResult(m.id(), "failed", failed.code(), failed.message()));
          context.getLog().debug("instance [{}] mutation [{}] #{} of client [{}] failed: {}", id, m.name(), m.id(),
              push.clientId(), failed.code());
        }
        last = m.id();
      }
      long lastMutationId = last;
      pendingClients.put(push.clientId(), new InstanceState.ClientRecord(push.clientGroupId(), push.userId(), last, 0));
      replies.add(s -> push.replyTo().tell(StatusReply.success(new PushResult(lastMutationId, results, s.cookie().toString()))));
    }
    // Pokes go out before the replies: a session hears of its client's failed mutations from the
    // batch, before the push's answer.
    int appliedCount = appliedEvents;
    int failedCount = failedEvents;
    Consumer<InstanceState> replyAll = s -> {
      if (!events.isEmpty()) {
        EngineMetrics.record(metrics.journalWrite, writeStarted);
      }
      metrics.mutationsApplied.increment(appliedCount);
      metrics.mutationsFailed.increment(failedCount);
      arrived.forEach(at -> EngineMetrics.record(metrics.pushConfirm, at));
      if (!sessions.isEmpty() && !events.isEmpty()) {
        broadcast(new ClientSession.Changes(CommittedBatch.of(baseCookie, s.cookie().toString(), events, previousValues)));
      }
      replies.forEach(r -> r.accept(s));
      closeNonMembers(s, events);
      startEnqueuedActions(s, events);
      updateWakeup(s);
    };
    var effect = events.isEmpty() ? Effect().none().thenRun(replyAll::accept) : Effect().persist(events).thenRun(replyAll::accept);
    return stop ? effect.thenStop().thenNoReply() : effect.thenNoReply();
  }

  /**
   * Sends {@code changes} to every session: first to the sessions of the clients whose mutations
   * it holds, so that a writer's confirmation does not wait behind a thousand watchers' pokes.
   */
  private void broadcast(ClientSession.Changes changes) {
    java.util.Set<ActorRef<ClientSession.Command>> first = new java.util.HashSet<>();
    for (CommittedBatch.Change c : changes.batch().changes()) {
      ActorRef<ClientSession.Command> writer = sessionsByClient.get(c.clientId());
      if (writer != null && first.add(writer)) {
        writer.tell(changes);
      }
    }
    for (ActorRef<ClientSession.Command> session : sessions.keySet()) {
      if (!first.contains(session)) {
        session.tell(changes);
      }
    }
  }

  /** Why {@code push} may not be applied at all, or {@code null}: checked against the state including earlier pushes of the batch. */
  private SyncException refuse(Push push, InstanceState.ClientRecord client) {
    SyncException notYours = notItsClient(push.clientId(), client, push.userId(), push.clientGroupId());
    if (notYours != null) {
      return notYours;
    }
    long last = client == null ? 0 : client.lastMutationId();
    for (MutationRequest m : push.mutations()) {
      if (m.id() > last) {
        if (m.id() != last + 1) {
          return new SyncException(ErrorCode.MUTATION_ID_GAP, "client " + push.clientId() + ": expected mutation id "
              + (last + 1) + ", got " + m.id() + "; nothing in this push was applied");
        }
        last = m.id();
      }
    }
    return null;
  }

  private ReplyEffect<InstanceEvent, InstanceState> onPull(InstanceState state, Pull pull) {
    Cookie cookie;
    try {
      cookie = InstanceState.unwire(Cookie.parse(pull.cookie()), pull.principal());
      SyncException refused = notAMember(state, pull.principal());
      if (refused != null) {
        throw refused;
      }
    } catch (SyncException e) {
      return Effect().reply(pull.replyTo(), InstanceErrors.reply(e));
    }
    if (state.epoch() == null) {
      // Nothing was ever written: an empty reset, without writing anything (a pull must not grow the
      // journal). Its cookie's epoch "0" never matches a real one, so the first real pull resets again.
      return Effect().reply(pull.replyTo(), StatusReply.success(
          new PullResult(InstanceState.wireCookie(new Cookie(NO_EPOCH, 0).toString(), pull.principal()), true, Map.of(), List.of(PatchOp.CLEAR), false)));
    }
    return Effect().reply(pull.replyTo(), StatusReply.success(pullResult(state, cookie, pull)));
  }

  private static PullResult pullResult(InstanceState state, Cookie cookie, Pull pull) {
    InstanceState.Patch patch = state.patchSince(cookie, pull.clientGroupId(), pull.principal());
    return new PullResult(patch.cookie().toString(), patch.reset(), patch.lastMutationIdChanges(), patch.ops(),
        state.hasClientGroup(pull.clientGroupId()));
  }

  private ReplyEffect<InstanceEvent, InstanceState> onConnect(InstanceState state, Connect connect) {
    SyncException refused = refuse(state, connect);
    if (refused != null) {
      return Effect().reply(connect.replyTo(), InstanceErrors.reply(refused));
    }
    ActorRef<ClientSession.Command> previous = sessionsByClient.get(connect.clientId());
    if (previous != null) {
      previous.tell(ClientSession.Superseded.INSTANCE);
    }
    Cookie cookie = InstanceState.unwire(Cookie.parse(connect.cookie()), connect.principal());
    InstanceState.Patch initial = state.epoch() == null
        ? new InstanceState.Patch(Cookie.parse(InstanceState.wireCookie(new Cookie(NO_EPOCH, 0).toString(), connect.principal())),
            true, List.of(PatchOp.CLEAR), Map.of())
        : state.patchSince(cookie, connect.clientGroupId(), connect.principal());
    InstanceState.ClientRecord client = state.client(connect.clientId());
    ClientSession.Start start = new ClientSession.Start(context.getSelf(), connect.clientGroupId(), connect.clientId(),
        connect.principal(), connect.socket(), connect.cookie(), initial, client == null ? 0 : client.lastMutationId(),
        state.failuresSince(connect.clientId(), cookie), settings.maxQueuedMessages(), settings.maxPushesInFlight());
    ActorRef<ClientSession.Command> session = context.spawn(ClientSession.create(start), "session-" + (++sessionsStarted));
    context.watchWith(session, new SessionEnded(session));
    sessions.put(session, new SessionInfo(connect.clientId(), connect.userId()));
    sessionsByClient.put(connect.clientId(), session);
    return Effect().reply(connect.replyTo(), StatusReply.success(session));
  }

  /**
   * @return {@code applied}, or a {@code SCOPE_VIOLATION} failure when one of its writes touches a
   *     table outside {@code scopes}, writes a row they would not cover, or changes or deletes a row
   *     they do not cover ({@code docs/SECURITY.md}). System tables ({@code $...}) are written by the
   *     engine for the app and are not checked.
   */
  private static MutationOutcome withinScopes(MutationOutcome.Applied applied, Scopes scopes, StoreView before) {
    for (Write w : applied.writes()) {
      if (w.table().startsWith("$")) {
        continue;
      }
      if (!scopes.coversTable(w.table())) {
        return new MutationOutcome.Failed(ErrorCode.SCOPE_VIOLATION, "table '" + w.table() + "' is outside this client's sync scopes");
      }
      Row old = before.get(w.address(), w.itemKey());
      if (old != null && !scopes.covers(w.table(), old.value())) {
        return new MutationOutcome.Failed(ErrorCode.SCOPE_VIOLATION,
            "row '" + w.itemKey() + "' of table '" + w.table() + "' is outside this client's sync scopes");
      }
      if (!w.isDelete() && !scopes.covers(w.table(), w.value())) {
        return new MutationOutcome.Failed(ErrorCode.SCOPE_VIOLATION,
            "the value written to row '" + w.itemKey() + "' of table '" + w.table() + "' does not match this client's sync scopes "
                + scopes.tables().get(w.table()));
      }
    }
    return applied;
  }

  /** @return whether the instance admits only members: its own access setting, else the app's default */
  private boolean membersOnly(InstanceState state) {
    Row access = state.store().get(TableAddress.serverOnlyTable(Membership.INSTANCE), Membership.ACCESS_KEY);
    return access == null ? app.membersOnlyByDefault() : access.value().path("membersOnly").asBoolean(false);
  }

  /** @return whether {@code userId} is an active member ({@link Membership#USERS}) */
  private static boolean isMember(InstanceState state, String userId) {
    if (userId == null) {
      return false;
    }
    Row row = state.store().get(TableAddress.publicTable(Membership.USERS), userId);
    return row != null && (row.value().path("removedAt").isNull() || row.value().path("removedAt").isMissingNode());
  }

  /** @return {@code NOT_A_MEMBER} when the instance is members-only and {@code principal} is no member, else {@code null} */
  private SyncException notAMember(InstanceState state, Principal principal) {
    return notAMember(state, principal.userId());
  }

  private SyncException notAMember(InstanceState state, String userId) {
    if (!membersOnly(state) || isMember(state, userId)) {
      return null;
    }
    return new SyncException(ErrorCode.NOT_A_MEMBER, "instance " + id.instanceId() + " of app " + app.name() + " is members-only and "
        + (userId == null ? "anonymous callers are not members" : "user '" + userId + "' is not a member"));
  }

  /**
   * After a commit that changed membership or access: closes the sessions of users who may no
   * longer connect ({@code NOT_A_MEMBER}, 4403).
   */
  private void closeNonMembers(InstanceState state, List<InstanceEvent> events) {
    boolean changed = false;
    for (InstanceEvent e : events) {
      if (e instanceof MutationApplied m && (m.name().equals(Membership.REMOVE_USER) || m.name().equals(Membership.SET_ACCESS))) {
        changed = true;
        break;
      }
    }
    if (!changed || sessions.isEmpty() || !membersOnly(state)) {
      return;
    }
    sessions.forEach((session, info) -> {
      SyncException refused = notAMember(state, info.userId());
      if (refused != null) {
        session.tell(new ClientSession.ClientError(refused.code(), refused.getMessage(), CloseCodes.forError(refused.code())));
      }
    });
  }

  /** Why {@code connect} may not start a session, or {@code null}. */
  private SyncException refuse(InstanceState state, Connect connect) {
    if (!validId(connect.clientId()) || !validId(connect.clientGroupId())) {
      return new SyncException(ErrorCode.BAD_REQUEST, "clientGroupId and clientId must be 1 to 256 characters, not starting with $");
    }
    if (connect.schemaVersion() != app.schemaVersion()) {
      return new SyncException(ErrorCode.SCHEMA_VERSION_MISMATCH, "the client was built for schema version "
          + connect.schemaVersion() + " of app " + app.name() + "; this server runs schema version " + app.schemaVersion());
    }
    try {
      Cookie.parse(connect.cookie());
    } catch (SyncException e) {
      return e;
    }
    SyncException notMember = notAMember(state, connect.principal());
    if (notMember != null) {
      return notMember;
    }
    InstanceState.ClientRecord client = state.client(connect.clientId());
    ActorRef<ClientSession.Command> live = sessionsByClient.get(connect.clientId());
    if (client == null && live != null && !Objects.equals(sessions.get(live).userId(), connect.userId())) {
      return ownedByOther(connect.clientId()); // never pushed, but connected by its user
    }
    return notItsClient(connect.clientId(), client, connect.userId(), connect.clientGroupId());
  }

  /**
   * @return why {@code userId} may not use {@code clientId} in {@code clientGroupId}, given the
   *     client's record (another user owns it, or it belongs to another group), or {@code null}
   */
  private static SyncException notItsClient(String clientId, InstanceState.ClientRecord client, String userId,
      String clientGroupId) {
    if (client == null) {
      return null;
    }
    if (!Objects.equals(client.userId(), userId)) {
      return ownedByOther(clientId);
    }
    if (!client.clientGroupId().equals(clientGroupId)) {
      return new SyncException(ErrorCode.BAD_REQUEST,
          "client " + clientId + " belongs to client group " + client.clientGroupId() + ", not " + clientGroupId);
    }
    return null;
  }

  private static SyncException ownedByOther(String clientId) {
    return new SyncException(ErrorCode.CLIENT_OWNED_BY_OTHER_USER,
        "client " + clientId + " belongs to another user; a client id is used by one user only");
  }

  private static boolean validId(String id) {
    return id != null && !id.isEmpty() && id.length() <= 256 && !id.startsWith("$");
  }

  private ReplyEffect<InstanceEvent, InstanceState> onSessionCatchUp(InstanceState state, SessionCatchUp request) {
    if (sessions.containsKey(request.session())) {
      Cookie cookie = InstanceState.unwire(Cookie.parse(request.cookie()), request.principal());
      request.session().tell(new ClientSession.CatchUp(state.patchSince(cookie, request.clientGroupId(), request.principal())));
    }
    return Effect().noReply();
  }

  private ReplyEffect<InstanceEvent, InstanceState> onSessionEnded(InstanceState state, SessionEnded ended) {
    SessionInfo info = sessions.remove(ended.session());
    if (info != null && ended.session().equals(sessionsByClient.get(info.clientId()))) {
      sessionsByClient.remove(info.clientId());
    }
    return Effect().noReply();
  }

  private ReplyEffect<InstanceEvent, InstanceState> onPassivate(InstanceState state, Passivate passivate) {
    long wakeAt = passivationVerdict(state);
    if (wakeAt == STAY) {
      passivate.registry().tell(new InstanceRegistry.StillActive(id));
      return Effect().noReply();
    }
    if (wakeAt != Long.MAX_VALUE) {
      // Only actions scheduled for later: no need to stay in memory until then.
      passivate.registry().tell(new InstanceRegistry.WakeAt(id, wakeAt));
    }
    return onStop(state, Stop.INSTANCE);
  }

  /** {@link #passivationVerdict}: the instance has work and stays. */
  private static final long STAY = Long.MIN_VALUE;

  /**
   * @return {@link #STAY} when clients are connected or actions run, wait or are due; otherwise
   *     when the earliest action scheduled for later is due (epoch ms), or {@code Long.MAX_VALUE}
   */
  private long passivationVerdict(InstanceState state) {
    long now = System.currentTimeMillis();
    long earliest = Long.MAX_VALUE;
    boolean due = false;
    for (InstanceState.OutstandingAction a : state.outstandingActions()) {
      due |= a.runAt() <= now;
      earliest = Math.min(earliest, a.runAt());
    }
    return !sessions.isEmpty() || !runningActions.isEmpty() || !waitingActions.isEmpty() || due ? STAY : earliest;
  }

  private void scheduleIdleCheck() {
    Duration check = settings.idleTimeout().dividedBy(4);
    context.scheduleOnce(check.isZero() ? Duration.ofMillis(100) : check, context.getSelf(), new IdleCheck(incarnation));
  }

  /**
   * Sharded: after {@code idle-timeout} without commands, and with nothing to do, ask the shard to
   * passivate this entity. The shard then holds new messages for it and sends {@link Stop}, which
   * persists what is queued and stops; the held messages start the next incarnation.
   */
  private ReplyEffect<InstanceEvent, InstanceState> onIdleCheck(InstanceState state, IdleCheck check) {
    if (passivationRequested || check.incarnation() != incarnation) {
      return Effect().noReply();
    }
    if (System.nanoTime() - lastActivityNanos >= settings.idleTimeout().toNanos()) {
      long wakeAt = passivationVerdict(state);
      if (wakeAt != STAY) {
        if (wakeAt != Long.MAX_VALUE) {
          shardHandle.wakeups().tell(new InstanceRegistry.WakeAt(id, wakeAt));
        }
        context.getLog().debug("passivating idle instance [{}]", id);
        passivationRequested = true;
        shardHandle.shard().tell(new org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding.Passivate<>(context.getSelf()));
        return Effect().noReply();
      }
    }
    scheduleIdleCheck();
    return Effect().noReply();
  }

  private ReplyEffect<InstanceEvent, InstanceState> onStop(InstanceState state, Stop stop) {
    if (!queued.isEmpty()) {
      flushScheduled = false; // the pending Flush, if any, finds nothing to do
      return flushQueued(state, true);
    }
    return Effect().stop().thenNoReply();
  }

  // ---- actions -------------------------------------------------------------------------------

  private ReplyEffect<InstanceEvent, InstanceState> onRunAction(InstanceState state, RunAction run) {
    // Built-in actions ($notify) run only when the engine enqueues them: a caller cannot reach them.
    if (run.name() == null || run.name().startsWith("$") || app.action(run.name()).isEmpty()) {
      return Effect().reply(run.replyTo(), InstanceErrors.reply(ErrorCode.UNKNOWN_ACTION,
          "app '" + app.name() + "' has no action '" + run.name() + "'"));
    }
    SyncException notMember = notAMember(state, run.userId());
    if (notMember != null) {
      return Effect().reply(run.replyTo(), InstanceErrors.reply(notMember));
    }
    if (runningActions.size() >= settings.actions().maxConcurrent() && waitingCalls >= settings.actions().maxQueued()) {
      return Effect().reply(run.replyTo(), InstanceErrors.reply(ErrorCode.OVERLOADED, "instance " + id + " is running "
          + runningActions.size() + " actions and " + waitingCalls + " more calls are waiting (synced-store.actions."
          + "max-concurrent and max-queued); retry later"));
    }
    waitingActions.addLast(new QueuedAction(null, run.caller(), run.name(), run.input(), run.replyTo(), System.nanoTime()));
    waitingCalls++;
    startWaitingActions(state);
    return Effect().noReply();
  }

  /** Starts waiting actions, in order, while slots are free. */
  private void startWaitingActions(InstanceState state) {
    while (runningActions.size() < settings.actions().maxConcurrent() && !waitingActions.isEmpty()) {
      QueuedAction run = waitingActions.pollFirst();
      if (run.systemId() == null) {
        waitingCalls--;
        long waitedMs = (System.nanoTime() - run.queuedAtNanos()) / 1_000_000;
        if (waitedMs > settings.actions().timeout().toMillis()) {
          // Its caller stops waiting at about twice the timeout: better refused now than run for nobody.
          run.replyTo().tell(InstanceErrors.reply(ErrorCode.OVERLOADED, "the call waited " + waitedMs
              + " ms for a free slot (synced-store.actions.max-concurrent), longer than the action timeout; retry later"));
          continue;
        }
      } else if (!state.isOutstanding(run.systemId())) {
        systemStarted.remove(run.systemId()); // cancelled (or completed) meanwhile
        continue;
      }
      io.syncedstore.api.ActionDefinition<?, ?> def;
      Object input;
      try {
        def = app.requireAction(run.name());
        input = ActionInputs.convert(app, def, run.input());
      } catch (SyncException e) {
        if (run.systemId() == null) {
          run.replyTo().tell(InstanceErrors.reply(e));
        } else {
          // Checked when enqueued; fails here only if the app changed since. Recorded as failed, not retried.
          context.getLog().warn("instance [{}] enqueued action [{}] {} cannot run: {}", id, run.systemId(), run.name(), e.getMessage());
          persistCompletionLater(run.systemId(), e);
        }
        continue;
      }
      long invocation = ++actionsStarted;
      ActionWorker.Start start = new ActionWorker.Start(invocation, context.getSelf(), app, id.instanceId(), def, input,
          run.caller(), settings.askTimeout());
      ActorRef<ActionWorker.Command> worker = context.spawn(ActionWorker.create(start), "action-" + invocation);
      context.watchWith(worker, new WorkerStopped(invocation));
      runningActions.put(invocation, new RunningAction(run.systemId(), worker, run.replyTo(), null));
    }
  }

  /** Ends invocation {@code invocation}: answers its caller, or persists an enqueued action's completion. */
  private ReplyEffect<InstanceEvent, InstanceState> finishAction(InstanceState state, long invocation, StatusReply<JsonNode> outcome,
      boolean stopWorker) {
    RunningAction running = runningActions.remove(invocation);
    if (running == null) {
      return Effect().noReply(); // already finished (a worker stops after reporting)
    }
    running.cancelTimeout();
    if (stopWorker) {
      context.stop(running.worker());
    }
    startWaitingActions(state);
    if (!outcome.isError()) {
      metrics.actionsSucceeded.increment();
    } else if (stopWorker) {
      metrics.actionsTimedOut.increment();
    } else {
      metrics.actionsFailed.increment();
    }
    if (running.systemId() == null) {
      running.replyTo().tell(outcome);
      return Effect().noReply();
    }
    SyncException error = outcome.isError() ? InstanceErrors.unwrap(outcome.getError()) : null;
    if (error != null) {
      context.getLog().warn("instance [{}] enqueued action [{}] failed and will not be retried: {}", id, running.systemId(), error.getMessage());
    }
    String systemId = running.systemId();
    return Effect().persist((InstanceEvent) new ActionCompleted(systemId, error == null ? null : error.code(),
        error == null ? null : error.getMessage())).thenRun(s -> {
          systemStarted.remove(systemId);
          updateWakeup(s);
        }).thenNoReply();
  }

  /** Tells the wake-up list when this instance gains its first outstanding action or loses its last. */
  private void updateWakeup(InstanceState state) {
    boolean outstanding = !state.outstandingActions().isEmpty();
    if (outstanding != listedForWakeup) {
      listedForWakeup = outstanding;
      ActionWakeups.get(context.getSystem()).set(id.persistenceId(), outstanding);
    }
  }

  /** An enqueued action that cannot even start: recorded as failed through a message to self (persisting needs a command). */
  private void persistCompletionLater(String systemId, SyncException e) {
    context.getSelf().tell(new CompleteAction(systemId, e.code(), e.getMessage()));
  }

  /** The mutations of a commit enqueued or scheduled actions: run or time them. */
  private void startEnqueuedActions(InstanceState state, List<InstanceEvent> events) {
    for (InstanceEvent event : events) {
      if (event instanceof MutationApplied e) {
        if (e.cancelledActions() != null) {
          for (String cancelled : e.cancelledActions()) {
            var timer = systemTimers.remove(cancelled);
            if (timer != null) {
              timer.cancel();
            }
          }
        }
        for (int i = 0; i < e.actions().size(); i++) {
          scheduleSystemAction(state, io.syncedstore.api.exec.EnqueuedAction.id(e.clientId(), e.mutationId(), i), e.actions().get(i).runAt());
        }
      }
    }
  }

  private void scheduleSystemAction(InstanceState state, String actionId, long runAt) {
    long delay = runAt - System.currentTimeMillis();
    if (delay <= 0) {
      submitSystemAction(state, actionId);
    } else if (!systemTimers.containsKey(actionId)) {
      // Pekko's scheduler takes at most ~248 days; a later action's timer fires early and is re-armed.
      Duration wait = Duration.ofMillis(Math.min(delay, MAX_TIMER.toMillis()));
      systemTimers.put(actionId, context.scheduleOnce(wait, context.getSelf(), new ActionDue(actionId)));
    }
  }

  private static final Duration MAX_TIMER = Duration.ofDays(1);

  private void submitSystemAction(InstanceState state, String actionId) {
    InstanceState.OutstandingAction a = state.outstanding(actionId);
    if (a == null || !systemStarted.add(actionId)) {
      return; // cancelled, completed, or already queued or running
    }
    waitingActions.addLast(new QueuedAction(actionId, Principal.userOrAnonymous(a.userId()), a.name(), a.input(), null, System.nanoTime()));
    startWaitingActions(state);
  }

  private void failActions(String why) {
    for (RunningAction running : runningActions.values()) {
      running.cancelTimeout();
      if (running.systemId() == null) {
        running.replyTo().tell(InstanceErrors.reply(ErrorCode.ACTION_FAILED, why + " before the action finished"));
      }
    }
    runningActions.clear();
    for (QueuedAction waiting : waitingActions) {
      if (waiting.systemId() == null) {
        waiting.replyTo().tell(InstanceErrors.reply(ErrorCode.ACTION_FAILED, why + " before the action started"));
      }
    }
    waitingActions.clear();
    waitingCalls = 0;
    systemTimers.values().forEach(org.apache.pekko.actor.Cancellable::cancel);
    systemTimers.clear();
    systemStarted.clear(); // enqueued actions run again when the instance recovers
  }

  private ReplyEffect<InstanceEvent, InstanceState> onActionMutate(InstanceState state, ActionMutate m) {
    if (m.invocationId() >= 0 && !runningActions.containsKey(m.invocationId())) {
      return Effect().reply(m.replyTo(), InstanceErrors.reply(ErrorCode.ACTION_TIMEOUT,
          "the action was given up (it timed out, or the instance restarted); its ctx.mutate is refused"));
    }
    if (overloaded(1)) {
      return Effect().reply(m.replyTo(), overloadedReply());
    }
    if (serverMutationId < 0) {
      InstanceState.ClientRecord server = state.client(SERVER_CLIENT);
      serverMutationId = server == null ? 0 : server.lastMutationId();
    }
    long mutationId = ++serverMutationId; // queued pushes are flushed in order, so these ids arrive without gaps
    enqueue(new Push(SERVER_CLIENT, SERVER_CLIENT, new Principal(m.userId(), m.userId() == null, null, null),
        List.of(new MutationRequest(mutationId, m.name(), m.args(), System.currentTimeMillis())), m.replyTo()));
    return Effect().noReply();
  }

  private InstanceCreated created() {
    byte[] epoch = new byte[6];
    ThreadLocalRandom.current().nextBytes(epoch);
    return new InstanceCreated(HexFormat.of().formatHex(epoch), app.name(), app.schemaVersion(), System.currentTimeMillis());
  }
}
