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
 * @param actions actions enqueued by the mutator, to run after commit
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
    List<EnqueuedAction> actions) implements InstanceEvent {}
