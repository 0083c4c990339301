package io.syncedstore.gateway;

import io.syncedstore.gateway.auth.AuthProvider;
import io.syncedstore.gateway.auth.Authentication;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.extractRequest;
import static org.apache.pekko.http.javadsl.server.Directives.get;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.pathPrefix;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import io.syncedstore.persistence.SyncEngine;
import io.syncedstore.runtime.InstanceId;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.impl.engine.ws.FrameEvent;
import org.apache.pekko.http.impl.engine.ws.UpgradeToWebSocketLowLevel;
import org.apache.pekko.http.impl.engine.ws.WebSocket$;
import org.apache.pekko.http.javadsl.model.AttributeKeys;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.ws.WebSocketUpgrade;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.scaladsl.model.ws.Message;
import org.apache.pekko.http.scaladsl.settings.ServerSettings$;
import org.apache.pekko.http.scaladsl.settings.WebSocketSettings;
import org.apache.pekko.stream.scaladsl.BidiFlow;
import org.apache.pekko.stream.scaladsl.Flow;
import scala.concurrent.duration.FiniteDuration;

/**
 * The sync WebSocket endpoint, {@code GET /v1/apps/{app}/instances/{instanceId}/sync}
 * ({@code docs/PROTOCOL.md}).
 *
 * <p>The connection is assembled from Pekko HTTP's own WebSocket layers (framing, masking,
 * control frames, UTF-8, message assembly) with a {@link FrameGuard} below them, which bounds
 * message size before payloads are read and closes with the protocol's close codes.
 */
public final class SyncSocketRoutes {
  private final SyncEngine engine;
  private final AuthProvider auth;
  private final SyncSocket.Settings settings;
  private final ObjectMapper reader;
  private final WebSocketSettings webSocketSettings;
  private final LoggingAdapter log;
  private final Quotas quotas;
  /** Origins a browser may open the socket from; empty: any (tokens, not cookies, authenticate). */
  private final java.util.Set<String> allowedOrigins;

  /** The subprotocol of the sync protocol, for clients that offer subprotocols. */
  public static final String SUBPROTOCOL = "synced-store";
  /** The prefix of the subprotocol that carries a browser's token: {@code synced-store.auth.<base64url token>}. */
  public static final String AUTH_SUBPROTOCOL_PREFIX = "synced-store.auth.";

  /**
   * @param engine the engine that runs the instances
   * @param auth turns hello tokens into users
   * @param config the server's configuration ({@code synced-store.sync}, {@code synced-store.session})
   */
  public SyncSocketRoutes(SyncEngine engine, AuthProvider auth, Config config, Quotas quotas) {
    this.quotas = quotas;
    this.engine = engine;
    this.auth = auth;
    this.settings = new SyncSocket.Settings(
        (int) Math.min(Integer.MAX_VALUE, config.getBytes("synced-store.sync.max-message-bytes")),
        config.getInt("synced-store.sync.max-json-depth"),
        engine.settings().maxQueuedMessages());
    this.reader = SyncSocket.reader(settings.maxJsonDepth());
    this.webSocketSettings = ServerSettings$.MODULE$.apply(config).websocketSettings();
    // Pekko's WebSocket layers log a handler failure as an error; when the guard ends a connection
    // the layers see one on purpose (FrameGuard.MessageRefused), and SyncSocket logs real failures itself.
    this.log = org.apache.pekko.event.NoLogging$.MODULE$;
    this.allowedOrigins = java.util.Set.copyOf(config.getStringList("synced-store.http.allowed-origins"));
    // On shutdown (SIGTERM, a cluster leave) every open connection is told to reconnect (1012)
    // while HTTP unbinds, rather than cut when the server's deadline runs out (which clients see
    // as 1011 or a dropped connection): a client of a cluster goes on through another node at once.
    org.apache.pekko.actor.CoordinatedShutdown.get(engine.system()).addTask(
        org.apache.pekko.actor.CoordinatedShutdown.PhaseServiceUnbind(), "close-sync-sockets", () -> {
          openSockets.closeAll();
          return java.util.concurrent.CompletableFuture.completedFuture(org.apache.pekko.Done.getInstance());
        });
  }

  /** The relays of open connections, to close them on shutdown. */
  private final OpenSockets openSockets = new OpenSockets();

  /**
   * The relays of open connections. Once shutdown has begun, a connection that registers after the
   * others were told to reconnect (an upgrade racing the unbind) is told at once, instead of being
   * cut at the shutdown deadline (1011): the flag is set before the others are told, and a
   * registration checks it after adding itself, so no connection is missed by both.
   */
  private static final class OpenSockets extends java.util.AbstractSet<org.apache.pekko.actor.typed.ActorRef<io.syncedstore.runtime.SocketOut>> {
    private final java.util.Set<org.apache.pekko.actor.typed.ActorRef<io.syncedstore.runtime.SocketOut>> sockets =
        java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean closing;

    @Override
    public boolean add(org.apache.pekko.actor.typed.ActorRef<io.syncedstore.runtime.SocketOut> socket) {
      boolean added = sockets.add(socket);
      if (closing) {
        tellToReconnect(socket);
      }
      return added;
    }

    @Override
    public boolean remove(Object socket) {
      return sockets.remove(socket);
    }

    @Override
    public java.util.Iterator<org.apache.pekko.actor.typed.ActorRef<io.syncedstore.runtime.SocketOut>> iterator() {
      return sockets.iterator();
    }

    @Override
    public int size() {
      return sockets.size();
    }

