package io.syncedstore.runtime.journal;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.exec.EnqueuedAction;
import io.syncedstore.api.store.Write;
import java.util.List;

/**
 * A mutation ran on the server and its writes were applied.
 *
 * @param clientGroupId the client's group
 * @param clientId the client
 * @param mutationId the client's mutation id
 * @param name the mutator
 * @param args its input
 * @param userId the authenticated user, or {@code null}
 * @param timestamp the client's timestamp
 * @param writes the write set, applied in order at the event's version
 * @param actions actions enqueued or scheduled by the mutator; the {@code i}-th has id
 *     {@code EnqueuedAction.id(clientId, mutationId, i)}
 * @param cancelledActions ids of scheduled actions the mutator cancelled ({@code null} in events
 *     written before scheduling existed)
 */
public record MutationApplied(
    String clientGroupId,
    String clientId,
    long mutationId,
    String name,
    JsonNode args,
    String userId,
    long timestamp,
    List<Write> writes,
    List<EnqueuedAction> actions,
    List<String> cancelledActions) implements InstanceEvent {

  /** An event that cancels nothing. */
  public MutationApplied(String clientGroupId, String clientId, long mutationId, String name, JsonNode args, String userId,
      long timestamp, List<Write> writes, List<EnqueuedAction> actions) {
    this(clientGroupId, clientId, mutationId, name, args, userId, timestamp, writes, actions, List.of());
  }
}
