package io.syncedstore.runtime;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.auth.Principal;
import io.syncedstore.api.protocol.ClientMessage;
import io.syncedstore.api.protocol.CloseCodes;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.api.protocol.ServerMessage;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.pattern.StatusReply;

/**
 * One connected client: a child of its {@link AppInstance}. It knows the client's user, group and
 * cookie, turns every committed batch of the instance into a poke holding only what this user may
 * see (public entries and the user's own private entries, never server-only ones), forwards the
 * client's pushes to the instance, and writes to the client's socket through {@link SocketOut}.
 *
 * <p>Slow consumers: at most {@code max-queued-messages} messages are handed to the socket and not
 * yet written out ({@link Delivered} counts them down). When a poke would exceed that, the session
 * drops single pokes and, once the socket has drained, asks the instance for one catch-up patch from
 * the last cookie it handed out. So its memory is bounded whatever the write rate, and a slow client
 * never slows the instance or the other clients.
 */
public final class ClientSession extends AbstractBehavior<ClientSession.Command> {

  /** What a session accepts. */
  public sealed interface Command extends JsonSerializable {}

  /**
   * The client pushed; {@code acceptedTo} hears back once the push is on its way to the instance,
   * which is at once unless {@code max-pushes-in-flight} pushes await their answer.
   *
   * @param mutations the mutations
   * @param acceptedTo gets {@link Accepted#INSTANCE}
   */
  public record ClientPush(List<MutationRequest> mutations, ActorRef<Accepted> acceptedTo) implements Command {}

  /** The answer to {@link ClientPush}: read the next message. */
  public enum Accepted implements JsonSerializable {
    /** The only value. */
    INSTANCE
  }

  /**
   * The client called an action; its answer ({@code actionResult} or {@code actionFailed}) goes to
   * this connection only, as a notice (never dropped).
   *
   * @param id the client's id for the call
   * @param name the action
   * @param args its input
   */
  public record ClientAction(String id, String name, com.fasterxml.jackson.databind.JsonNode args) implements Command {}

  private record ActionAnswered(String id, com.fasterxml.jackson.databind.JsonNode output, Throwable error) implements Command, LocalOnly {}

  /** The client sent a ping. */
  public enum ClientPing implements Command {
    /** The only value. */
    INSTANCE
  }

  /**
   * The client sent something invalid: tell it, then close.
   *
   * @param code the error code
   * @param message what was wrong
   * @param closeCode the WebSocket close code
   * @param retryAfterMs for quota refusals, how long the client should wait; else {@code null}
   */
  public record ClientError(ErrorCode code, String message, int closeCode, Long retryAfterMs) implements Command {
    /** An error without a retry-after. */
    public ClientError(ErrorCode code, String message, int closeCode) {
      this(code, message, closeCode, null);
    }
  }

  /** The socket is gone: stop. */
  public enum SocketClosed implements Command {
    /** The only value. */
    INSTANCE
  }

  /** One {@link SocketOut.Text} of this session was written to the socket. */
  public enum Delivered implements Command {
    /** The only value. */
    INSTANCE
  }

  /**
   * Every numbered {@link SocketOut.Text} of this session up to {@code seq} was written to the
   * socket (cumulative: a lost acknowledgement is covered by the next).
   *
   * @param seq the highest number written
   */
  public record DeliveredUpTo(long seq) implements Command {}

  /**
   * Report {@link Stats}.
   *
   * @param replyTo gets the stats
   */
  public record GetStats(ActorRef<Stats> replyTo) implements Command {}

  /**
   * A session's counters.
   *
   * @param clientId the client
   * @param userId its user, or {@code null}
   * @param queued messages handed to the socket and not yet written
   * @param maxQueued the most that ever were
   * @param pokesSent pokes handed to the socket
   * @param pokesDropped pokes dropped because the socket was full (covered by a later catch-up)
   * @param catchUps catch-up pokes sent
   * @param cookie the cookie of the last poke handed to the socket
   */
  public record Stats(String clientId, String userId, int queued, int maxQueued, long pokesSent, long pokesDropped,
      long catchUps, String cookie) implements JsonSerializable {}

  /** A newer connection of the same client replaced this one. */
  enum Superseded implements Command, LocalOnly { INSTANCE }

