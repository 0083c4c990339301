package io.syncedstore.gateway;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.delete;
import static org.apache.pekko.http.javadsl.server.Directives.entity;
import static org.apache.pekko.http.javadsl.server.Directives.optionalHeaderValueByName;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.pathEndOrSingleSlash;
import static org.apache.pekko.http.javadsl.server.Directives.pathPrefix;
import static org.apache.pekko.http.javadsl.server.Directives.post;
import static org.apache.pekko.http.javadsl.server.Directives.put;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.Membership;
import io.syncedstore.api.SyncException;
import io.syncedstore.gateway.auth.AuthProvider;
import io.syncedstore.persistence.SyncEngine;
import io.syncedstore.runtime.AppInstance;
import io.syncedstore.runtime.InstanceId;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;

/**
 * The membership admin API ({@code docs/HTTP-API.md}, "Admin"), under
 * {@code /admin/v1/apps/{app}/instances/{instanceId}}, for holders of the admin credential
 * ({@code synced-store.admin.token}, sent as {@code Authorization: Bearer <token>}). Without a
 * configured credential the API is off (404). Each call is one system mutation of the instance
 * ({@link Membership}), with the app's hook in the same mutation:
 *
 * <ul>
 *   <li>{@code PUT users/{userId}} {@code {"permissions": [...]}} adds a user;
 *   <li>{@code DELETE users/{userId}} removes one;
 *   <li>{@code PUT users/{userId}/permissions/{permission}} grants, {@code DELETE} revokes;
 *   <li>{@code PUT users/{userId}/info} {@code {"displayName", "username", "profilePicture"}} sets user info;
 *   <li>{@code PUT access} {@code {"membersOnly": true}} makes the instance members-only (or open).
 * </ul>
 */
public final class AdminRoutes {
  private final SyncEngine engine;
  private final byte[] adminToken;

  /**
   * @param engine the engine
   * @param adminToken the admin credential; empty turns the API off
   */
  public AdminRoutes(SyncEngine engine, String adminToken) {
    this.engine = engine;
    this.adminToken = adminToken.getBytes(StandardCharsets.UTF_8);
  }

  /** @return the routes */
  public Route routes() {
    return pathPrefix("admin", () -> pathPrefix("v1", () -> optionalHeaderValueByName("Authorization", authorization -> {
      if (adminToken.length == 0) {
        return complete(JsonResponses.error(StatusCodes.NOT_FOUND, ErrorCode.NOT_FOUND,
            "the admin API is off: set synced-store.admin.token (SYNC_ADMIN_TOKEN)"));
      }
      if (!authorized(authorization)) {
        return complete(JsonResponses.error(StatusCodes.UNAUTHORIZED, ErrorCode.UNAUTHORIZED,
            "the admin API needs 'Authorization: Bearer <synced-store.admin.token>'"));
      }
      return pathPrefix("apps", () -> pathPrefix(PathMatchers.segment(), app ->
          pathPrefix("instances", () -> pathPrefix(PathMatchers.segment(), instance -> concat(
              path("access", () -> put(() -> entity(Unmarshaller.entityToString(), body -> JsonResponses.respond(() ->
                  change(engine.instanceId(app, instance), null, Membership.SET_ACCESS,
                      Json.mapper().valueToTree(JsonResponses.parse(body, Membership.Access.class))))))),
              pathPrefix("users", () -> pathPrefix(PathMatchers.segment(), user -> concat(
                  pathEndOrSingleSlash(() -> concat(
                      put(() -> entity(Unmarshaller.entityToString(), body -> JsonResponses.respond(() -> {
                        JsonNode permissions = body.isBlank() ? null : JsonResponses.parse(body, AddUserBody.class).permissionsJson();
                        ObjectNode args = JsonNodeFactory.instance.objectNode().put("userId", user);
                        args.set("permissions", permissions == null ? JsonNodeFactory.instance.arrayNode() : permissions);
                        return change(engine.instanceId(app, instance), user, Membership.ADD_USER, args);
                      }))),
                      delete(() -> JsonResponses.respond(() -> change(engine.instanceId(app, instance), user, Membership.REMOVE_USER,
                          JsonNodeFactory.instance.objectNode().put("userId", user)))))),
                  path("info", () -> put(() -> entity(Unmarshaller.entityToString(), body -> JsonResponses.respond(() -> {
                    ObjectNode args = JsonNodeFactory.instance.objectNode().put("userId", user);
                    args.set("info", Json.mapper().valueToTree(JsonResponses.parse(body, Membership.UserInfo.class)));
                    return change(engine.instanceId(app, instance), user, Membership.SET_USER_INFO, args);
                  })))),
                  path(PathMatchers.segment("permissions").slash(PathMatchers.segment()), permission -> concat(
                      put(() -> JsonResponses.respond(() -> change(engine.instanceId(app, instance), user, Membership.GRANT_PERMISSION,
                          JsonNodeFactory.instance.objectNode().put("userId", user).put("permission", permission)))),
                      delete(() -> JsonResponses.respond(() -> change(engine.instanceId(app, instance), user,
                          Membership.REVOKE_PERMISSION, JsonNodeFactory.instance.objectNode().put("userId", user)
                              .put("permission", permission))))))))))))));
    })));
  }

  /**
   * Body of {@code PUT users/{userId}}.
   *
   * @param permissions the user's permissions to start with, or absent
   */
  public record AddUserBody(Optional<List<String>> permissions) {
    JsonNode permissionsJson() {
      return permissions.<JsonNode>map(p -> Json.mapper().valueToTree(p)).orElse(null);
    }
  }

  private boolean authorized(Optional<String> authorization) {
    String token;
    try {
      token = AuthProvider.bearerToken(authorization);
    } catch (SyncException e) {
      return false;
    }
    // constant time: the comparison does not tell how much of a guess was right
    return token != null && MessageDigest.isEqual(token.getBytes(StandardCharsets.UTF_8), adminToken);
  }

  /** Runs the system mutation; a failed one is answered with its code (404 for a user who is no member). */
  private CompletionStage<HttpResponse> change(InstanceId id, String userId, String mutator, JsonNode args) {
    return engine.changeMembership(id, userId, mutator, args).thenApply(result -> {
      AppInstance.MutationResult r = result.results().get(0);
      if (r.code() != null) {
        return JsonResponses.error(r.code() == ErrorCode.NOT_FOUND ? StatusCodes.NOT_FOUND
            : r.code() == ErrorCode.TAMPER || r.code() == ErrorCode.MUTATOR_FAILED ? StatusCodes.UNPROCESSABLE_ENTITY
            : JsonResponses.status(r.code()), r.code(), r.message());
      }
      return JsonResponses.ok(Map.of("status", "applied", "cookie", result.cookie()));
    });
  }
}
