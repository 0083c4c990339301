package io.syncedstore.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.Values;
import java.util.Map;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;

/** JSON bodies in and out, and the mapping of {@link ErrorCode}s to HTTP statuses. */
final class JsonResponses {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(JsonResponses.class);

  private JsonResponses() {}

  /**
   * Completes with what {@code call} returns. A {@link SyncException}, thrown or failing the
   * future, becomes its error response; anything else is logged and answered {@code INTERNAL}.
   */
  static org.apache.pekko.http.javadsl.server.Route respond(
      java.util.function.Supplier<java.util.concurrent.CompletionStage<HttpResponse>> call) {
    java.util.concurrent.CompletionStage<HttpResponse> result;
    try {
      result = call.get();
    } catch (RuntimeException e) {
      result = java.util.concurrent.CompletableFuture.failedFuture(e);
    }
    return org.apache.pekko.http.javadsl.server.Directives.completeWithFuture(result.exceptionally(error -> {
      Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
          ? error.getCause() : error;
      if (!(cause instanceof SyncException) && !(cause instanceof org.apache.pekko.pattern.StatusReply.ErrorMessage)
          && !(cause instanceof java.util.concurrent.TimeoutException)) {
        LOG.error("request failed", cause); // refusals are SyncExceptions, or were logged where they were made
      }
      SyncException e = io.syncedstore.runtime.InstanceErrors.unwrap(error);
      return error(e);
    }));
  }

  /** @return a 200 response carrying {@code body} as JSON */
  static HttpResponse ok(Object body) {
    return json(StatusCodes.OK, body);
  }

  static HttpResponse json(StatusCode status, Object body) {
    try {
      return HttpResponse.create().withStatus(status)
          .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, Json.mapper().writeValueAsBytes(body)));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write a response", e);
    }
  }

  /** @return the error response for {@code e}: {@code {"error": {"code": ..., "message": ...}}} */
  static HttpResponse error(SyncException e) {
    if (e instanceof Quotas.Refused refused) {
      // 429 with Retry-After in whole seconds, and the exact wait in the body
      return json(StatusCodes.TOO_MANY_REQUESTS, Map.of("error", Map.of("code", e.code().name(), "message", e.getMessage(),
          "retryAfterMs", refused.retryAfterMs())))
          .addHeader(org.apache.pekko.http.javadsl.model.HttpHeader.parse("Retry-After",
              Long.toString((refused.retryAfterMs() + 999) / 1000)));
    }
    return error(status(e.code()), e.code(), e.getMessage());
  }

  static HttpResponse error(StatusCode status, ErrorCode code, String message) {
    return json(status, Map.of("error", Map.of("code", code.name(), "message", message)));
  }

  static StatusCode status(ErrorCode code) {
    return switch (code) {
      case NOT_FOUND, UNKNOWN_ACTION -> StatusCodes.NOT_FOUND;
      case CALL_NOT_ALLOWED, SERVICE_REFUSED -> StatusCodes.FORBIDDEN;
      case ACTION_FAILED, UNKNOWN_SERVICE -> StatusCodes.INTERNAL_SERVER_ERROR;
      case SERVICE_FAILED -> StatusCodes.BAD_GATEWAY;
      case ACTION_TIMEOUT -> StatusCodes.GATEWAY_TIMEOUT;
      case UNAUTHORIZED, TOKEN_EXPIRED -> StatusCodes.UNAUTHORIZED;
      case ORIGIN_NOT_ALLOWED, SCOPE_VIOLATION, NOT_A_MEMBER -> StatusCodes.FORBIDDEN;
      case RATE_LIMITED, TOO_MANY_CONNECTIONS -> StatusCodes.TOO_MANY_REQUESTS;
      case CLIENT_OWNED_BY_OTHER_USER -> StatusCodes.FORBIDDEN;
      case MUTATION_ID_GAP -> StatusCodes.CONFLICT;
      case OVERLOADED -> StatusCodes.SERVICE_UNAVAILABLE;
      case TIMEOUT -> StatusCodes.GATEWAY_TIMEOUT;
      case INTERNAL -> StatusCodes.INTERNAL_SERVER_ERROR;
      default -> StatusCodes.BAD_REQUEST;
    };
  }

  /**
   * Parses a request body into {@code type}; every required field must be present.
   *
   * @throws SyncException {@link ErrorCode#BAD_REQUEST} naming the problem
   */
  static <T> T parse(String body, Class<T> type) {
    JsonNode tree;
    try {
      tree = Json.mapper().readTree(body);
    } catch (JsonProcessingException e) {
      throw new SyncException(ErrorCode.BAD_REQUEST, "the body is not valid JSON: " + e.getOriginalMessage());
    }
    if (tree == null || !tree.isObject()) {
      throw new SyncException(ErrorCode.BAD_REQUEST, "the body must be a JSON object");
    }
    return Values.convert(tree, type, "request", ErrorCode.BAD_REQUEST);
  }
}