  /**
   * The connection's token was refreshed: the client now acts for {@code principal} (the same user,
   * perhaps other scopes or a later expiry).
   *
   * @param principal the principal of the new token
   */
  public record ChangePrincipal(Principal principal) implements Command {}

  /** A committed batch of the instance. */
  record Changes(CommittedBatch batch) implements Command, LocalOnly {}

  /** The patch from the cookie this session asked with, to the instance's cookie when it answered. */
  record CatchUp(InstanceState.Patch patch) implements Command, LocalOnly {}

  private record PushAnswered(StatusReply<AppInstance.PushResult> reply) implements Command, LocalOnly {}

  /**
   * What the instance hands a new session.
   *
   * @param instance the parent
   * @param clientGroupId the client's group
   * @param clientId the client
   * @param principal who the client acts for: its user and scopes filter what the session sends
   * @param socket the client's socket
   * @param clientCookie the cookie the client said it holds, or {@code null}
   * @param initial the patch from {@code clientCookie} to now
   * @param lastMutationId the client's last processed mutation id
   * @param failures the client's failed mutations after {@code clientCookie}, told again before the initial poke
   * @param maxQueued {@code max-queued-messages}
   * @param maxPushesInFlight {@code max-pushes-in-flight}
   */
  record Start(ActorRef<AppInstance.Command> instance, String clientGroupId, String clientId, Principal principal,
      ActorRef<SocketOut> socket, String clientCookie, InstanceState.Patch initial, long lastMutationId,
      List<InstanceState.RecentFailure> failures, int maxQueued, int maxPushesInFlight) {
    String userId() {
      return principal.userId();
    }
  }

  static Behavior<Command> create(Start start) {
    return Behaviors.setup(context -> new ClientSession(context, start));
  }

  private final Start start;
  /** Who the client acts for; its token may be refreshed on the connection ({@link ChangePrincipal}). */
  private Principal principal;
  private final ActorRef<SocketOut> socket;
  private final ActorRef<StatusReply<AppInstance.PushResult>> pushReplies;
  /** The cookie the client holds once it has read everything handed to the socket. */
  private String cookie;
  /** The client's own last mutation id as the pokes handed out so far tell it. */
  private long confirmed;
  private int queued;
  /** Numbers of the last {@link SocketOut.Text} handed to the socket and of the last one known written. */
  private long handedSeq;
  private long deliveredSeq;
  private int maxQueued;
  private long pokesSent;
  private long pokesDropped;
  private long catchUps;
  /** Pokes are being dropped; a catch-up is due once the socket drains. */
  private boolean behind;
  /** Asked the instance for a catch-up; batches are dropped until it is sent (it covers them). */
  private boolean awaitingCatchUp;
  /** The catch-up patch, when it came while notices were still waiting for room. */
  private InstanceState.Patch heldCatchUp;
  /** A batch came while the catch-up was held: once it is sent, the session is behind again. */
  private boolean behindAgain;
  /**
   * The instance cookie up to which every batch is accounted for: sent, or seen to hold nothing
   * for this client. The next batch must start there.
   */
  private String accountedTo;
  /**
   * Failure notices and errors waiting for room in the socket: never dropped, always sent before
   * the next poke, and bounded because no push is taken while {@code max-queued-messages} of them
   * wait (see {@link #releaseWaitingPush}).
   */
  private final ArrayDeque<String> notices = new ArrayDeque<>();
  private boolean pongDue;
  private int pushesInFlight;
  /** Actions called on this connection and not yet answered; bounded by {@code max-pushes-in-flight}. */
  private int actionsInFlight;
  private final ArrayDeque<ClientPush> waitingPushes = new ArrayDeque<>();
  private boolean closed;
  private final EngineMetrics metrics;

