package io.syncedstore.gateway;

import io.syncedstore.api.auth.Principal;
import io.syncedstore.gateway.auth.AuthProvider;
import io.syncedstore.gateway.auth.Authentication;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidTypeIdException;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.protocol.ClientMessage;
import io.syncedstore.api.protocol.CloseCodes;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.protocol.ServerMessage;
import io.syncedstore.persistence.SyncEngine;
import io.syncedstore.runtime.ClientSession;
import io.syncedstore.runtime.InstanceErrors;
import io.syncedstore.runtime.InstanceId;
import io.syncedstore.runtime.SocketOut;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.model.ws.TextMessage;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One sync WebSocket connection, gateway side ({@code docs/PROTOCOL.md}): parses what the client
 * sends, authenticates the hello, connects the client to its instance, and from then on hands
 * every message to the client's {@link ClientSession}. The session writes to the socket through an
 * actor-backed source whose buffer it keeps bounded.
 *
 * <p>Input is read one message at a time: a push is read only once the previous one is on its way
 * to the instance, so a client that pushes faster than its instance commits is slowed by TCP
 * backpressure, not buffered.
 */
final class SyncSocket {
  private static final Logger LOG = LoggerFactory.getLogger(SyncSocket.class);
  /**
   * How long reading waits for the session to take a push: it waits while the client has
   * {@code max-pushes-in-flight} pushes at a busy instance, so this is long. A session that is gone
   * closes the socket itself (1012); this only ends a connection whose session vanished unseen (1011).
   */
  private static final java.time.Duration PUSH_ACCEPT_TIMEOUT = java.time.Duration.ofMinutes(2);

  /**
   * Settings of sync sockets ({@code synced-store.sync} in the gateway's configuration).
   *
   * @param maxMessageBytes the largest message a client may send
   * @param maxJsonDepth the deepest nesting of a client message
   * @param maxQueuedMessages the session's bound on messages handed to the socket
   */
  record Settings(int maxMessageBytes, int maxJsonDepth, int maxQueuedMessages) {}

  private final SyncEngine engine;
  private final AuthProvider auth;
  /** The token sent with the upgrade request, or {@code null}; then the hello may carry one. */
  private final String handshakeToken;
  /** What {@link #handshakeToken} authenticated as (checked before the upgrade), or {@code null}. */
  private final Authentication handshake;
  private final InstanceId id;
  private final Quotas quotas;
  /** The peer's address: the quota holder of anonymous users. */
  private final String remoteAddress;
  /** Whose quotas this connection uses, from the hello on. */
  private volatile String holder;
  /** Gives the connection's place back to {@link Quotas#connect}; set once connected. */
  private Runnable releaseQuota;
  private final Settings settings;
  private final ObjectMapper reader;
  private final Materializer materializer;
  private ActorRef<SocketOut> socket;
  private ActorRef<Object> relay;
  /** Every open connection's {@link #socket}, for closing them all on shutdown; this one is in it while open. */
  private final java.util.Set<ActorRef<SocketOut>> openSockets;
  private static final java.util.concurrent.atomic.AtomicLong RELAYS = new java.util.concurrent.atomic.AtomicLong();
  /** Set once connected; read and written only by the inbound stream's stages, one message at a time. */
  private volatile ActorRef<ClientSession.Command> session;
  private boolean helloSeen;
  private volatile boolean closing;
  private boolean socketClosed;
  private org.apache.pekko.actor.Cancellable expiry;
  /** The hello's client group and the connection's user, for token refreshes. */
  private volatile String clientGroupId;
  private volatile String userId;

  SyncSocket(SyncEngine engine, AuthProvider auth, String handshakeToken, Authentication handshake, InstanceId id,
      Settings settings, ObjectMapper reader, Quotas quotas, String remoteAddress,
      java.util.Set<ActorRef<SocketOut>> openSockets) {
    this.openSockets = openSockets;
    this.quotas = quotas;
    this.remoteAddress = remoteAddress;
    this.engine = engine;
    this.auth = auth;
    this.handshakeToken = handshakeToken;
    this.handshake = handshake;
    this.id = id;
    this.settings = settings;
    this.reader = reader;
    this.materializer = Materializer.matFromSystem(engine.system());
  }

