package io.syncedstore.api.exec;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * An action a mutator asked to run after commit. Persisted with the mutation's event.
 *
 * @param name the action name
 * @param input its input as JSON
 */
public record EnqueuedAction(String name, JsonNode input) {}
