package io.syncedstore.api;

import java.util.Objects;

/**
 * The position of an entry in its table: ordered by {@code sortKey} (empty when unused), then by
 * {@code itemKey}, both compared as Java strings (UTF-16 code units). Used as a scan cursor.
 *
 * @param sortKey the sort key, {@code ""} when the entry has none
 * @param itemKey the item key, unique within its table and tier
 */
public record EntryKey(String sortKey, String itemKey) implements Comparable<EntryKey> {
  /** Rejects nulls. */
  public EntryKey {
    Objects.requireNonNull(sortKey, "sortKey");
    Objects.requireNonNull(itemKey, "itemKey");
  }

  @Override
  public int compareTo(EntryKey o) {
    int c = sortKey.compareTo(o.sortKey);
    return c != 0 ? c : itemKey.compareTo(o.itemKey);
  }
}
