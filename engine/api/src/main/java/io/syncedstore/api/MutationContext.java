package io.syncedstore.api;

import java.util.Optional;

/**
 * What a {@link Mutator} sees: the tables of every tier, who is calling, and whether this run is
 * the authoritative one on the server.
 */
public interface MutationContext {
  /**
   * @return public table {@code name}. Never shows private rows, not even the caller's own.
   * @throws SyncException {@link ErrorCode#UNKNOWN_TABLE} when the app does not declare it
   */
  Table table(String name);

  /**
   * @param userId whose private tier; on the server a mutator may read any user's private
   *     tables but write only the caller's
   * @return the private tier of {@code userId}
   */
  TierTables privateOfUser(String userId);

  /** @return the server-only tier: empty on the client, where writes to it are dropped */
  TierTables serverOnly();

  /** @return the signed-in user who pushed this mutation, or empty for an anonymous client */
  Optional<String> userId();

  /** @return the client that pushed this mutation */
  String clientId();

  /** @return the client's timestamp for the mutation, in epoch milliseconds (the same on every run) */
  long timestamp();

  /** @return {@code true} on the server's authoritative run, {@code false} on the client */
  boolean isServer();

  /**
   * Asks the server to run action {@code name} with {@code input} once this mutation is
   * committed. A no-op on the client.
   */
  void enqueueAction(String name, Object input);
}