  private ClientSession(ActorContext<Command> context, Start start) {
    super(context);
    this.metrics = EngineMetrics.get(context.getSystem());
    metrics.sessions.incrementAndGet();
    this.start = start;
    this.principal = start.principal();
    this.socket = start.socket();
    // The socket may live on another node (the cluster profile): when that node goes, or the
    // connection ends without a word, the session ends too.
    context.watchWith(socket, SocketClosed.INSTANCE);
    this.pushReplies = castRef(context.messageAdapter(StatusReply.class, r -> new PushAnswered(castReply(r))));
    this.cookie = start.clientCookie();
    this.accountedTo = start.initial().cookie().toString();
    this.confirmed = start.lastMutationId();
    hand(CommittedBatch.json(new ServerMessage.Connected(ClientMessage.PROTOCOL_VERSION, start.userId(), start.lastMutationId())));
    // Failures the client may have missed when its last connection died: before the poke that
    // confirms their ids. At most InstanceState.RECENT_FAILURES; the socket's buffer has room for them.
    for (InstanceState.RecentFailure f : start.failures()) {
      hand(CommittedBatch.json(new ServerMessage.MutationFailed(f.mutationId(), new ServerMessage.ErrorBody(f.code(), f.message()))));
    }
    InstanceState.Patch initial = start.initial();
    sendPoke(pokeJson(cookie, initial.cookie().toString(), opsJson(initial.ops()), initial.lastMutationIdChanges()),
        initial.cookie().toString(), initial.lastMutationIdChanges());
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static ActorRef<StatusReply<AppInstance.PushResult>> castRef(ActorRef adapter) {
    return adapter; // the adapter takes any StatusReply; only push answers are sent to it
  }

  @SuppressWarnings("unchecked")
  private static StatusReply<AppInstance.PushResult> castReply(StatusReply<?> reply) {
    return (StatusReply<AppInstance.PushResult>) reply;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Changes.class, this::onChanges)
        .onMessageEquals(Delivered.INSTANCE, () -> {
          queued--;
          return onDelivered();
        })
        .onMessage(DeliveredUpTo.class, d -> {
          if (d.seq() <= deliveredSeq) {
            return this; // an older acknowledgement, overtaken
          }
          deliveredSeq = d.seq();
          queued = (int) (handedSeq - deliveredSeq);
          return onDelivered();
        })
        .onMessage(CatchUp.class, this::onCatchUp)
        .onMessage(ClientPush.class, this::onPush)
        .onMessage(PushAnswered.class, this::onPushAnswered)
        .onMessageEquals(ClientPing.INSTANCE, this::onPing)
        .onMessage(ClientAction.class, this::onAction)
        .onMessage(ActionAnswered.class, this::onActionAnswered)
        .onMessage(ClientError.class, e -> closeWith(e.code(), e.message(), e.closeCode(), e.retryAfterMs()))
        .onMessage(ChangePrincipal.class, this::onChangePrincipal)
        .onMessageEquals(Superseded.INSTANCE, () -> closeWith(ErrorCode.SUPERSEDED,
            "a newer connection of client " + start.clientId() + " replaced this one",
            CloseCodes.forError(ErrorCode.SUPERSEDED)))
        .onMessageEquals(SocketClosed.INSTANCE, () -> {
          closed = true;
          return Behaviors.stopped();
        })
        .onMessage(GetStats.class, g -> {
          g.replyTo().tell(new Stats(start.clientId(), start.userId(), queued, maxQueued, pokesSent, pokesDropped, catchUps, cookie));
          return this;
        })
        .onSignal(PostStop.class, s -> {
          metrics.sessions.decrementAndGet();
          if (!closed) {
            // The instance stopped or restarted: the client reconnects and catches up from its cookie.
            socket.tell(new SocketOut.Close(CloseCodes.SERVICE_RESTART, "instance restarting; reconnect"));
          }
          return this;
        })
        .build();
  }

  /**
   * The client sent a fresh token for the same user. When its scopes differ, the client's cookie
   * no longer matches ({@link InstanceState#wireCookie}): the catch-up it gets is a reset to the new
   * view, so rows that left the scopes disappear from the client.
   */
  private Behavior<Command> onChangePrincipal(ChangePrincipal change) {
    boolean newView = !java.util.Objects.equals(principal.scopes(), change.principal().scopes());
    principal = change.principal();
    if (newView) {
      behind = true;
      maybeCatchUp();
    }
    return this;
  }

