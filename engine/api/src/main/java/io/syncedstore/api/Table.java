package io.syncedstore.api;

/**
 * Reads and writes of one table in one tier, inside a mutation. Writes are checked at once
 * against the table's declared type and the app's {@link Limits}; a violation throws
 * {@link SyncException} and, unless the mutator catches it, fails the whole mutation.
 */
public interface Table extends ReadTable {
  /** Puts {@code value} (a record, JSON tree, string, number or boolean) under {@code itemKey} with no sort key. */
  void set(String itemKey, Object value);

  /** Puts {@code value} under {@code itemKey}, ordered by {@code sortKey}. */
  void set(String itemKey, String sortKey, Object value);

  /** Deletes {@code itemKey}; deleting an absent key is not an error. */
  void delete(String itemKey);
}
