package io.syncedstore.api.store;

import io.syncedstore.api.EntryKey;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * The ordered entry store: every table of every tier, each row stamped with the version that last
 * wrote it, deletes kept as tombstones until pruned. Answers "what changed since version V"
 * from an index of versions, without replaying any log.
 *
 * <p>Mutable and not thread-safe: it belongs to one instance actor (or one client), which is its
 * only writer and reader. {@link #export()} produces an immutable copy for snapshots.
 */
public final class EntryStore implements StoreView {
  private static final class TableData {
    final Map<String, Row> byItem = new HashMap<>();
    final TreeMap<EntryKey, Row> ordered = new TreeMap<>();
  }

  /**
   * Tables, and rows changed at one version, in a fixed order (tier, owner, table, item key), so
   * that a patch is the same list on every run and after a restore from a snapshot. ({@link io.syncedstore.api.Tier}
   * is an enum, whose hash codes differ from one JVM run to the next.)
   */
  private static final Comparator<TableAddress> TABLE_ORDER = Comparator.comparing(TableAddress::tier)
      .thenComparing(TableAddress::owner, Comparator.nullsFirst(Comparator.naturalOrder()))
      .thenComparing(TableAddress::table);
  private static final Comparator<RowRef> ROW_ORDER = Comparator.comparing(RowRef::table, TABLE_ORDER)
      .thenComparing(RowRef::itemKey);

  private final Map<TableAddress, TableData> tables = new TreeMap<>(TABLE_ORDER);
  /** version -> rows (live or tombstone) last written at that version. */
  private final TreeMap<Long, Set<RowRef>> changes = new TreeMap<>();
  /** version -> tombstones written at that version. */
  private final TreeMap<Long, Set<RowRef>> tombstonesByVersion = new TreeMap<>();
  private int liveRows;
  private int tombstones;
  private long horizon;

  @Override
  public Row get(TableAddress table, String itemKey) {
    TableData data = tables.get(table);
    if (data == null) {
      return null;
    }
    Row row = data.byItem.get(itemKey);
    return row == null || row.isDeleted() ? null : row;
  }

  /** @return the row for {@code itemKey} including a tombstone, or {@code null} */
  public Row getWithTombstone(TableAddress table, String itemKey) {
    TableData data = tables.get(table);
    return data == null ? null : data.byItem.get(itemKey);
  }

  @Override
  public Iterator<Row> iterate(TableAddress table, EntryKey from, boolean inclusive, boolean descending) {
    TableData data = tables.get(table);
    if (data == null) {
      return Collections.emptyIterator();
    }
    NavigableMap<EntryKey, Row> view;
    if (from == null) {
      view = descending ? data.ordered.descendingMap() : data.ordered;
    } else {
      view = descending ? data.ordered.headMap(from, inclusive).descendingMap() : data.ordered.tailMap(from, inclusive);
    }
    return view.values().iterator();
  }

  /** Applies {@code write} as part of {@code version}. Versions must not decrease. */
  public void apply(Write write, long version) {
    TableAddress address = write.address();
    TableData data = tables.computeIfAbsent(address, a -> new TableData());
    Row old = data.byItem.get(write.itemKey());
    RowRef ref = new RowRef(address, write.itemKey());
    if (old != null) {
      unindexVersion(changes, old.version(), ref);
      if (old.isDeleted()) {
        unindexVersion(tombstonesByVersion, old.version(), ref);
        tombstones--;
      } else {
        data.ordered.remove(old.key());
        liveRows--;
      }
    }
    Row row = new Row(write.isDelete() ? "" : write.sortKey(), write.itemKey(), write.value(), version);
    data.byItem.put(row.itemKey(), row);
    changes.computeIfAbsent(version, v -> new TreeSet<>(ROW_ORDER)).add(ref);
    if (row.isDeleted()) {
      tombstonesByVersion.computeIfAbsent(version, v -> new TreeSet<>(ROW_ORDER)).add(ref);
      tombstones++;
    } else {
      data.ordered.put(row.key(), row);
      liveRows++;
    }
  }

  private static void unindexVersion(TreeMap<Long, Set<RowRef>> index, long version, RowRef ref) {
    Set<RowRef> refs = index.get(version);
    if (refs != null && refs.remove(ref) && refs.isEmpty()) {
      index.remove(version);
    }
  }

  /**
   * Drops the oldest tombstones, whole versions at a time, until at most {@code keep} remain,
   * and moves the horizon up to the newest version dropped.
   */
  public void pruneTombstones(int keep) {
    while (tombstones > keep && !tombstonesByVersion.isEmpty()) {
      Map.Entry<Long, Set<RowRef>> oldest = tombstonesByVersion.pollFirstEntry();
      for (RowRef ref : oldest.getValue()) {
        TableData data = tables.get(ref.table());
        data.byItem.remove(ref.itemKey());
        unindexVersion(changes, oldest.getKey(), ref);
        tombstones--;
        if (data.byItem.isEmpty()) {
          tables.remove(ref.table());
        }
      }
      horizon = Math.max(horizon, oldest.getKey());
    }
  }

  /**
   * The version up to which tombstones may be missing: a reader at a version below this cannot
   * get a correct patch and must start from a clear.
   */
  public long horizon() {
    return horizon;
  }

  /** Calls {@code consumer} for every row and tombstone written after {@code version}, oldest first. */
  public void forEachChangeSince(long version, Consumer<RowChange> consumer) {
    for (Set<RowRef> refs : changes.tailMap(version, false).values()) {
      for (RowRef ref : refs) {
        consumer.accept(new RowChange(ref.table(), tables.get(ref.table()).byItem.get(ref.itemKey())));
      }
    }
  }

  /** Calls {@code consumer} for every live row, table by table in key order. */
  public void forEachLive(Consumer<RowChange> consumer) {
    for (Map.Entry<TableAddress, TableData> table : tables.entrySet()) {
      for (Row row : table.getValue().ordered.values()) {
        consumer.accept(new RowChange(table.getKey(), row));
      }
    }
  }

  /** @return the number of live rows */
  public int liveRows() {
    return liveRows;
  }

  /** @return the number of tombstones kept */
  public int tombstones() {
    return tombstones;
  }

  /**
   * A row (or tombstone) together with its table.
   *
   * @param table the table
   * @param row the row
   */
  public record RowChange(TableAddress table, Row row) {}

  /**
   * An immutable copy of the whole store, for a snapshot.
   *
   * @param horizon the tombstone horizon
   * @param rows every live row and tombstone
   */
  public record Exported(long horizon, List<StoredRow> rows) {}

  /**
   * One row of an {@link Exported} store.
   *
   * @param write the row as a write (value {@code null} for a tombstone)
   * @param version the version that wrote it
   */
  public record StoredRow(Write write, long version) {}

  /** @return a copy of this store that shares nothing mutable with it */
  public Exported export() {
    List<StoredRow> rows = new java.util.ArrayList<>(liveRows + tombstones);
    for (Map.Entry<TableAddress, TableData> table : tables.entrySet()) {
      for (Row row : table.getValue().byItem.values()) {
        rows.add(new StoredRow(row.isDeleted()
            ? Write.delete(table.getKey(), row.itemKey())
            : Write.put(table.getKey(), row.itemKey(), row.sortKey(), row.value().deepCopy()), row.version()));
      }
    }
    return new Exported(horizon, List.copyOf(rows));
  }

  /** @return a store holding exactly what {@code exported} holds */
  public static EntryStore restore(Exported exported) {
    EntryStore store = new EntryStore();
    for (StoredRow row : exported.rows()) {
      store.apply(row.write(), row.version());
    }
    store.horizon = exported.horizon();
    return store;
  }
}