    void closeAll() {
      closing = true;
      sockets.forEach(OpenSockets::tellToReconnect);
    }

    private static void tellToReconnect(org.apache.pekko.actor.typed.ActorRef<io.syncedstore.runtime.SocketOut> socket) {
      socket.tell(new io.syncedstore.runtime.SocketOut.Close(
          io.syncedstore.api.protocol.CloseCodes.SERVICE_RESTART, "server shutting down; reconnect"));
    }
  }

  /** @return the route */
  public Route routes() {
    return pathPrefix("v1", () -> pathPrefix("apps", () -> pathPrefix(PathMatchers.segment(), app ->
        pathPrefix("instances", () -> pathPrefix(PathMatchers.segment(), instance ->
            path("sync", () -> get(() -> extractRequest(request -> {
              Optional<WebSocketUpgrade> upgrade = request.getAttribute(AttributeKeys.webSocketUpgrade);
              if (upgrade.isEmpty() || !(upgrade.get() instanceof UpgradeToWebSocketLowLevel lowLevel)) {
                return complete(JsonResponses.error(StatusCodes.BAD_REQUEST, ErrorCode.BAD_REQUEST,
                    "this endpoint speaks WebSocket only; see docs/PROTOCOL.md"));
              }
              InstanceId id;
              Handshake handshake;
              try {
                id = engine.instanceId(app, instance);
                handshake = handshake(request, upgrade.get());
              } catch (SyncException e) {
                return complete(JsonResponses.error(e));
              }
              return complete(lowLevel.handleFrames(frames(id, handshake, remoteAddress(request)), handshake.subprotocol()));
            }))))))));
  }

  /**
   * What the upgrade request established before the upgrade.
   *
   * @param token the token it carried, or {@code null}
   * @param authentication what the token authenticated as, or {@code null} without a token
   * @param subprotocol the subprotocol to answer with
   */
  private record Handshake(String token, Authentication authentication, scala.Option<String> subprotocol) {}

  /**
   * Checks the upgrade request before upgrading: its Origin, and its token if it carries one, in
   * the {@code Authorization: Bearer} header or, for browsers, which cannot set headers on a
   * WebSocket, as the subprotocol {@code synced-store.auth.<base64url of the token>} next to
   * {@code synced-store}.
   *
   * @throws SyncException {@code ORIGIN_NOT_ALLOWED} or {@code UNAUTHORIZED}, answered before the upgrade
   */
  private Handshake handshake(org.apache.pekko.http.javadsl.model.HttpRequest request, WebSocketUpgrade upgrade) {
    Optional<String> origin = request.getHeader("Origin").map(h -> h.value());
    if (origin.isPresent() && !allowedOrigins.isEmpty() && !allowedOrigins.contains(origin.get())) {
      throw new SyncException(ErrorCode.ORIGIN_NOT_ALLOWED, "origin '" + abbreviate(origin.get())
          + "' is not allowed (synced-store.http.allowed-origins)");
    }
    String token = AuthProvider.bearerToken(request.getHeader("Authorization").map(h -> h.value()));
    scala.Option<String> subprotocol = scala.Option.empty();
    for (String offered : upgrade.getRequestedProtocols()) {
      if (offered.equals(SUBPROTOCOL)) {
        subprotocol = scala.Option.apply(SUBPROTOCOL);
      } else if (offered.startsWith(AUTH_SUBPROTOCOL_PREFIX)) {
        if (token != null) {
          throw new SyncException(ErrorCode.UNAUTHORIZED, "send the token once: in the Authorization header or as a subprotocol");
        }
        try {
          token = new String(java.util.Base64.getUrlDecoder().decode(offered.substring(AUTH_SUBPROTOCOL_PREFIX.length())),
              java.nio.charset.StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
          throw new SyncException(ErrorCode.UNAUTHORIZED, "the auth subprotocol must hold the token in base64url");
        }
      }
    }
    if (subprotocol.isEmpty() && upgrade.getRequestedProtocols().iterator().hasNext()) {
      throw new SyncException(ErrorCode.BAD_REQUEST, "a client that offers subprotocols must offer '" + SUBPROTOCOL + "'");
    }
    return new Handshake(token, token == null ? null : auth.authenticate(token), subprotocol);
  }

  /** @return the peer's IP address, or "unknown" */
  static String remoteAddress(org.apache.pekko.http.javadsl.model.HttpRequest request) {
    return request.getAttribute(org.apache.pekko.http.javadsl.model.AttributeKeys.remoteAddress)
        .flatMap(a -> a.getAddress()).map(java.net.InetAddress::getHostAddress).orElse("unknown");
  }

  private static String abbreviate(String s) {
    return s.length() > 100 ? s.substring(0, 100) + "..." : s;
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private org.apache.pekko.stream.Graph<org.apache.pekko.stream.FlowShape<FrameEvent, FrameEvent>, Object> frames(InstanceId id,
      Handshake handshake, String remoteAddress) {
    Flow<Message, Message, ?> messages = new SyncSocket(engine, auth, handshake.token(), handshake.authentication(), id, settings,
        reader, quotas, remoteAddress, openSockets).flow()
        .<Message>map(m -> m.asScala())
        .asScala()
        .contramap(org.apache.pekko.http.javadsl.model.ws.Message::adapt);
    Flow frames = BidiFlow.fromGraph(new FrameGuard(settings.maxMessageBytes()))
        .atop(WebSocket$.MODULE$.stack(true, webSocketSettings, FiniteDuration.apply(3, TimeUnit.SECONDS), log))
        .join(messages);
    return frames;
  }
}
