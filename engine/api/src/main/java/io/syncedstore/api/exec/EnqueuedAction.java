package io.syncedstore.api.exec;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * An action a mutator asked to run after commit ({@code enqueueAction}) or later
 * ({@code scheduleAction}). Persisted with the mutation's event; its id is derived from the
 * event (see {@link #id}).
 *
 * @param name the action name
 * @param input its input as JSON
 * @param runAt when to run it, epoch milliseconds of the server's clock; 0 (and in events written
 *     before scheduling existed) means right after commit
 */
public record EnqueuedAction(String name, JsonNode input, long runAt) {
  /** An action to run right after commit. */
  public EnqueuedAction(String name, JsonNode input) {
    this(name, input, 0);
  }

  /**
   * The id of the {@code index}-th action (counting from 0) that mutation {@code mutationId} of
   * {@code clientId} enqueued or scheduled: the same on every run of the mutator, so a mutator can
   * store it and a later mutation can cancel it.
   *
   * @param clientId the client
   * @param mutationId the mutation
   * @param index which of its actions
   * @return the id
   */
  public static String id(String clientId, long mutationId, int index) {
    return clientId + "/" + mutationId + "/" + index;
  }
}
