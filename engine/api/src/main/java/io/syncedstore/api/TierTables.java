package io.syncedstore.api;

/** The tables of one tier: {@code ctx.privateOfUser(u)} or {@code ctx.serverOnly()}. */
public interface TierTables {
  /**
   * @return table {@code name} in this tier
   * @throws SyncException {@link ErrorCode#UNKNOWN_TABLE} when the app does not declare it
   */
  Table table(String name);
}
