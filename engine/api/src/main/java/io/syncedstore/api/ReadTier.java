package io.syncedstore.api;

/** The read-only tables of one tier, as {@link ActionContext#privateOfUser} and {@link ActionContext#serverOnly} return them. */
@FunctionalInterface
public interface ReadTier {
  /**
   * @param name a table of the app
   * @return the table in this tier
   * @throws SyncException {@link ErrorCode#UNKNOWN_TABLE} when the app does not declare it
   */
  ReadTable table(String name);
}