  private Behavior<Command> onChanges(Changes changes) {
    CommittedBatch batch = changes.batch();
    for (CommittedBatch.Change c : batch.changes()) {
      if (c.failure() != null && c.clientId().equals(start.clientId())) {
        notice(CommittedBatch.json(new ServerMessage.MutationFailed(c.mutationId(),
            new ServerMessage.ErrorBody(c.failure().code(), c.failure().message()))));
      }
    }
    if (awaitingCatchUp && heldCatchUp == null) {
      return this; // the catch-up, computed after this batch, covers it
    }
    if (heldCatchUp != null) {
      // Committed after the held catch-up was computed: not covered by it; another catch-up follows.
      pokesDropped++;
      metrics.pokesDropped.increment();
      behindAgain = true;
      return this;
    }
    if (behind || queued >= start.maxQueued() || !notices.isEmpty() || !wire(batch.baseCookie()).equals(accountedTo)) {
      // (A batch that does not continue from the last one accounted for cannot happen: the instance
      // sends every batch to every session in order. Were it to, the catch-up repairs it.)
      behind = true;
      pokesDropped++;
      metrics.pokesDropped.increment();
      maybeCatchUp(); // at once if nothing is in the socket to wait for
      return this;
    }
    String to = wire(batch.cookie());
    accountedTo = to;
    String ops = batch.opsJson(principal);
    Map<String, Long> lmids = batch.lastMutationIdChanges(start.clientGroupId());
    if (ops.isEmpty() && lmids.isEmpty()) {
      return this; // nothing this client may see; its next poke starts from the cookie it has
    }
    sendPoke(pokeJson(cookie, to, ops, lmids), to, lmids);
    return this;
  }

  private Behavior<Command> onDelivered() {
    pumpNotices();
    maybeCatchUp();
    return this;
  }

  /** Once the socket has drained, asks the instance for the patch from the last cookie handed out. */
  private void maybeCatchUp() {
    if (behind && queued == 0 && notices.isEmpty() && !awaitingCatchUp) {
      awaitingCatchUp = true;
      start.instance().tell(new AppInstance.SessionCatchUp(getContext().getSelf(), cookie, start.clientGroupId(), principal));
    }
  }

  private Behavior<Command> onCatchUp(CatchUp catchUp) {
    heldCatchUp = catchUp.patch();
    pumpNotices(); // sends it once the notices that came meanwhile are out
    return this;
  }

  private Behavior<Command> onPush(ClientPush push) {
    waitingPushes.add(push); // at most one: the gateway reads the next message only after Accepted
    releaseWaitingPush();
    return this;
  }

  /**
   * Takes the waiting push, if any, unless {@code max-pushes-in-flight} pushes await their answer
   * or {@code max-queued-messages} notices wait for the socket: a client that pushes without
   * reading its answers is then no longer read, so its notices stay bounded (by those two bounds
   * times {@code max-mutations-per-push}).
   */
  private void releaseWaitingPush() {
    if (!waitingPushes.isEmpty() && pushesInFlight < start.maxPushesInFlight() && notices.size() < start.maxQueued()) {
      forward(waitingPushes.removeFirst());
    }
  }

  private void forward(ClientPush push) {
    pushesInFlight++;
    start.instance().tell(new AppInstance.Push(start.clientGroupId(), start.clientId(), principal, push.mutations(), pushReplies));
    push.acceptedTo().tell(Accepted.INSTANCE);
  }

  private Behavior<Command> onPushAnswered(PushAnswered message) {
    pushesInFlight--;
    releaseWaitingPush();
    StatusReply<AppInstance.PushResult> reply = message.reply();
    if (reply.isError()) {
      var error = InstanceErrors.unwrap(reply.getError());
      notice(CommittedBatch.json(new ServerMessage.Error(new ServerMessage.ErrorBody(error.code(), error.getMessage()))));
    }
    // A push of only already processed ids needs no answer: `connected` or an earlier poke on this
    // connection confirmed them.
    return this;
  }

  /** How long a session waits for an action's answer; the instance answers every call itself (timeout included). */
  private static final java.time.Duration ACTION_ANSWER_TIMEOUT = java.time.Duration.ofMinutes(30);

  private Behavior<Command> onAction(ClientAction action) {
    if (actionsInFlight >= start.maxPushesInFlight()) {
      notice(CommittedBatch.json(new ServerMessage.ActionFailed(action.id(), new ServerMessage.ErrorBody(ErrorCode.OVERLOADED,
          "this connection already has " + actionsInFlight + " actions running; wait for an answer before calling more"))));
      return this;
    }
    actionsInFlight++;
    getContext().askWithStatus(com.fasterxml.jackson.databind.JsonNode.class, start.instance(), ACTION_ANSWER_TIMEOUT,
        replyTo -> new AppInstance.RunAction(principal, action.name(), action.args(), replyTo),
        (output, error) -> new ActionAnswered(action.id(), output, error));
    return this;
  }

