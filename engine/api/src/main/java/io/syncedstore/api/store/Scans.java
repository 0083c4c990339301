package io.syncedstore.api.store;

import io.syncedstore.api.EntryKey;
import io.syncedstore.api.ScanOptions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

/**
 * The one implementation of scan semantics, over any {@link StoreView}: the server's store, a
 * mutation's overlay, and the client's replica all scan through here, so they agree exactly.
 */
public final class Scans {
  private Scans() {}

  /** @return the rows {@code options} select from {@code table}, in ascending key order */
  public static List<Row> scan(StoreView view, TableAddress table, ScanOptions options) {
    int limit = options.limit();
    if (limit == 0 || (options.isCursorAtEnd() && !options.isReverse())) {
      return List.of();
    }
    String prefix = options.prefix();
    boolean sortPrefix = prefix != null && options.prefixOn() == ScanOptions.PrefixOn.SORT_KEY;
    boolean itemPrefix = prefix != null && options.prefixOn() == ScanOptions.PrefixOn.ITEM_KEY;
    boolean descending = options.isReverse();

    // Where to start: the cursor (exclusive) or the edge of the sort-key prefix range, whichever is further in.
    EntryKey from = null;
    boolean inclusive = false;
    if (sortPrefix) {
      if (!descending) {
        from = new EntryKey(prefix, "");
        inclusive = true;
      } else {
        String end = prefixEnd(prefix);
        if (end != null) {
          from = new EntryKey(end, "");
        }
      }
    }
    EntryKey cursor = options.isCursorAtEnd() ? null : options.cursor();
    if (cursor != null && (from == null || (descending ? cursor.compareTo(from) < 0 : cursor.compareTo(from) >= 0))) {
      from = cursor;
      inclusive = false;
    }

    List<Row> out = new ArrayList<>(limit > 0 ? Math.min(limit, 64) : 16);
    Iterator<Row> it = view.iterate(table, from, inclusive, descending);
    while (it.hasNext()) {
      Row row = it.next();
      if (sortPrefix && !row.sortKey().startsWith(prefix)) {
        break; // left the range
      }
      if (itemPrefix && !row.itemKey().startsWith(prefix)) {
        continue;
      }
      out.add(row);
      if (limit > 0 && out.size() == limit) {
        break;
      }
    }
    if (descending) {
      Collections.reverse(out);
    }
    return out;
  }

  /** The smallest string greater than every string starting with {@code prefix}, or {@code null} if none. */
  static String prefixEnd(String prefix) {
    int i = prefix.length();
    while (i > 0 && prefix.charAt(i - 1) == Character.MAX_VALUE) {
      i--;
    }
    if (i == 0) {
      return null;
    }
    return prefix.substring(0, i - 1) + (char) (prefix.charAt(i - 1) + 1);
  }
}
