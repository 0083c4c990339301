package io.syncedstore.runtime.journal;

import io.syncedstore.api.ErrorCode;

/**
 * An action a mutation enqueued or scheduled finished (or was given up): it is not run again.
 * Does not change the instance's version (clients see nothing of it).
 *
 * @param actionId the action's id ({@code EnqueuedAction.id})
 * @param code {@code null} when it succeeded, else why it failed ({@code ACTION_FAILED},
 *     {@code ACTION_TIMEOUT}...); a failed action is not retried
 * @param message the failure's message, or {@code null}
 */
public record ActionCompleted(String actionId, ErrorCode code, String message) implements InstanceEvent {}
