package io.syncedstore.api.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.EntryKey;
import io.syncedstore.api.ScanOptions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Versions, tombstones, change tracking, pruning and export/restore of {@link EntryStore}. */
class EntryStoreTest {
  private static final JsonNodeFactory F = JsonNodeFactory.instance;
  private static final TableAddress TODOS = TableAddress.publicTable("todos");
  private static final TableAddress NOTES = TableAddress.publicTable("notes");
  private static final TableAddress PRIVATE_U1 = TableAddress.privateTable("u1", "todos");
  private static final TableAddress SERVER = TableAddress.serverOnlyTable("todos");

  /** A change as forEachChangeSince reports it, flattened so it can be compared. */
  record Change(TableAddress table, String itemKey, String sortKey, JsonNode value, long version) {
    boolean deleted() {
      return value == null;
    }
  }

  private static List<Change> changesSince(EntryStore store, long version) {
    List<Change> out = new ArrayList<>();
    store.forEachChangeSince(version, c -> out.add(new Change(c.table(), c.row().itemKey(), c.row().sortKey(), c.row().value(), c.row().version())));
    return out;
  }

  private static Set<String> refs(List<Change> changes) {
    Set<String> out = new HashSet<>();
    for (Change c : changes) {
      assertTrue(out.add(c.table().tier() + "/" + c.table().owner() + "/" + c.table().table() + "/" + c.itemKey() + "@" + c.version()
          + (c.deleted() ? " deleted" : "")), "reported twice: " + c);
    }
    return out;
  }

  private static Set<String> set(String... s) {
    return new HashSet<>(List.of(s));
  }

  private static JsonNode v(String s) {
    return F.textNode(s);
  }

  @Test
  void changesSinceReturnExactlyTheRowsAndTombstonesWrittenAfterTheVersion() {
    EntryStore store = new EntryStore();
    store.apply(Write.put(TODOS, "a", "", v("a1")), 1);
    store.apply(Write.put(TODOS, "b", "s", v("b1")), 1);
    store.apply(Write.put(NOTES, "a", "", v("n1")), 2);
    store.apply(Write.put(PRIVATE_U1, "a", "", v("p1")), 3);
    store.apply(Write.delete(TODOS, "b"), 4);
    store.apply(Write.put(SERVER, "a", "", v("s1")), 5);
    store.apply(Write.delete(TODOS, "never-existed"), 6);

    assertEquals(set("PUBLIC/null/todos/a@1", "PUBLIC/null/notes/a@2", "PRIVATE/u1/todos/a@3",
        "PUBLIC/null/todos/b@4 deleted", "SERVER_ONLY/null/todos/a@5", "PUBLIC/null/todos/never-existed@6 deleted"),
        refs(changesSince(store, 0)));
    assertEquals(set("PRIVATE/u1/todos/a@3", "PUBLIC/null/todos/b@4 deleted", "SERVER_ONLY/null/todos/a@5",
        "PUBLIC/null/todos/never-existed@6 deleted"), refs(changesSince(store, 2)));
    assertEquals(set("PUBLIC/null/todos/never-existed@6 deleted"), refs(changesSince(store, 5)));
    assertTrue(changesSince(store, 6).isEmpty());
    assertTrue(changesSince(store, 100).isEmpty());

    // oldest first, and a reported row carries its value
    List<Change> all = changesSince(store, -1);
    for (int i = 1; i < all.size(); i++) {
      assertTrue(all.get(i - 1).version() <= all.get(i).version(), "not oldest first: " + all);
    }
    Change notes = all.stream().filter(c -> c.table().equals(NOTES)).findFirst().orElseThrow();
    assertEquals(v("n1"), notes.value());

    assertEquals(4, store.liveRows());
    assertEquals(2, store.tombstones());
    assertNull(store.get(TODOS, "b"));
    assertNotNull(store.getWithTombstone(TODOS, "b"));
    assertTrue(store.getWithTombstone(TODOS, "b").isDeleted());
    assertEquals(4, store.getWithTombstone(TODOS, "b").version());
    assertNull(store.getWithTombstone(TODOS, "c"));
  }

