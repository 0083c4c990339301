package io.syncedstore.api.store;

import io.syncedstore.api.EntryKey;
import java.util.Iterator;

/** Read access to ordered tables: the store itself, or an {@link Overlay} of pending writes on top of it. */
public interface StoreView {
  /**
   * @return the live row for {@code itemKey}, or {@code null} when absent or deleted
   */
  Row get(TableAddress table, String itemKey);

  /**
   * Iterates live rows in {@link EntryKey} order.
   *
   * @param table the table
   * @param from where to start; {@code null} for the first (or, descending, the last) row
   * @param inclusive whether a row at exactly {@code from} is included
   * @param descending whether to walk from high keys to low
   */
  Iterator<Row> iterate(TableAddress table, EntryKey from, boolean inclusive, boolean descending);
}
