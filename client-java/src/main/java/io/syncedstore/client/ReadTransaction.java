package io.syncedstore.client;

import java.util.Optional;

/**
 * A read-only view of the client's local state: the last confirmed server state with the
 * pending mutations applied on top. Valid only during the call that received it.
 */
public interface ReadTransaction {
  /**
   * @param name a table of the app
   * @return the public table
   * @throws io.syncedstore.api.SyncException {@code UNKNOWN_TABLE} when the app has no such table
   */
  ClientTable table(String name);

  /**
   * @param userId the user whose private rows to read; a client holds only its own user's
   * @return that user's private tables
   */
  ReadTierTables privateOfUser(String userId);

  /** @return the signed-in user as the server last reported it; empty when anonymous or never connected */
  Optional<String> userId();
}