  @Test
  void rewritingAKeyMovesItToTheNewVersion() {
    EntryStore store = new EntryStore();
    store.apply(Write.put(TODOS, "a", "1", v("a1")), 1);
    store.apply(Write.put(TODOS, "b", "2", v("b1")), 2);
    store.apply(Write.put(TODOS, "a", "3", v("a2")), 3);

    // reported once, at its new version, with its new value and sort key
    List<Change> all = changesSince(store, 0);
    assertEquals(2, all.size(), all.toString());
    assertEquals(new Change(TODOS, "b", "2", v("b1"), 2), all.get(0));
    assertEquals(new Change(TODOS, "a", "3", v("a2"), 3), all.get(1));
    assertEquals(List.of(new Change(TODOS, "a", "3", v("a2"), 3)), changesSince(store, 2));
    // version 1 has nothing left in it
    assertEquals(changesSince(store, 0), changesSince(store, 1));

    // the old position is gone from the order, the new one is there
    assertEquals(List.of(new EntryKey("2", "b"), new EntryKey("3", "a")),
        Scans.scan(store, TODOS, ScanOptions.all()).stream().map(Row::key).toList());
    assertEquals(3, store.get(TODOS, "a").version());

    // delete, then put again: the tombstone is replaced by a live row at the newest version
    store.apply(Write.delete(TODOS, "a"), 4);
    assertEquals(List.of(new Change(TODOS, "a", "", null, 4)), changesSince(store, 3));
    assertEquals(1, store.tombstones());
    assertEquals(1, store.liveRows());
    store.apply(Write.put(TODOS, "a", "0", v("a3")), 5);
    assertEquals(0, store.tombstones());
    assertEquals(2, store.liveRows());
    assertEquals(List.of(new Change(TODOS, "a", "0", v("a3"), 5)), changesSince(store, 3));
    assertEquals(List.of(new EntryKey("0", "a"), new EntryKey("2", "b")),
        Scans.scan(store, TODOS, ScanOptions.all()).stream().map(Row::key).toList());

    // deleting a tombstone again moves the tombstone, and a live row's delete takes it out of scans
    store.apply(Write.delete(TODOS, "b"), 6);
    store.apply(Write.delete(TODOS, "b"), 7);
    assertEquals(List.of(new Change(TODOS, "b", "", null, 7)), changesSince(store, 5));
    assertEquals(1, store.tombstones());
    assertEquals(List.of(new EntryKey("0", "a")), Scans.scan(store, TODOS, ScanOptions.all()).stream().map(Row::key).toList());
  }

  @Test
  void pruneTombstonesDropsOnlyTheOldestTombstonesAndRaisesTheHorizon() {
    EntryStore store = new EntryStore();
    store.apply(Write.put(TODOS, "live1", "", v("l1")), 1);
    store.apply(Write.put(TODOS, "t2", "", v("x")), 1);
    store.apply(Write.delete(TODOS, "t2"), 2);
    store.apply(Write.put(TODOS, "live2", "", v("l2")), 2);       // a live row at a version that has a tombstone
    store.apply(Write.delete(TODOS, "t4a"), 4);
    store.apply(Write.delete(NOTES, "t4b"), 4);
    store.apply(Write.delete(TODOS, "t6"), 6);
    store.apply(Write.put(TODOS, "live7", "", v("l7")), 7);
    assertEquals(0, store.horizon());
    assertEquals(4, store.tombstones());
    assertEquals(3, store.liveRows());

    store.pruneTombstones(10);
    assertEquals(0, store.horizon(), "nothing to prune");
    assertEquals(4, store.tombstones());

    // keep 2: version 2 (one tombstone) goes, 3 remain, so all of version 4 goes too (whole versions)
    store.pruneTombstones(2);
    assertEquals(4, store.horizon());
    assertEquals(1, store.tombstones());
    assertEquals(3, store.liveRows());
    assertNull(store.getWithTombstone(TODOS, "t2"));
    assertNull(store.getWithTombstone(TODOS, "t4a"));
    assertNull(store.getWithTombstone(NOTES, "t4b"));
    assertTrue(store.getWithTombstone(TODOS, "t6").isDeleted());
    assertEquals(set("PUBLIC/null/todos/live1@1", "PUBLIC/null/todos/live2@2", "PUBLIC/null/todos/t6@6 deleted",
        "PUBLIC/null/todos/live7@7"), refs(changesSince(store, 0)));
    assertEquals(List.of("live1", "live2", "live7"),
        Scans.scan(store, TODOS, ScanOptions.all()).stream().map(Row::itemKey).toList());
    // the table that only held a pruned tombstone reads as empty and can be written again
    assertTrue(Scans.scan(store, NOTES, ScanOptions.all()).isEmpty());
    store.apply(Write.put(NOTES, "n", "", v("n")), 8);
    assertEquals(v("n"), store.get(NOTES, "n").value());

    // the horizon never goes down
    store.pruneTombstones(5);
    assertEquals(4, store.horizon());
    store.pruneTombstones(0);
    assertEquals(6, store.horizon());
    assertEquals(0, store.tombstones());
    assertEquals(4, store.liveRows());
    assertEquals(set("PUBLIC/null/todos/live1@1", "PUBLIC/null/todos/live2@2", "PUBLIC/null/todos/live7@7",
        "PUBLIC/null/notes/n@8"), refs(changesSince(store, 0)));
  }

