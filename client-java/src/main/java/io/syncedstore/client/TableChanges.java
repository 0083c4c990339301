package io.syncedstore.client;

import io.syncedstore.api.Entry;
import java.util.List;

/**
 * What changed in a table between two calls of a {@link TableListener}, each list in table order.
 *
 * @param added entries that were not there before
 * @param modified entries whose value or sort key changed, as they are now
 * @param removed entries that are gone, as they were
 */
public record TableChanges(List<Entry> added, List<Entry> modified, List<Entry> removed) {
  /** Copies the lists. */
  public TableChanges {
    added = List.copyOf(added);
    modified = List.copyOf(modified);
    removed = List.copyOf(removed);
  }

  /** @return whether nothing changed */
  public boolean isEmpty() {
    return added.isEmpty() && modified.isEmpty() && removed.isEmpty();
  }
}
