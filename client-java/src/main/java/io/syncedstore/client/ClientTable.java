package io.syncedstore.client;

import io.syncedstore.api.Entry;
import io.syncedstore.api.EntryKey;
import io.syncedstore.api.ReadTable;
import io.syncedstore.api.ScanOptions;
import java.util.List;

/** A table of the client's local view: the engine's reads, plus windows around a cursor. */
public interface ClientTable extends ReadTable {
  /**
   * A window of the table around a position, for lists that keep a selected or visible row in
   * place while rows arrive above and below it.
   *
   * @param cursor the position; the entry need not exist
   * @param before at most this many entries before {@code cursor}
   * @param after at most this many entries after {@code cursor}
   * @return in table order: up to {@code before} entries before the cursor, the entry at the
   *     cursor when it exists, then up to {@code after} entries after it
   */
  default List<Entry> aroundCursor(EntryKey cursor, int before, int after) {
    return aroundCursor(ScanOptions.all(), cursor, before, after);
  }

  /**
   * Like {@link #aroundCursor(EntryKey, int, int)} within the prefix of {@code options}; its
   * limit, cursor and direction are ignored.
   *
   * @param options the prefix to stay within
   * @param cursor the position
   * @param before at most this many entries before {@code cursor}
   * @param after at most this many entries after {@code cursor}
   * @return the window, in table order
   */
  List<Entry> aroundCursor(ScanOptions options, EntryKey cursor, int before, int after);
}