  @Test
  void aTombstoneRewrittenAsALiveRowIsNotPruned() {
    EntryStore store = new EntryStore();
    store.apply(Write.delete(TODOS, "a"), 1);
    store.apply(Write.delete(TODOS, "b"), 2);
    store.apply(Write.put(TODOS, "a", "", v("back")), 3);
    store.pruneTombstones(0);
    assertEquals(2, store.horizon());
    assertEquals(v("back"), store.get(TODOS, "a").value());
    assertEquals(List.of(new Change(TODOS, "a", "", v("back"), 3)), changesSince(store, 0));
  }

  // ---------------------------------------------------------------- export / restore

  private static EntryStore randomStore(Random r) {
    EntryStore store = new EntryStore();
    TableAddress[] tables = {TODOS, NOTES, PRIVATE_U1, TableAddress.privateTable("u2", "todos"), SERVER};
    long version = 0;
    for (int i = 0; i < 2000; i++) {
      if (r.nextInt(3) == 0) {
        version++;
      }
      TableAddress t = tables[r.nextInt(tables.length)];
      String item = "k" + r.nextInt(150);
      if (r.nextInt(4) == 0) {
        store.apply(Write.delete(t, item), version);
      } else {
        store.apply(Write.put(t, item, r.nextBoolean() ? "" : "s" + r.nextInt(20), F.objectNode().put("i", i)), version);
      }
    }
    store.pruneTombstones(store.tombstones() / 2);
    return store;
  }

  private static void assertSameStore(EntryStore expected, EntryStore actual, String msg) {
    assertEquals(expected.horizon(), actual.horizon(), msg);
    assertEquals(expected.liveRows(), actual.liveRows(), msg);
    assertEquals(expected.tombstones(), actual.tombstones(), msg);
    TableAddress[] tables = {TODOS, NOTES, PRIVATE_U1, TableAddress.privateTable("u2", "todos"), SERVER};
    for (TableAddress t : tables) {
      assertEquals(Scans.scan(expected, t, ScanOptions.all()), Scans.scan(actual, t, ScanOptions.all()), msg + " " + t);
      assertEquals(Scans.scan(expected, t, ScanOptions.all().reverse().limit(7)), Scans.scan(actual, t, ScanOptions.all().reverse().limit(7)), msg);
      assertEquals(Scans.scan(expected, t, ScanOptions.all().sortKeyPrefix("s1")), Scans.scan(actual, t, ScanOptions.all().sortKeyPrefix("s1")), msg);
      for (int k = 0; k < 150; k++) {
        assertEquals(expected.getWithTombstone(t, "k" + k), actual.getWithTombstone(t, "k" + k), msg);
      }
    }
    long maxVersion = changesSince(expected, -1).stream().mapToLong(Change::version).max().orElse(0);
    // every version around the horizon and the newest ones, and a sample of the rest
    for (long v = -1; v <= maxVersion + 1; v += (Math.abs(v - expected.horizon()) < 5 || maxVersion - v < 5) ? 1 : 17) {
      List<Change> want = changesSince(expected, v);
      List<Change> got = changesSince(actual, v);
      assertEquals(want.size(), got.size(), msg + " changes since " + v);
      assertEquals(new HashSet<>(want), new HashSet<>(got), msg + " changes since " + v);
    }
  }

