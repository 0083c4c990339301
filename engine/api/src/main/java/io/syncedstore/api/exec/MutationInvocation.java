package io.syncedstore.api.exec;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One mutation to run: who sent it and what it asks for.
 *
 * @param clientId the pushing client
 * @param mutationId its per-client id
 * @param name the mutator name
 * @param args the raw JSON input, validated by the executor
 * @param userId the authenticated user, or {@code null} for anonymous
 * @param timestamp the client's timestamp, epoch milliseconds
 */
public record MutationInvocation(String clientId, long mutationId, String name, JsonNode args, String userId, long timestamp) {
  /** The client id of the server's own mutations (actions' {@code ctx.mutate}, the membership API); clients cannot use it. */
  public static final String SERVER_CLIENT = "$server";
}
