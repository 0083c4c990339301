package io.syncedstore.client;

import io.syncedstore.api.ReadTable;

/** The read-only tables of one tier, as {@link ReadTransaction#privateOfUser} returns them. */
public interface ReadTierTables {
  /**
   * @param name a table of the app
   * @return its rows in this tier
   * @throws io.syncedstore.api.SyncException {@code UNKNOWN_TABLE} when the app has no such table
   */
  ReadTable table(String name);
}
