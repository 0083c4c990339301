package io.syncedstore.api;

/**
 * The tables as an action's caller sees them ({@link ActionContext#callerView()}): public rows
 * within the caller's sync scopes and the caller's own private rows, never server-only rows or
 * other users' private rows. Actions are server code and may read anything through
 * {@link ActionContext#table}; reading through this view instead keeps what an action returns
 * to what its caller may see anyway.
 */
public interface CallerView {
  /**
   * @param name a table of the app
   * @return the public table, filtered by the caller's scopes (empty for a table outside them)
   */
  ReadTable table(String name);

  /**
   * @param name a table of the app
   * @return the caller's own private table, filtered by the caller's scopes
   * @throws SyncException {@link ErrorCode#TIER_VIOLATION} for an anonymous caller without a user id
   */
  ReadTable privateTable(String name);
}
