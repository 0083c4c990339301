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

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.protocol.Cookie;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.persistence.SyncEngine;
import io.syncedstore.runtime.AppInstance;
import io.syncedstore.runtime.InstanceErrors;
import io.syncedstore.runtime.InstanceId;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replicache's push and pull protocol, version 1 ({@code pushVersion: 1}, {@code pullVersion: 1}),
 * for one instance: {@code POST /replicache/{app}/{instanceId}/push} and {@code .../pull}, so an
 * unmodified Replicache 15 client syncs against the server. See {@code docs/REPLICACHE.md}.
 *
 * <p>Pushed mutations run the app's own mutators through {@link SyncEngine#push}, one engine push
 * per run of consecutive mutations of the same client, in the order they were pushed. A pull is
 * {@link SyncEngine#pull}: public entry {@code (T, K)} becomes Replicache key {@code T/K}, the
 * caller's own private entry {@code $$pu/<userId>/T/K}; server-only rows are never sent.
 *
 * <p>The Replicache cookie is an object whose numeric {@code order} never goes backwards and grows
 * whenever the pull returns anything; it carries the engine's cookie ({@code epoch},
 * {@code version}), the client group it was issued to and whether that group had pushed here.
 * A pull answers {@code {"error": "ClientStateNotFound"}} only when the cookie shows the asking
 * group itself had pushed to this instance and the instance no longer knows it; a group never
 * seen before that presents another group's cookie (Replicache forks new client groups from
 * existing ones, cookie included) is served.
 */
