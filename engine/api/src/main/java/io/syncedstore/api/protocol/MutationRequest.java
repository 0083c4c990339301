package io.syncedstore.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One mutation as a client pushes it.
 *
 * @param id the client's mutation id: 1, 2, 3...
 * @param name the mutator
 * @param args its input
 * @param timestamp the client's clock when the mutation was made, epoch milliseconds
 */
public record MutationRequest(long id, String name, JsonNode args, long timestamp) {}
