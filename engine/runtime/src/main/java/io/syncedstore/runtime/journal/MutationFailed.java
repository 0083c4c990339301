package io.syncedstore.runtime.journal;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.ErrorCode;

/**
 * A mutation was processed but failed (unknown mutator, invalid input, a limit, or the mutator
 * threw): nothing was written, but the client's last mutation id advanced past it.
 *
 * @param clientGroupId the client's group
 * @param clientId the client
 * @param mutationId the client's mutation id
 * @param name the mutator
 * @param args its input
 * @param userId the authenticated user, or {@code null}
 * @param timestamp the client's timestamp
 * @param code why it failed
 * @param message the error message sent to the client
 */
public record MutationFailed(
    String clientGroupId,
    String clientId,
    long mutationId,
    String name,
    JsonNode args,
    String userId,
    long timestamp,
    ErrorCode code,
    String message) implements InstanceEvent {}
