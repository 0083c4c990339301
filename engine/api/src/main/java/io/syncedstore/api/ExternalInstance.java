package io.syncedstore.api;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Another instance (of this app or another), as an action reaches it through
 * {@link ActionContext#external}. Calls go through the server's instance lookup (on a cluster,
 * wherever the instance lives) and run as the calling action's user.
 */
public interface ExternalInstance {
  /**
   * Runs mutator {@code name} on that instance and returns once it is applied there. One call is
   * applied once; an action that runs again (an enqueued action after a crash) calls again, so
   * make such mutations idempotent (an id in the input).
   *
   * @param name a mutator of that instance's app
   * @param input its input
   * @throws SyncException the mutator's error, {@link ErrorCode#CALL_NOT_ALLOWED},
   *     {@link ErrorCode#NOT_FOUND} (no such app) or {@link ErrorCode#TIMEOUT}
   */
  void mutate(String name, Object input);

  /**
   * Runs action {@code name} on that instance and returns its output.
   *
   * @param name an action of that instance's app
   * @param input its input
   * @return its output
   * @throws SyncException as {@link #mutate}, or the action's error
   */
  JsonNode action(String name, Object input);
}
