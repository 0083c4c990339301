package io.syncedstore.client;

/** The read-only tables of one tier, as {@link ReadTransaction#privateOfUser} returns them. */
@FunctionalInterface
public interface ReadTierTables {
  /**
   * @param name a table of the app
   * @return its rows in this tier
   * @throws io.syncedstore.api.SyncException {@code UNKNOWN_TABLE} when the app has no such table
   */
  ClientTable table(String name);
}