  /** @return the wire reader: {@link Json#mapper()}'s strictness, with nesting bounded by {@code maxJsonDepth} */
  static ObjectMapper reader(int maxJsonDepth) {
    ObjectMapper mapper = Json.mapper().copy();
    mapper.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(maxJsonDepth).build());
    mapper.enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    return mapper;
  }

  /** @return the message flow of this connection; materialize it once */
  Flow<Message, Message, NotUsed> flow() {
    Pair<ActorRef<SocketOut>, Source<SocketOut, NotUsed>> out = ActorSource.<SocketOut>actorRef(
            o -> false, o -> Optional.empty(),
            // the session's bound, plus what it may hand beyond it: the failures told again at connect,
            // an error and a close
            settings.maxQueuedMessages() + io.syncedstore.runtime.InstanceState.RECENT_FAILURES + 64, OverflowStrategy.fail())
        .preMaterialize(materializer);
    // The session writes to a relay actor (a normal, remotely addressable actor), which passes
    // messages on to the stream and ties the connection's life to the session's (SocketRelay).
    relay = engine.system().systemActorOf(SocketRelay.create(out.first()), "socket-" + RELAYS.incrementAndGet(),
        org.apache.pekko.actor.typed.Props.empty());
    socket = relay.narrow();
    openSockets.add(socket);
    Source<Message, NotUsed> outgoing = out.second().map(SyncSocket::render);
    Sink<Message, CompletionStage<Done>> incoming = Flow.<Message>create()
        .mapAsync(1, this::text)
        .mapAsync(1, this::onText)
        .toMat(Sink.ignore(), Keep.right());
    return Flow.fromSinkAndSourceCoupledMat(incoming, outgoing, Keep.left())
        .mapMaterializedValue(done -> {
          // Pekko's futures run plain continuations on the JDK's common pool, which on 2 cores starts
          // a thread per task: continue on the actor system's dispatcher instead.
          done.whenCompleteAsync((d, error) -> {
            if (error != null && !(rootCause(error) instanceof FrameGuard.MessageRefused)) {
              LOG.debug("sync socket of [{}] ended: {}", id, error.toString()); // a peer gone away, mostly
            }
            socketClosed();
          }, engine.system().executionContext());
          return NotUsed.getInstance();
        });
  }

  private static Message render(SocketOut out) {
    if (out instanceof SocketOut.Text text) {
      if (text.ackTo() != null) {
        text.ackTo().tell(text.seq() > 0 ? new ClientSession.DeliveredUpTo(text.seq()) : ClientSession.Delivered.INSTANCE);
      }
      return TextMessage.create(text.json());
    }
    SocketOut.Close close = (SocketOut.Close) out;
    return TextMessage.create(FrameGuard.closeMarker(close.code(), close.reason()));
  }

  /** @return the whole text of {@code message} (the frame guard bounds its size), or {@code null} for a binary message */
  private CompletionStage<Optional<String>> text(Message message) {
    if (!message.isText()) {
      message.asBinaryMessage().getStreamedData().runWith(Sink.ignore(), materializer);
      return CompletableFuture.completedFuture(Optional.empty());
    }
    TextMessage text = message.asTextMessage();
    if (text.isStrict()) {
      return CompletableFuture.completedFuture(Optional.of(text.getStrictText()));
    }
    return text.getStreamedText().runFold(new StringBuilder(), StringBuilder::append, materializer)
        .thenApplyAsync(sb -> Optional.of(sb.toString()), engine.system().executionContext());
  }

  private CompletionStage<Done> onText(Optional<String> text) {
    try {
      return handle(text);
    } catch (RuntimeException e) {
      LOG.error("sync socket of [{}]: unexpected failure handling a message", id, e);
      return refuse(ErrorCode.INTERNAL, "internal error");
    }
  }

  private CompletionStage<Done> handle(Optional<String> text) {
    if (closing) {
      return done();
    }
    if (text.isEmpty()) {
      return refuse(ErrorCode.BAD_MESSAGE, "binary messages are not supported; send JSON text messages",
          CloseCodes.UNSUPPORTED_DATA);
    }
    ClientMessage message;
    try {
      // A tree first: a message is one JSON object (Jackson would also take null, or an array in its
      // [type, object] form, for a polymorphic type); then the typed message.
      com.fasterxml.jackson.databind.JsonNode tree = reader.readTree(text.get());
      if (tree == null || tree.isMissingNode()) {
        throw new SyncException(ErrorCode.BAD_MESSAGE, "not a JSON message: the message is empty");
      }
      if (!tree.isObject()) {
        throw new SyncException(ErrorCode.BAD_MESSAGE, "a message must be one JSON object with a \"type\": hello, push, action, auth or ping");
      }
      message = reader.treeToValue(tree, ClientMessage.class);
      validate(message);
    } catch (SyncException e) {
      return refuse(e.code(), e.getMessage());
    } catch (JsonProcessingException e) {
      return refuse(ErrorCode.BAD_MESSAGE, describe(e));
    }
    if (message instanceof ClientMessage.Hello hello) {
      if (helloSeen) {
        return refuse(ErrorCode.PROTOCOL_VIOLATION, "a second hello; send hello once, as the first message");
      }
      helloSeen = true;
      return hello(hello);
    }
    if (session == null) {
      return refuse(ErrorCode.PROTOCOL_VIOLATION, "the first message must be a hello, got " + typeName(message));
    }
    try {
      quotas.message(holder);
      if (message instanceof ClientMessage.Push push) {
        quotas.mutations(holder, push.mutations().size());
      }
    } catch (Quotas.Refused e) {
      return refuse(e.code(), e.getMessage(), CloseCodes.forError(e.code()), e.retryAfterMs());
    }
    if (message instanceof ClientMessage.Push push) {
      return AskPattern.<ClientSession.Command, ClientSession.Accepted>ask(session,
              replyTo -> new ClientSession.ClientPush(push.mutations(), replyTo), PUSH_ACCEPT_TIMEOUT, engine.system().scheduler())
          .thenApplyAsync(accepted -> Done.getInstance(), engine.system().executionContext());
    }
    if (message instanceof ClientMessage.Auth refresh) {
      return refreshAuth(refresh);
    }
    if (message instanceof ClientMessage.Action action) {
      try {
        quotas.action(holder);
      } catch (Quotas.Refused e) {
        // only this call is refused; the connection stays
        socket.tell(new SocketOut.Text(toJson(new ServerMessage.ActionFailed(action.id(),
            new ServerMessage.ErrorBody(e.code(), e.getMessage(), e.retryAfterMs()))), null));
        return done();
      }
      session.tell(new ClientSession.ClientAction(action.id(), action.name(), action.args()));
      return done();
    }
    session.tell(ClientSession.ClientPing.INSTANCE);
    return done();
  }

  private CompletionStage<Done> hello(ClientMessage.Hello hello) {
    if (hello.protocolVersion() != ClientMessage.PROTOCOL_VERSION) {
      return refuse(ErrorCode.VERSION_NOT_SUPPORTED, "protocol version " + hello.protocolVersion()
          + " is not supported; this server speaks protocol version " + ClientMessage.PROTOCOL_VERSION);
    }
    Authentication authentication;
    String helloToken = hello.auth().filter(t -> !t.isEmpty()).orElse(null);
    try {
      if (handshake != null) {
        if (helloToken != null && !helloToken.equals(handshakeToken)) {
          throw new SyncException(ErrorCode.UNAUTHORIZED, "the hello's auth differs from the token of the upgrade request; send one token");
        }
        authentication = handshake;
      } else {
        authentication = auth.authenticate(helloToken);
      }
    } catch (SyncException e) {
      return refuse(e.code(), e.getMessage());
    }
    java.time.Instant expiresAt = authentication.expiresAt();
    if (expiresAt != null && !expiresAt.isAfter(java.time.Instant.now())) {
      return refuse(ErrorCode.TOKEN_EXPIRED, "the token has expired; reconnect with a fresh one");
    }
    Principal principal = authentication.forClientGroup(hello.clientGroupId());
    clientGroupId = hello.clientGroupId();
    userId = principal.userId();
    holder = Quotas.holder(principal, remoteAddress);
    try {
      quotas.message(holder);
      Runnable release = quotas.connect(holder, id.toString());
      synchronized (this) {
        if (socketClosed) {
          release.run();
        } else {
          releaseQuota = release;
        }
      }
    } catch (Quotas.Refused e) {
      return refuse(e.code(), e.getMessage(), CloseCodes.forError(e.code()), e.retryAfterMs());
    }
    return engine.connect(id, hello.clientGroupId(), hello.clientId(), principal, hello.cookie().orElse(null), hello.schemaVersion(), socket)
        .handle((connected, error) -> {
          if (error != null) {
            SyncException e = InstanceErrors.unwrap(error);
            refuse(e.code(), e.getMessage());
          } else {
            attach(connected);
            if (expiresAt != null) {
              scheduleExpiry(expiresAt);
            }
          }
          return Done.getInstance();
        });
  }

  /** A fresh token on the connection: the same user, perhaps other scopes and a later expiry. */
  private CompletionStage<Done> refreshAuth(ClientMessage.Auth refresh) {
    Authentication authentication;
    try {
      authentication = auth.authenticate(refresh.token().isEmpty() ? null : refresh.token());
    } catch (SyncException e) {
      return refuse(e.code(), e.getMessage());
    }
    Principal principal = authentication.forClientGroup(clientGroupId);
    if (!java.util.Objects.equals(principal.userId(), userId)) {
      return refuse(ErrorCode.UNAUTHORIZED, "a connection keeps its user: the new token is not for the user it was opened with");
    }
    java.time.Instant expiresAt = authentication.expiresAt();
    if (expiresAt != null && !expiresAt.isAfter(java.time.Instant.now())) {
      return refuse(ErrorCode.TOKEN_EXPIRED, "the token has expired; reconnect with a fresh one");
    }
    synchronized (this) {
      if (expiry != null) {
        expiry.cancel();
        expiry = null;
      }
    }
    if (expiresAt != null) {
      scheduleExpiry(expiresAt);
    }
    session.tell(new ClientSession.ChangePrincipal(principal));
    return done();
  }

  /** Closes the connection with {@code TOKEN_EXPIRED} (4440) when its token expires; the client reconnects with a fresh one. */
  private synchronized void scheduleExpiry(java.time.Instant expiresAt) {
    if (socketClosed) {
      return;
    }
    java.time.Duration left = java.time.Duration.between(java.time.Instant.now(), expiresAt);
    expiry = engine.system().scheduler().scheduleOnce(left.isNegative() ? java.time.Duration.ZERO : left,
        () -> refuse(ErrorCode.TOKEN_EXPIRED, "the token has expired; reconnect with a fresh one"),
        engine.system().executionContext());
  }

  private static Throwable rootCause(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t;
  }

  private synchronized void attach(ActorRef<ClientSession.Command> connected) {
    session = connected;
    relay.tell(new SocketRelay.Attach(connected));
    if (socketClosed) {
      connected.tell(ClientSession.SocketClosed.INSTANCE);
    }
  }

  private synchronized void socketClosed() {
    socketClosed = true;
    openSockets.remove(socket);
    relay.tell(SocketRelay.Detach.INSTANCE);
    if (releaseQuota != null) {
      releaseQuota.run();
    }
    if (expiry != null) {
      expiry.cancel();
    }
    if (session != null && !closing) { // after refuse() the session has stopped itself
      session.tell(ClientSession.SocketClosed.INSTANCE);
    }
  }

  /** Refuses what the client sent: an error message, then the close code of {@code code}. */
  private CompletionStage<Done> refuse(ErrorCode code, String message) {
    return refuse(code, message, CloseCodes.forError(code));
  }

  /** Refuses what the client sent: an error message, then {@code closeCode}. */
  private CompletionStage<Done> refuse(ErrorCode code, String message, int closeCode) {
    return refuse(code, message, closeCode, null);
  }

  /** Refuses what the client sent: an error message with {@code retryAfterMs}, then {@code closeCode}. */
  private CompletionStage<Done> refuse(ErrorCode code, String message, int closeCode, Long retryAfterMs) {
    closing = true;
    LOG.debug("closing sync socket of [{}] with {}: {}", id, closeCode, message);
    if (session != null) {
      session.tell(new ClientSession.ClientError(code, message, closeCode, retryAfterMs));
    } else {
      String json;
      try {
        json = Json.mapper().writeValueAsString(new ServerMessage.Error(new ServerMessage.ErrorBody(code, message, retryAfterMs)));
      } catch (JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
      socket.tell(new SocketOut.Text(json, null));
      socket.tell(new SocketOut.Close(closeCode, code.name()));
    }
    return done();
  }

  private static String toJson(ServerMessage message) {
    try {
      return Json.mapper().writeValueAsString(message);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void validate(ClientMessage message) {
    if (message instanceof ClientMessage.Hello h) {
      if (h.clientGroupId() == null || h.clientId() == null || h.cookie() == null || h.auth() == null) {
        throw new SyncException(ErrorCode.BAD_MESSAGE, "a hello needs protocolVersion, clientGroupId, clientId and schemaVersion"
            + " (cookie and auth may be left out, not null)");
      }
    } else if (message instanceof ClientMessage.Auth a) {
      if (a.token() == null) {
        throw new SyncException(ErrorCode.BAD_MESSAGE, "an auth message needs a token");
      }
    } else if (message instanceof ClientMessage.Action a) {
      if (a.id() == null || a.id().isEmpty() || a.id().length() > 64 || a.name() == null || a.args() == null) {
        throw new SyncException(ErrorCode.BAD_MESSAGE, "an action needs an id (1 to 64 characters), a name and args");
      }
    } else if (message instanceof ClientMessage.Push p) {
      if (p.mutations() == null) {
        throw new SyncException(ErrorCode.BAD_MESSAGE, "a push needs a mutations array");
      }
      for (int i = 0; i < p.mutations().size(); i++) {
        MutationRequest m = p.mutations().get(i);
        if (m == null || m.name() == null || m.args() == null) {
          throw new SyncException(ErrorCode.BAD_MESSAGE, "mutations[" + i + "] needs id, name, args and timestamp");
        }
      }
    }
  }

  private String describe(JsonProcessingException e) {
    if (e instanceof StreamConstraintsException || e.getCause() instanceof StreamConstraintsException) {
      return "message nested deeper than " + settings.maxJsonDepth() + " levels";
    }
    if (e instanceof InvalidTypeIdException t) {
      return t.getTypeId() == null
          ? "a message needs a \"type\": hello, push, action, auth or ping"
          : "unknown message type '" + abbreviate(t.getTypeId()) + "'; expected hello, push, action, auth or ping";
    }
    if (e instanceof JsonMappingException m && !m.getPath().isEmpty()) {
      return "invalid field " + path(m) + ": " + abbreviate(withoutPackages(m.getOriginalMessage()));
    }
    if (e instanceof JsonMappingException m) {
      return "invalid message: " + abbreviate(withoutPackages(m.getOriginalMessage()));
    }
    return "not a JSON message: " + abbreviate(e.getOriginalMessage());
  }

  private static String path(JsonMappingException e) {
    StringBuilder sb = new StringBuilder();
    for (JsonMappingException.Reference r : e.getPath()) {
      if (r.getFieldName() != null) {
        sb.append(sb.isEmpty() ? "" : ".").append(r.getFieldName());
      } else if (r.getIndex() >= 0) {
        sb.append('[').append(r.getIndex()).append(']');
      }
    }
    return sb.toString();
  }

  /** Jackson names Java types in its messages; the client knows the JSON, not our classes. */
  private static String withoutPackages(String message) {
    return message == null ? null : message.replaceAll("`?\\b(?:[a-z][a-z0-9_]*\\.)+(?:[A-Z]\\w*\\$)?([A-Z]\\w*)`?", "$1");
  }

  private static String abbreviate(String s) {
    return s == null ? "" : s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }

  private static String typeName(ClientMessage message) {
    return message instanceof ClientMessage.Push ? "push" : message instanceof ClientMessage.Action ? "action"
        : message instanceof ClientMessage.Auth ? "auth" : "ping";
  }

  private static CompletionStage<Done> done() {
    return CompletableFuture.completedFuture(Done.getInstance());
  }
}
