package io.syncedstore.api.store;

import io.syncedstore.api.EntryKey;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.NoSuchElementException;
import java.util.TreeMap;

/**
 * Pending writes on top of a {@link StoreView}: a mutation runs against an overlay, so its reads
 * see its own writes and a failure discards everything by dropping the overlay. Overlays stack
 * (a mutation over the batch it is part of).
 */
public final class Overlay implements StoreView {
  private static final class TableWrites {
    final Map<String, Write> byItem = new LinkedHashMap<>();
    final TreeMap<EntryKey, Row> puts = new TreeMap<>();
  }

  private final StoreView parent;
  private final Map<TableAddress, TableWrites> tables = new LinkedHashMap<>();
  /** Every entry's latest write, in the order entries were first written (re-putting a key keeps its place). */
  private final Map<RowRef, Write> order = new LinkedHashMap<>();

  /** @param parent what this overlay's writes sit on */
  public Overlay(StoreView parent) {
    this.parent = parent;
  }

  /** Records {@code write}, replacing any earlier write of the same entry in this overlay. */
  public void write(Write write) {
    TableAddress address = write.address();
    TableWrites t = tables.computeIfAbsent(address, a -> new TableWrites());
    Write previous = t.byItem.put(write.itemKey(), write);
    if (previous != null && !previous.isDelete()) {
      t.puts.remove(new EntryKey(previous.sortKey(), previous.itemKey()));
    }
    order.put(new RowRef(address, write.itemKey()), write);
    if (!write.isDelete()) {
      t.puts.put(new EntryKey(write.sortKey(), write.itemKey()), new Row(write.sortKey(), write.itemKey(), write.value(), -1));
    }
  }

  /** @return whether this overlay holds a write of the entry */
  public boolean touches(TableAddress table, String itemKey) {
    TableWrites t = tables.get(table);
    return t != null && t.byItem.containsKey(itemKey);
  }

  /** @return the number of distinct entries written */
  public int writeCount() {
    return order.size();
  }

  /** @return the writes, one per entry, in the order entries were first written */
  public List<Write> writes() {
    return new ArrayList<>(order.values());
  }

  @Override
  public Row get(TableAddress table, String itemKey) {
    TableWrites t = tables.get(table);
    if (t != null) {
      Write w = t.byItem.get(itemKey);
      if (w != null) {
        return w.isDelete() ? null : new Row(w.sortKey(), w.itemKey(), w.value(), -1);
      }
    }
    return parent.get(table, itemKey);
  }

  @Override
  public Iterator<Row> iterate(TableAddress table, EntryKey from, boolean inclusive, boolean descending) {
    TableWrites t = tables.get(table);
    Iterator<Row> base = parent.iterate(table, from, inclusive, descending);
    if (t == null) {
      return base;
    }
    NavigableMap<EntryKey, Row> puts;
    if (from == null) {
      puts = descending ? t.puts.descendingMap() : t.puts;
    } else {
      puts = descending ? t.puts.headMap(from, inclusive).descendingMap() : t.puts.tailMap(from, inclusive);
    }
    return new MergeIterator(filter(base, t), puts.values().iterator(), descending);
  }

  /** Drops the parent's rows that this overlay rewrote or deleted. */
  private static Iterator<Row> filter(Iterator<Row> base, TableWrites t) {
    return new Iterator<>() {
      private Row next = advance();

      private Row advance() {
        while (base.hasNext()) {
          Row r = base.next();
          if (!t.byItem.containsKey(r.itemKey())) {
            return r;
          }
        }
        return null;
      }

      @Override
      public boolean hasNext() {
        return next != null;
      }

      @Override
      public Row next() {
        if (next == null) {
          throw new NoSuchElementException();
        }
        Row r = next;
        next = advance();
        return r;
      }
    };
  }

  /** Merges two iterators sorted the same way; they never hold the same item key. */
  private static final class MergeIterator implements Iterator<Row> {
    private final Iterator<Row> a;
    private final Iterator<Row> b;
    private final boolean descending;
    private Row nextA;
    private Row nextB;

    MergeIterator(Iterator<Row> a, Iterator<Row> b, boolean descending) {
      this.a = a;
      this.b = b;
      this.descending = descending;
      nextA = a.hasNext() ? a.next() : null;
      nextB = b.hasNext() ? b.next() : null;
    }

    @Override
    public boolean hasNext() {
      return nextA != null || nextB != null;
    }

    @Override
    public Row next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      boolean takeA;
      if (nextA == null) {
        takeA = false;
      } else if (nextB == null) {
        takeA = true;
      } else {
        int c = nextA.key().compareTo(nextB.key());
        takeA = descending ? c > 0 : c < 0;
      }
      Row r;
      if (takeA) {
        r = nextA;
        nextA = a.hasNext() ? a.next() : null;
      } else {
        r = nextB;
        nextB = b.hasNext() ? b.next() : null;
      }
      return r;
    }
  }
}
