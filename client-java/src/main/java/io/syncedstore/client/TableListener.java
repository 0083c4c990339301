package io.syncedstore.client;

import io.syncedstore.api.Entry;
import java.util.List;

/**
 * Receives a table's entries and what changed: see {@link SyncClient#subscribeToTable}. Called on
 * the client's callback thread.
 */
@FunctionalInterface
public interface TableListener {
  /**
   * @param entries all entries of the table now, in table order
   * @param changes what changed since the last call (the first call lists every entry as added)
   */
  void onChange(List<Entry> entries, TableChanges changes);
}
