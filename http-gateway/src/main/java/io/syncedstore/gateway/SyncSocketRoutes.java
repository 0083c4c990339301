package io.syncedstore.gateway;

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

  /**
   * @param engine the engine that runs the instances
   * @param auth turns hello tokens into users
   * @param config the server's configuration ({@code synced-store.sync}, {@code synced-store.session})
   */
  public SyncSocketRoutes(SyncEngine engine, AuthProvider auth, Config config) {
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
              try {
                id = engine.instanceId(app, instance);
              } catch (SyncException e) {
                return complete(JsonResponses.error(e));
              }
              return complete(lowLevel.handleFrames(frames(id), scala.Option.empty()));
            }))))))));
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private org.apache.pekko.stream.Graph<org.apache.pekko.stream.FlowShape<FrameEvent, FrameEvent>, Object> frames(InstanceId id) {
    Flow<Message, Message, ?> messages = new SyncSocket(engine, auth, id, settings, reader).flow()
        .<Message>map(m -> m.asScala())
        .asScala()
        .contramap(org.apache.pekko.http.javadsl.model.ws.Message::adapt);
    Flow frames = BidiFlow.fromGraph(new FrameGuard(settings.maxMessageBytes()))
        .atop(WebSocket$.MODULE$.stack(true, webSocketSettings, FiniteDuration.apply(3, TimeUnit.SECONDS), log))
        .join(messages);
    return frames;
  }
}
