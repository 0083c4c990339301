package io.syncedstore.api.store;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.Entry;
import io.syncedstore.api.EntryKey;

/**
 * An entry as the store keeps it: keys, value (or {@code null} for a tombstone) and the instance
 * version that last wrote it ({@code -1} while only in an {@link Overlay}). The value is shared
 * with the store and must not be modified.
 *
 * @param sortKey the sort key
 * @param itemKey the item key
 * @param value the value, {@code null} when deleted
 * @param version the version that wrote it
 */
public record Row(String sortKey, String itemKey, JsonNode value, long version) {
  /** @return the position of this row */
  public EntryKey key() {
    return new EntryKey(sortKey, itemKey);
  }

  /** @return whether this row is a tombstone */
  public boolean isDeleted() {
    return value == null;
  }

  /** @return an {@link Entry} with a private copy of the value, for app code */
  public Entry toEntry() {
    return new Entry(sortKey, itemKey, value.deepCopy());
  }
}
