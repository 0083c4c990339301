package io.syncedstore.client;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.ErrorCode;

/**
 * A pending mutation that the server ran and failed: it wrote nothing there, and the client has
 * dropped its optimistic writes.
 *
 * @param id the mutation id
 * @param name the mutator
 * @param args its input
 * @param code the server's error code
 * @param message the server's message
 */
public record MutationFailure(long id, String name, JsonNode args, ErrorCode code, String message) {}
