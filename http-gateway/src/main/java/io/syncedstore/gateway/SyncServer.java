package io.syncedstore.gateway;

import io.syncedstore.gateway.auth.AuthProvider;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.get;
import static org.apache.pekko.http.javadsl.server.Directives.handleRejections;
import static org.apache.pekko.http.javadsl.server.Directives.path;

import com.typesafe.config.Config;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.AppProvider;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.persistence.SyncEngine;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.server.Route;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A running server: the engine and its HTTP binding. */
public final class SyncServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SyncServer.class);

  private final SyncEngine engine;
  private final ServerBinding binding;

  private SyncServer(SyncEngine engine, ServerBinding binding) {
    this.engine = engine;
    this.binding = binding;
  }

  /** @return every app found through {@link AppProvider} on the class path */
  public static List<AppDefinition> discoverApps() {
    List<AppDefinition> apps = new ArrayList<>();
    ServiceLoader.load(AppProvider.class).forEach(p -> apps.addAll(p.apps()));
    return apps;
  }

  /**
   * Starts the engine and binds HTTP at {@code synced-store.http.host:port} (port 0 picks a free
   * port). Blocks until bound.
   *
   * @param config the complete, resolved configuration
   * @param apps the apps to serve
   */
  public static SyncServer start(Config config, List<AppDefinition> apps) {
    SyncEngine engine = SyncEngine.start(config, apps, "synced-store");
    try {
      AuthProvider auth = io.syncedstore.gateway.auth.AuthProviders.fromConfig(config.getConfig("synced-store.auth"));
      Quotas quotas = Quotas.fromConfig(config.getConfig("synced-store.quotas"));
      engine.system().scheduler().scheduleAtFixedRate(Duration.ofMinutes(1), Duration.ofMinutes(1), quotas::sweep,
          engine.system().executionContext());
      Route sync = new SyncSocketRoutes(engine, auth, config, quotas).routes();
      Route route = handleRejections(jsonRejections(), () -> concat(
          path("health", () -> get(() -> complete(JsonResponses.ok(health(engine))))),
          path("metrics", () -> get(() -> config.getBoolean("synced-store.http.metrics")
              ? complete(org.apache.pekko.http.javadsl.model.HttpEntities.create(
                  org.apache.pekko.http.javadsl.model.ContentTypes.TEXT_PLAIN_UTF8,
                  io.syncedstore.runtime.EngineMetrics.get(engine.system()).scrape()))
              : complete(JsonResponses.error(org.apache.pekko.http.javadsl.model.StatusCodes.NOT_FOUND, ErrorCode.NOT_FOUND,
                  "metrics are off (synced-store.http.metrics)")))),
          new InstanceRoutes(engine, auth, quotas).routes(),
          new AdminRoutes(engine, config.getString("synced-store.admin.token")).routes(),
          new ReplicacheRoutes(engine, auth, quotas).routes(),
          sync));
      String host = config.getString("synced-store.http.host");
      int port = config.getInt("synced-store.http.port");
      ServerBinding binding = Http.get(engine.system()).newServerAt(host, port).bind(route)
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      Duration deadline = config.getDuration("synced-store.http.shutdown-deadline");
      binding.addToCoordinatedShutdown(deadline, engine.system());
      InetSocketAddress address = binding.localAddress();
      log.info("listening on http://{}:{}", address.getHostString(), address.getPort());
      return new SyncServer(engine, binding);
    } catch (Exception e) {
      engine.close();
      throw new IllegalStateException("cannot start the HTTP server: " + e.getMessage(), e);
    }
  }

  /**
   * What {@code GET /health} says: the apps, and in the cluster profile this node's view of the
   * cluster (its own status, members Up, members unreachable), which the cluster tests and
   * operators wait on (docs/OPERATIONS.md).
   */
  static Map<String, Object> health(SyncEngine engine) {
    Map<String, Object> health = new java.util.LinkedHashMap<>();
    health.put("status", "ok");
    health.put("apps", engine.apps().keySet());
    if (engine.clustered()) {
      org.apache.pekko.cluster.typed.Cluster cluster = org.apache.pekko.cluster.typed.Cluster.get(engine.system());
      org.apache.pekko.cluster.ClusterEvent.CurrentClusterState state = cluster.state();
      long up = java.util.stream.StreamSupport.stream(state.getMembers().spliterator(), false)
          .filter(m -> m.status() == org.apache.pekko.cluster.MemberStatus.up()).count();
      health.put("cluster", Map.of(
          "self", cluster.selfMember().address().toString(),
          "status", cluster.selfMember().status().toString(),
          "members", up,
          "unreachable", state.getUnreachable().size()));
    }
    return health;
  }

  /** Pekko's rejections (404, 405, 413...) with our JSON error body. */
  private static RejectionHandler jsonRejections() {
    return RejectionHandler.defaultHandler().mapRejectionResponse(response -> {
      if (response.entity() instanceof HttpEntity.Strict strict) {
        String message = strict.getData().utf8String();
        ErrorCode code = response.status().intValue() == 404 ? ErrorCode.NOT_FOUND : ErrorCode.BAD_REQUEST;
        HttpResponse json = JsonResponses.error(response.status(), code, message);
        return response.withEntity(json.entity());
      }
      return response;
    });
  }

  /** @return the port the server listens on */
  public int port() {
    return binding.localAddress().getPort();
  }

  /** @return the engine */
  public SyncEngine engine() {
    return engine;
  }

  /** Unbinds and stops the engine (the same steps SIGTERM runs). */
  @Override
  public void close() {
    engine.close();
  }
}