public final class ReplicacheRoutes {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicacheRoutes.class);

  /** Prefix of the caller's private entries in the Replicache key space. */
  private static final String PRIVATE_PREFIX = "$$pu/";
  /** JavaScript's {@code Number.MAX_SAFE_INTEGER}: cookie orders above it would not survive the client. */
  private static final long MAX_SAFE_INTEGER = (1L << 53) - 1;

  private final SyncEngine engine;
  private final AuthProvider auth;
  private final Quotas quotas;

  /**
   * @param engine the engine that runs the instances
   * @param auth turns the {@code Authorization: Bearer <token>} header (Replicache's {@code auth}) into users
   */
  public ReplicacheRoutes(SyncEngine engine, AuthProvider auth, Quotas quotas) {
    this.quotas = quotas;
    this.engine = engine;
    this.auth = auth;
  }

  /** @return {@code POST /replicache/{app}/{instanceId}/push} and {@code .../pull} */
  public Route routes() {
    return pathPrefix("replicache", () -> pathPrefix(PathMatchers.segment(), app -> pathPrefix(PathMatchers.segment(), instance ->
        optionalHeaderValueByName("Authorization", authorization -> extractRequest(request -> post(() -> concat(
            path("push", () -> entity(Unmarshaller.entityToString(), body ->
                JsonResponses.respond(() -> push(engine.instanceId(app, instance), auth.authenticateHeader(authorization),
                    SyncSocketRoutes.remoteAddress(request), body)))),
            path("pull", () -> entity(Unmarshaller.entityToString(), body ->
                JsonResponses.respond(() -> pull(engine.instanceId(app, instance), auth.authenticateHeader(authorization),
                    SyncSocketRoutes.remoteAddress(request), body)))))))))));
  }

  // ---------------------------------------------------------------- push

  /** Mutations of one client, consecutive in the push, small enough for one engine push. */
  private record Run(String clientId, List<MutationRequest> mutations) {}

  private CompletionStage<HttpResponse> push(InstanceId id, Authentication auth, String address, String body) {
    JsonNode request = parseObject(body);
    if (!isVersionOne(request.get("pushVersion"))) {
      return CompletableFuture.completedFuture(JsonResponses.ok(versionNotSupported("push")));
    }
    String group = requiredText(request, "clientGroupID");
    Principal user = auth.forClientGroup(group);
    List<Run> runs = runs(request.get("mutations"), engine.settings().maxMutationsPerPush());
    quotas.mutations(Quotas.holder(user, address), runs.stream().mapToInt(r -> r.mutations().size()).sum());
    // One run after the other: a later run must not be applied when an earlier one was refused.
    CompletableFuture<Void> done = CompletableFuture.completedFuture(null);
    for (Run run : runs) {
      done = done.thenCompose(ignored -> engine.push(id, group, run.clientId(), user, run.mutations())
          .toCompletableFuture().thenApply(result -> null));
    }
    return done.handle((ignored, error) -> {
      if (error == null) {
        return JsonResponses.ok(JsonNodeFactory.instance.objectNode());
      }
      SyncException e = InstanceErrors.unwrap(error);
      if (e.code() == ErrorCode.MUTATION_ID_GAP) {
        // Replicache only pushes mutations after the last id the server acknowledged, so a gap means
        // the server lost this client's state: tell Replicache, which disables the client group
        // (and by default reloads) instead of pushing the same mutations forever.
        LOG.info("replicache push to [{}] of client group [{}]: ClientStateNotFound ({})", id, group, e.getMessage());
        return JsonResponses.ok(clientStateNotFound());
      }
      return JsonResponses.error(e);
    });
  }

  /** Splits a push's mutations into runs of one client, in order; validates every field. */
  private static List<Run> runs(JsonNode mutations, int maxPerRun) {
    if (mutations == null || !mutations.isArray()) {
      throw badRequest("'mutations' must be an array");
    }
    List<Run> runs = new ArrayList<>();
    List<MutationRequest> current = new ArrayList<>();
    String currentClient = null;
    for (int i = 0; i < mutations.size(); i++) {
      JsonNode m = mutations.get(i);
      String where = "mutations[" + i + "]";
      if (!m.isObject()) {
        throw badRequest(where + " must be an object");
      }
      String clientId = requiredText(m, "clientID", where);
      MutationRequest mutation = new MutationRequest(mutationId(m.get("id"), where), requiredText(m, "name", where),
          m.hasNonNull("args") ? m.get("args") : NullNode.getInstance(), timestamp(m.get("timestamp"), where));
      if (!clientId.equals(currentClient) || current.size() >= maxPerRun) {
        if (!current.isEmpty()) {
          runs.add(new Run(currentClient, List.copyOf(current)));
        }
        current.clear();
        currentClient = clientId;
      }
      current.add(mutation);
    }
    if (!current.isEmpty()) {
      runs.add(new Run(currentClient, List.copyOf(current)));
    }
    return runs;
  }

  private static long mutationId(JsonNode id, String where) {
    if (id == null || !id.isIntegralNumber() || !id.canConvertToLong()) {
      throw badRequest(where + ".id must be an integer");
    }
    return id.longValue();
  }

  /** Replicache sends a float (a {@code DOMHighResTimeStamp}); the engine keeps whole milliseconds. */
  private static long timestamp(JsonNode timestamp, String where) {
    if (timestamp == null || !timestamp.isNumber() || !Double.isFinite(timestamp.doubleValue())) {
      throw badRequest(where + ".timestamp must be a number");
    }
    return (long) Math.floor(timestamp.doubleValue());
  }

  // ---------------------------------------------------------------- pull

  private CompletionStage<HttpResponse> pull(InstanceId id, Authentication auth, String address, String body) {
    JsonNode request = parseObject(body);
    if (!isVersionOne(request.get("pullVersion"))) {
      return CompletableFuture.completedFuture(JsonResponses.ok(versionNotSupported("pull")));
    }
    String group = requiredText(request, "clientGroupID");
    RequestCookie cookie = RequestCookie.parse(request.get("cookie"));
    String engineCookie = cookie.issued() == null ? null : cookie.issued().engineCookie();
    Principal principal = auth.forClientGroup(group);
    quotas.message(Quotas.holder(principal, address));
    return engine.pull(id, group, engineCookie, principal).thenApply(result -> {
      ObjectNode response = pullResponse(group, principal.userId(), cookie, result);
      if (response.has("error")) {
        LOG.info("replicache pull from [{}] by client group [{}]: ClientStateNotFound (its cookie says it pushed here, "
            + "the instance does not know it)", id, group);
      }
      return JsonResponses.ok(response);
    });
  }

  /**
   * Turns the engine's answer into Replicache's {@code PullResponseV1}.
   *
   * @param group the asking client group
   * @param user the caller, or {@code null} for anonymous
   * @param cookie the cookie the group sent
   * @param result the engine's patch from that cookie's engine cookie (or from nothing)
   * @return {@code {cookie, lastMutationIDChanges, patch}}, or {@code {"error": "ClientStateNotFound"}}
   */
  private static ObjectNode pullResponse(String group, String user, RequestCookie cookie, AppInstance.PullResult result) {
    IssuedCookie issued = cookie.issued();
    if (issued != null && issued.issuedTo().equals(group) && issued.pushed() && !result.clientGroupKnown()) {
      return clientStateNotFound();
    }
    ObjectNode response = JsonNodeFactory.instance.objectNode();
    if (issued != null && result.cookie().equals(issued.engineCookie())) {
      // Nothing changed since the cookie. Replicache requires the very same cookie and an empty patch
      // (the engine's only patch here is the clear it repeats for an instance never written).
      response.set("cookie", cookie.raw());
      response.putObject("lastMutationIDChanges");
      response.putArray("patch");
      return response;
    }
    Cookie now = Cookie.parse(result.cookie());
    long order = Math.max(now.version(), cookie.order() + 1);
    if (order > MAX_SAFE_INTEGER) {
      throw new SyncException(ErrorCode.INTERNAL, "cookie order " + order + " is beyond what a JavaScript number holds exactly");
    }
    response.set("cookie", new IssuedCookie(order, now.epoch(), now.version(), group, result.clientGroupKnown()).toJson());
    ObjectNode changes = response.putObject("lastMutationIDChanges");
    result.lastMutationIdChanges().forEach(changes::put);
    ArrayNode patch = response.putArray("patch");
    for (PatchOp op : result.patch()) {
      patch.add(patchOperation(op, user));
    }
    return response;
  }

  /** @return {@code op} as a Replicache {@code PatchOperation} */
  private static ObjectNode patchOperation(PatchOp op, String user) {
    ObjectNode out = JsonNodeFactory.instance.objectNode();
    out.put("op", op.op());
    switch (op.op()) {
      case "clear" -> { }
      case "put" -> {
        out.put("key", key(op, user));
        out.set("value", op.value());
      }
      case "del" -> out.put("key", key(op, user));
      default -> throw new IllegalStateException("unknown patch op " + op.op());
    }
    return out;
  }

  /** @return {@code T/K} for a public entry, {@code $$pu/<user>/T/K} for the caller's private one */
  private static String key(PatchOp op, String user) {
    String key = op.table() + "/" + op.itemKey();
    if ("public".equals(op.tier())) {
      return key;
    }
    if ("private".equals(op.tier()) && user != null) {
      return PRIVATE_PREFIX + user + "/" + key;
    }
    throw new IllegalStateException("the engine sent a " + op.tier() + " entry to " + (user == null ? "an anonymous caller" : user));
  }

  /**
   * The cookie this server hands to Replicache, as JSON
   * {@code {"order", "epoch", "version", "issuedTo", "pushed"}}.
   *
   * @param order what Replicache orders cookies by: never smaller than the cookie it answers, larger when anything changed
   * @param epoch the engine cookie's epoch
   * @param version the engine cookie's version
   * @param issuedTo the client group the cookie was issued to
   * @param pushed whether that group had pushed to the instance when the cookie was issued
   */
  private record IssuedCookie(long order, String epoch, long version, String issuedTo, boolean pushed) {
    /** @return the engine cookie {@code epoch:version} */
    String engineCookie() {
      return new Cookie(epoch, version).toString();
    }

    ObjectNode toJson() {
      ObjectNode json = JsonNodeFactory.instance.objectNode();
      json.put("order", order);
      json.put("epoch", epoch);
      json.put("version", version);
      json.put("issuedTo", issuedTo);
      json.put("pushed", pushed);
      return json;
    }

    /** @return the cookie {@code json} describes, or {@code null} when it is not one of ours */
    static IssuedCookie fromJson(JsonNode json) {
      JsonNode order = json.get("order");
      JsonNode epoch = json.get("epoch");
      JsonNode version = json.get("version");
      JsonNode issuedTo = json.get("issuedTo");
      JsonNode pushed = json.get("pushed");
      if (json.size() != 5 || order == null || !order.isIntegralNumber() || !order.canConvertToLong()
          || epoch == null || !epoch.isTextual() || epoch.textValue().isEmpty()
          || version == null || !version.isIntegralNumber() || !version.canConvertToLong() || version.longValue() < 0
          || issuedTo == null || !issuedTo.isTextual() || pushed == null || !pushed.isBoolean()) {
        return null;
      }
      return new IssuedCookie(order.longValue(), epoch.textValue(), version.longValue(), issuedTo.textValue(), pushed.booleanValue());
    }
  }

  /**
   * The cookie a pull came with.
   *
   * @param raw the cookie as sent, or {@code null}
   * @param order its order ({@code -1} for none): the answer's order must not be below it
   * @param issued the cookie, when this server issued it; {@code null} for none or a foreign one
   */
  private record RequestCookie(JsonNode raw, long order, IssuedCookie issued) {
    static final RequestCookie NONE = new RequestCookie(null, -1, null);

    /**
     * Reads a pull's cookie. A cookie of another server (a number, or an object with a numeric
     * {@code order}) gets a full reset, ordered after it, as Replicache's docs ask for an unusable cookie.
     *
     * @throws SyncException {@link ErrorCode#BAD_REQUEST} for anything no order can follow (a string cookie)
     */
    static RequestCookie parse(JsonNode cookie) {
      if (cookie == null || cookie.isNull()) {
        return NONE;
      }
      JsonNode order = cookie.isObject() ? cookie.get("order") : cookie;
      if (order == null || !order.isNumber()) {
        throw badRequest("the cookie must be null, a number or an object with a numeric 'order'; this server issues "
            + "{\"order\", \"epoch\", \"version\", \"issuedTo\", \"pushed\"}");
      }
      double value = order.doubleValue();
      if (!Double.isFinite(value) || Math.abs(value) >= MAX_SAFE_INTEGER) {
        throw badRequest("the cookie's order must be a finite number below 2^53");
      }
      return new RequestCookie(cookie, (long) Math.floor(value), cookie.isObject() ? IssuedCookie.fromJson(cookie) : null);
    }
  }

  // ---------------------------------------------------------------- shared

  private static ObjectNode clientStateNotFound() {
    return JsonNodeFactory.instance.objectNode().put("error", "ClientStateNotFound");
  }

  private static ObjectNode versionNotSupported(String versionType) {
    return JsonNodeFactory.instance.objectNode().put("error", "VersionNotSupported").put("versionType", versionType);
  }

  private static boolean isVersionOne(JsonNode version) {
    return version != null && version.isIntegralNumber() && version.canConvertToLong() && version.longValue() == 1;
  }

  private static JsonNode parseObject(String body) {
    JsonNode tree;
    try {
      tree = Json.mapper().readTree(body);
    } catch (JsonProcessingException e) {
      throw badRequest("the body is not valid JSON: " + e.getOriginalMessage());
    }
    if (tree == null || !tree.isObject()) {
      throw badRequest("the body must be a JSON object");
    }
    return tree;
  }

  private static String requiredText(JsonNode object, String field) {
    return requiredText(object, field, "request");
  }

  private static String requiredText(JsonNode object, String field, String where) {
    JsonNode value = object.get(field);
    if (value == null || !value.isTextual() || value.textValue().isEmpty()) {
      throw badRequest(where + "." + field + " must be a non-empty string");
    }
    return value.textValue();
  }

  private static SyncException badRequest(String message) {
    return new SyncException(ErrorCode.BAD_REQUEST, message);
  }
}