  @Test
  void exportRestoreRoundTrip() {
    long seed = Long.getLong("seed", System.nanoTime());
    String msg = "seed=" + seed + " (rerun with -Dseed=" + seed + ")";
    EntryStore store = randomStore(new Random(seed));
    assertTrue(store.horizon() > 0, msg);
    assertTrue(store.tombstones() > 0, msg);

    EntryStore.Exported exported = store.export();
    assertEquals(store.liveRows() + store.tombstones(), exported.rows().size(), msg);
    EntryStore restored = EntryStore.restore(exported);
    assertSameStore(store, restored, msg);

    // both keep behaving the same: the version indexes were rebuilt, not just the rows
    Random r = new Random(seed + 1);
    long version = changesSince(store, -1).stream().mapToLong(Change::version).max().orElse(0);
    for (int i = 0; i < 300; i++) {
      version++;
      Write w = r.nextInt(3) == 0 ? Write.delete(TODOS, "k" + r.nextInt(150))
          : Write.put(TODOS, "k" + r.nextInt(150), "s" + r.nextInt(20), F.numberNode(i));
      store.apply(w, version);
      restored.apply(w, version);
    }
    store.pruneTombstones(3);
    restored.pruneTombstones(3);
    assertSameStore(store, restored, msg + " after more writes");

    // an export of the restored store is the same export
    assertEquals(new HashSet<>(store.export().rows()), new HashSet<>(restored.export().rows()), msg);
    assertEquals(store.export().horizon(), restored.export().horizon(), msg);
  }

  @Test
  void exportOfAnEmptyStore() {
    EntryStore restored = EntryStore.restore(new EntryStore().export());
    assertEquals(0, restored.horizon());
    assertEquals(0, restored.liveRows());
    assertTrue(changesSince(restored, -1).isEmpty());
  }

  @Test
  void exportIsNotChangedByLaterWrites() {
    EntryStore store = new EntryStore();
    store.apply(Write.put(TODOS, "a", "", v("a1")), 1);
    store.apply(Write.delete(TODOS, "b"), 2);
    EntryStore.Exported exported = store.export();
    store.apply(Write.put(TODOS, "a", "", v("a2")), 3);
    store.apply(Write.put(TODOS, "b", "", v("b")), 4);
    store.pruneTombstones(0);
    Map<String, EntryStore.StoredRow> rows = new HashMap<>();
    exported.rows().forEach(row -> rows.put(row.write().itemKey(), row));
    assertEquals(2, rows.size());
    assertEquals(v("a1"), rows.get("a").write().value());
    assertEquals(1, rows.get("a").version());
    assertTrue(rows.get("b").write().isDelete());
    assertEquals(0, exported.horizon());
  }

  /**
   * Regression: export() promises "a copy of this store that shares nothing mutable with it", so
   * changing a value in an exported snapshot must not change the store.
   */
  @Test
  void exportSharesNoMutableValueWithTheStore() {
    EntryStore store = new EntryStore();
    ObjectNode value = F.objectNode().put("text", "original");
    store.apply(Write.put(TODOS, "a", "", value), 1);
    EntryStore.Exported exported = store.export();
    ((ObjectNode) exported.rows().get(0).write().value()).put("text", "changed in the snapshot");
    assertEquals("original", store.get(TODOS, "a").value().get("text").asText(),
        "mutating the exported value changed the live store");
  }
}