  private Behavior<Command> onActionAnswered(ActionAnswered answer) {
    actionsInFlight--;
    if (answer.error() == null) {
      notice(CommittedBatch.json(new ServerMessage.ActionResult(answer.id(), answer.output())));
    } else {
      var error = InstanceErrors.unwrap(answer.error());
      notice(CommittedBatch.json(new ServerMessage.ActionFailed(answer.id(), new ServerMessage.ErrorBody(error.code(), error.getMessage()))));
    }
    return this;
  }

  private Behavior<Command> onPing() {
    if (!pongDue) {
      pongDue = true; // pings that come while a pong waits are answered by that pong
      pumpNotices();
    }
    return this;
  }

  private Behavior<Command> closeWith(ErrorCode code, String message, int closeCode) {
    return closeWith(code, message, closeCode, null);
  }

  private Behavior<Command> closeWith(ErrorCode code, String message, int closeCode, Long retryAfterMs) {
    notices.forEach(this::hand); // bounded, see releaseWaitingPush
    socket.tell(new SocketOut.Text(CommittedBatch.json(new ServerMessage.Error(new ServerMessage.ErrorBody(code, message, retryAfterMs))), null));
    socket.tell(new SocketOut.Close(closeCode, code.name()));
    closed = true;
    return Behaviors.stopped();
  }

  private static final String PONG = CommittedBatch.json(new ServerMessage.Pong());

  /** Queues a failure notice or error: never dropped, sent in order as the socket has room. */
  private void notice(String json) {
    notices.add(json);
    pumpNotices();
  }

  /**
   * Hands waiting notices, then a held catch-up poke, then a due pong to the socket while it has
   * room: a failure notice always precedes the poke that confirms its id.
   */
  private void pumpNotices() {
    while (!notices.isEmpty() && queued < start.maxQueued()) {
      hand(notices.removeFirst());
    }
    if (heldCatchUp != null && notices.isEmpty() && queued < start.maxQueued()) {
      InstanceState.Patch patch = heldCatchUp;
      heldCatchUp = null;
      awaitingCatchUp = false;
      behind = behindAgain;
      behindAgain = false;
      catchUps++;
      metrics.catchUps.increment();
      String to = patch.cookie().toString();
      accountedTo = to;
      sendPoke(pokeJson(cookie, to, opsJson(patch.ops()), patch.lastMutationIdChanges()), to, patch.lastMutationIdChanges());
    }
    if (pongDue && queued < start.maxQueued()) {
      pongDue = false;
      hand(PONG);
    }
    releaseWaitingPush();
  }

  /** @return the instance cookie {@code raw} as this client's cookie ({@link InstanceState#wireCookie}) */
  private String wire(String raw) {
    return InstanceState.wireCookie(raw, principal);
  }

  private void sendPoke(String json, String toCookie, Map<String, Long> lmids) {
    hand(json);
    pokesSent++;
    metrics.pokesSent.increment();
    cookie = toCookie;
    Long own = lmids.get(start.clientId());
    if (own != null && own > confirmed) {
      confirmed = own;
    }
  }

  private void hand(String json) {
    socket.tell(new SocketOut.Text(json, getContext().getSelf(), ++handedSeq));
    queued++;
    maxQueued = Math.max(maxQueued, queued);
  }

  private static String opsJson(List<PatchOp> ops) {
    StringBuilder sb = new StringBuilder();
    for (PatchOp op : ops) {
      if (!sb.isEmpty()) {
        sb.append(',');
      }
      sb.append(CommittedBatch.json(op));
    }
    return sb.toString();
  }

  /** A poke rendered by hand, so that the shared public part of a batch is serialized once for all sessions. */
  private static String pokeJson(String baseCookie, String cookie, String opsJson, Map<String, Long> lastMutationIdChanges) {
    return "{\"type\":\"poke\",\"baseCookie\":" + CommittedBatch.json(baseCookie) + ",\"cookie\":" + CommittedBatch.json(cookie)
        + ",\"patch\":[" + opsJson + "],\"lastMutationIDChanges\":" + CommittedBatch.json(lastMutationIdChanges) + "}";
  }
}
