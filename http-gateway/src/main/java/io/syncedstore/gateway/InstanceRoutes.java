package io.syncedstore.gateway;

import static org.apache.pekko.http.javadsl.server.Directives.completeWithFuture;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.entity;
import static org.apache.pekko.http.javadsl.server.Directives.optionalHeaderValueByName;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.pathPrefix;
import static org.apache.pekko.http.javadsl.server.Directives.post;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.persistence.SyncEngine;
import io.syncedstore.runtime.InstanceErrors;
import io.syncedstore.runtime.InstanceId;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;

/**
 * JSON push and pull for one instance:
 * {@code POST /v1/apps/{app}/instances/{instanceId}/push} and {@code .../pull}. See
 * {@code docs/HTTP-API.md}.
 */
public final class InstanceRoutes {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(InstanceRoutes.class);

  /**
   * Body of a push.
   *
   * @param clientGroupId the client's group
   * @param clientId the client
   * @param mutations the mutations, ids increasing
   */
  public record PushRequest(String clientGroupId, String clientId, List<MutationRequest> mutations) {}

  /**
   * Body of a pull.
   *
   * @param clientGroupId the client group
   * @param cookie the cookie it holds; absent for a first pull
   */
  public record PullRequest(String clientGroupId, Optional<String> cookie) {}

  private final SyncEngine engine;
  private final AuthProvider auth;

  /**
   * @param engine the engine that runs the instances
   * @param auth turns bearer tokens into users
   */
  public InstanceRoutes(SyncEngine engine, AuthProvider auth) {
    this.engine = engine;
    this.auth = auth;
  }

  /** @return the routes */
  public Route routes() {
    return pathPrefix("v1", () -> pathPrefix("apps", () -> pathPrefix(PathMatchers.segment(), app ->
        pathPrefix("instances", () -> pathPrefix(PathMatchers.segment(), instance ->
            optionalHeaderValueByName("Authorization", authorization -> post(() -> concat(
                path("push", () -> entity(Unmarshaller.entityToString(), body ->
                    respond(() -> push(instanceId(app, instance), user(authorization), body)))),
                path("pull", () -> entity(Unmarshaller.entityToString(), body ->
                    respond(() -> pull(instanceId(app, instance), user(authorization), body))))))))))));
  }

  private CompletionStage<Object> push(InstanceId id, String user, String body) {
    PushRequest request = JsonResponses.parse(body, PushRequest.class);
    return engine.push(id, request.clientGroupId(), request.clientId(), user, request.mutations()).thenApply(Function.identity());
  }

  private CompletionStage<Object> pull(InstanceId id, String user, String body) {
    PullRequest request = JsonResponses.parse(body, PullRequest.class);
    return engine.pull(id, request.clientGroupId(), request.cookie().orElse(null), user).thenApply(Function.identity());
  }

  private InstanceId instanceId(String app, String instance) {
    if (engine.app(app).isEmpty()) {
      throw new SyncException(ErrorCode.NOT_FOUND, "no app '" + app + "'; this server has " + engine.apps().keySet());
    }
    return new InstanceId(app, instance);
  }

  private String user(Optional<String> authorization) {
    String token = null;
    if (authorization.isPresent()) {
      String value = authorization.get();
      if (!value.regionMatches(true, 0, "Bearer ", 0, 7)) {
        throw new SyncException(ErrorCode.UNAUTHORIZED, "the Authorization header must be 'Bearer <token>'");
      }
      token = value.substring(7).trim();
    }
    return auth.authenticate(token).orElse(null);
  }

  /** Runs {@code call}; any {@link SyncException}, thrown or failing the future, becomes its error response. */
  private static Route respond(java.util.function.Supplier<CompletionStage<Object>> call) {
    CompletionStage<Object> result;
    try {
      result = call.get();
    } catch (SyncException e) {
      result = CompletableFuture.failedFuture(e);
    } catch (RuntimeException e) {
      LOG.error("request failed", e);
      result = CompletableFuture.failedFuture(new SyncException(ErrorCode.INTERNAL, "internal error"));
    }
    CompletionStage<HttpResponse> response = result.handle((value, error) ->
        error == null ? JsonResponses.ok(value) : JsonResponses.error(InstanceErrors.unwrap(error)));
    return completeWithFuture(response);
  }
}
