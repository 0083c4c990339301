package io.syncedstore.gateway;

import io.syncedstore.api.auth.Principal;
import io.syncedstore.gateway.auth.AuthProvider;
import io.syncedstore.gateway.auth.Authentication;

import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.entity;
import static org.apache.pekko.http.javadsl.server.Directives.extractRequest;
import static org.apache.pekko.http.javadsl.server.Directives.optionalHeaderValueByName;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.pathPrefix;
import static org.apache.pekko.http.javadsl.server.Directives.post;

import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.persistence.SyncEngine;
import io.syncedstore.runtime.AppInstance;
import io.syncedstore.runtime.InstanceId;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
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
  private final Quotas quotas;

  /**
   * @param engine the engine that runs the instances
   * @param auth turns bearer tokens into users
   */
  public InstanceRoutes(SyncEngine engine, AuthProvider auth, Quotas quotas) {
    this.quotas = quotas;
    this.engine = engine;
    this.auth = auth;
  }

  /** @return the routes */
  public Route routes() {
    return pathPrefix("v1", () -> pathPrefix("apps", () -> pathPrefix(PathMatchers.segment(), app ->
        pathPrefix("instances", () -> pathPrefix(PathMatchers.segment(), instance ->
            optionalHeaderValueByName("Authorization", authorization -> extractRequest(request -> post(() -> concat(
                path("push", () -> entity(Unmarshaller.entityToString(), body ->
                    JsonResponses.respond(() -> push(engine.instanceId(app, instance), auth.authenticateHeader(authorization),
                            SyncSocketRoutes.remoteAddress(request), body)
                        .thenApply(JsonResponses::ok)))),
                path("pull", () -> entity(Unmarshaller.entityToString(), body ->
                    JsonResponses.respond(() -> pull(engine.instanceId(app, instance), auth.authenticateHeader(authorization),
                            SyncSocketRoutes.remoteAddress(request), body)
                        .thenApply(JsonResponses::ok)))),
                path(PathMatchers.segment("actions").slash(PathMatchers.segment()), action ->
                    entity(Unmarshaller.entityToString(), body ->
                        JsonResponses.respond(() -> action(engine.instanceId(app, instance), auth.authenticateHeader(authorization),
                                SyncSocketRoutes.remoteAddress(request), action, JsonResponses.parse(body, com.fasterxml.jackson.databind.JsonNode.class))
                            .thenApply(out -> JsonResponses.ok(java.util.Collections.singletonMap("output", out)))))))))))))));
  }

  private CompletionStage<AppInstance.PushResult> push(InstanceId id, Authentication user, String address, String body) {
    PushRequest request = JsonResponses.parse(body, PushRequest.class);
    Principal principal = user.forClientGroup(request.clientGroupId());
    quotas.mutations(Quotas.holder(principal, address), request.mutations().size());
    return engine.push(id, request.clientGroupId(), request.clientId(), principal, request.mutations());
  }

  private CompletionStage<AppInstance.PullResult> pull(InstanceId id, Authentication user, String address, String body) {
    PullRequest request = JsonResponses.parse(body, PullRequest.class);
    Principal principal = user.forClientGroup(request.clientGroupId());
    quotas.message(Quotas.holder(principal, address));
    return engine.pull(id, request.clientGroupId(), request.cookie().orElse(null), principal);
  }

  private CompletionStage<com.fasterxml.jackson.databind.JsonNode> action(InstanceId id, Authentication user, String address,
      String name, com.fasterxml.jackson.databind.JsonNode input) {
    Principal principal = user.forClientGroup(null);
    quotas.action(Quotas.holder(principal, address));
    return engine.runAction(id, principal, name, input);
  }
}
