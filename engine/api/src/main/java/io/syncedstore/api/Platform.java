package io.syncedstore.api;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The server's platform services, one dispatch for all: {@code env.get}, {@code http.fetch},
 * {@code blob.put}, {@code blob.get} and any the server adds ({@code docs/ACTIONS.md} documents
 * each service's input and output). Reached through {@link ActionContext#platform()}; services are
 * pluggable, so tests replace them.
 *
 * <pre>{@code
 * JsonNode page = ctx.platform().call("http.fetch", Map.of("method", "GET", "url", "https://api.example.com/x"));
 * int status = page.get("status").asInt();
 * }</pre>
 */
public interface Platform {
  /**
   * @param service the service's name
   * @param input its input (a record, a map or a {@code JsonNode})
   * @return its output
   * @throws SyncException {@link ErrorCode#UNKNOWN_SERVICE}, {@link ErrorCode#SERVICE_REFUSED}
   *     (not allowed by the server's configuration), {@link ErrorCode#INVALID_INPUT} or
   *     {@link ErrorCode#SERVICE_FAILED}
   */
  JsonNode call(String service, Object input);

  /**
   * Like {@link #call(String, Object)}, with the output mapped to {@code outputType}.
   *
   * @param service the service's name
   * @param input its input
   * @param outputType a record matching the output
   * @return the output
   */
  default <O> O call(String service, Object input, Class<O> outputType) {
    return Values.convert(call(service, input), outputType, "output of " + service, ErrorCode.SERVICE_FAILED);
  }
}
