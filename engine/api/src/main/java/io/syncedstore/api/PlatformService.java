package io.syncedstore.api;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One platform service: a name the server registers it under and this function. Runs on the
 * action's thread (which may block). Throw a {@link SyncException} to refuse with a code; anything
 * else thrown becomes {@link ErrorCode#SERVICE_FAILED}.
 */
@FunctionalInterface
public interface PlatformService {
  /**
   * @param call who calls, and the input
   * @return the output
   * @throws Exception when the service fails
   */
  JsonNode call(Call call) throws Exception;

  /**
   * A call of a service.
   *
   * @param service the service's name
   * @param app the calling app
   * @param instanceId the calling instance
   * @param userId the user the action runs for, or {@code null}
   * @param input the input, plain JSON
   */
  record Call(String service, String app, String instanceId, String userId, JsonNode input) {}
}
