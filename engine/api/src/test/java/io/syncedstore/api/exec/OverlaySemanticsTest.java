package io.syncedstore.api.exec;

import static io.syncedstore.api.exec.ExecSupport.F;
import static io.syncedstore.api.exec.ExecSupport.applied;
import static io.syncedstore.api.exec.ExecSupport.failed;
import static io.syncedstore.api.exec.ExecSupport.invocation;
import static io.syncedstore.api.exec.ExecSupport.snapshot;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Entry;
import io.syncedstore.api.EntryKey;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.MutationContext;
import io.syncedstore.api.ScanOptions;
import io.syncedstore.api.Table;
import io.syncedstore.api.store.EntryStore;
import io.syncedstore.api.store.Overlay;
import io.syncedstore.api.store.Row;
import io.syncedstore.api.store.Scans;
import io.syncedstore.api.store.TableAddress;
import io.syncedstore.api.store.Write;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A mutation reads its own writes: through {@link MutationExecutor}, and on {@link Overlay} directly. */
class OverlaySemanticsTest {
  private static final TableAddress ITEMS = TableAddress.publicTable("items");
  private static final TableAddress OTHER = TableAddress.publicTable("other");

  private final AtomicReference<Consumer<MutationContext>> body = new AtomicReference<>();
  private MutationExecutor executor;
  private EntryStore store;

  @BeforeEach
  void setUp() {
    AppDefinition app = AppDefinition.builder("overlay")
        .table("items", JsonNode.class)
        .table("other", JsonNode.class)
        .mutator("run", JsonNode.class, (ctx, in) -> body.get().accept(ctx))
        .mutator("boom", JsonNode.class, (ctx, in) -> {
          body.get().accept(ctx);
          throw new IllegalStateException("boom after writing");
        })
        .build();
    executor = new MutationExecutor(app, true);
    store = new EntryStore();
    store.apply(Write.put(ITEMS, "a", "2", F.textNode("a")), 1);
    store.apply(Write.put(ITEMS, "b", "4", F.textNode("b")), 1);
    store.apply(Write.put(ITEMS, "c", "6", F.textNode("c")), 2);
  }

  private MutationOutcome run(Consumer<MutationContext> mutator) {
    body.set(mutator);
    return executor.run(store, invocation("run", F.objectNode(), "u1"));
  }

  private static List<String> keys(List<Entry> entries) {
    return entries.stream().map(Entry::itemKey).toList();
  }

  @Test
  void aMutationReadsItsOwnWrites() {
    Set<Object> before = snapshot(store);
    MutationOutcome outcome = run(ctx -> {
      Table items = ctx.table("items");
      assertEquals(List.of("a", "b", "c"), items.keys());

      // get after set
      items.set("d", "3", F.objectNode().put("v", 1));
      assertEquals(Optional.of(F.objectNode().put("v", 1)), items.get("d"));
      assertTrue(items.has("d"));
      // scan sees it in order
      assertEquals(List.of("a", "d", "b", "c"), items.keys());
      assertEquals(List.of("d", "b"), keys(items.scan(ScanOptions.all().cursor(new EntryKey("2", "a")).limit(2))));
      assertEquals(new EntryKey("3", "d"), items.scan(ScanOptions.all().sortKeyPrefix("3")).get(0).key());

      // a later set of the same key wins
      items.set("d", "3", F.objectNode().put("v", 2));
      assertEquals(2, items.get("d").orElseThrow().get("v").asInt());
      assertEquals(List.of("a", "d", "b", "c"), items.keys());

      // delete hides a base row
      items.delete("b");
      assertTrue(items.get("b").isEmpty());
      assertFalse(items.has("b"));
      assertEquals(List.of("a", "d", "c"), items.keys());
      assertTrue(items.scan(ScanOptions.all().sortKeyPrefix("4")).isEmpty());
      assertEquals(List.of("d", "c"), keys(items.scan(ScanOptions.all().reverse().limit(2))));

      // set with a new sort key moves the entry: it is found at the new position only
      items.set("a", "9", F.textNode("a moved"));
      assertEquals(List.of("d", "c", "a"), items.keys());
      assertEquals(List.of(new EntryKey("3", "d"), new EntryKey("6", "c"), new EntryKey("9", "a")),
          items.entries().stream().map(Entry::key).toList());
      assertTrue(items.scan(ScanOptions.all().sortKeyPrefix("2")).isEmpty());
      assertEquals(List.of("a"), keys(items.scan(ScanOptions.all().reverse().limit(1))));
      assertEquals(List.of("d", "c"), keys(items.scan(ScanOptions.all().reverse().cursor(new EntryKey("9", "a")))));
      assertEquals(Optional.of(F.textNode("a moved")), items.get("a"));

      // a deleted base row can be written again
      items.set("b", "1", F.textNode("b again"));
      assertEquals(List.of("b", "d", "c", "a"), items.keys());

      // put then delete of a new key leaves nothing visible
      items.set("e", "5", F.textNode("e"));
      items.delete("e");
      assertFalse(items.has("e"));
      assertEquals(List.of("b", "d", "c", "a"), items.keys());

      // other tables are not affected
      assertTrue(ctx.table("other").entries().isEmpty());
    });

    // one write per entry touched, holding its last state
    List<Write> writes = applied(outcome).writes();
    assertEquals(4, writes.size(), writes.toString());
    assertTrue(writes.contains(Write.put(ITEMS, "d", "3", F.objectNode().put("v", 2))));
    assertTrue(writes.contains(Write.put(ITEMS, "a", "9", F.textNode("a moved"))));
    assertTrue(writes.contains(Write.put(ITEMS, "b", "1", F.textNode("b again"))));
    assertTrue(writes.contains(Write.delete(ITEMS, "e")));
    // the executor never changes the store it runs on
    assertEquals(before, snapshot(store));

    // applying the writes gives the table the mutation saw
    for (Write w : writes) {
      store.apply(w, 3);
    }
    assertEquals(List.of("b", "d", "c", "a"), Scans.scan(store, ITEMS, ScanOptions.all()).stream().map(Row::itemKey).toList());
  }

  @Test
  void valuesReadAndWrittenAreCopies() {
    Set<Object> before = snapshot(store);
    ObjectNode mine = F.objectNode().put("v", 1);
    MutationOutcome outcome = run(ctx -> {
      Table items = ctx.table("items");
      items.set("d", mine);
      mine.put("v", 666); // changing the caller's object after set changes nothing
      assertEquals(1, items.get("d").orElseThrow().get("v").asInt());

      ((ObjectNode) items.get("d").orElseThrow()).put("v", 777);
      assertEquals(1, items.get("d").orElseThrow().get("v").asInt());
      ((ObjectNode) items.entries().get(0).value()).put("v", 888);
      assertEquals(1, items.get("d").orElseThrow().get("v").asInt());
    });
    assertEquals(List.of(Write.put(ITEMS, "d", "", F.objectNode().put("v", 1))), applied(outcome).writes());
    assertEquals(before, snapshot(store));
  }

  @Test
  void aFailingMutationDiscardsWhatItWrote() {
    Set<Object> before = snapshot(store);
    body.set(ctx -> {
      ctx.table("items").set("d", F.textNode("d"));
      ctx.table("items").delete("a");
    });
    MutationOutcome.Failed f = failed(executor.run(store, invocation("boom", F.objectNode(), "u1")), ErrorCode.MUTATOR_FAILED);
    assertTrue(f.message().contains("boom after writing"), f.message());
    assertEquals(before, snapshot(store));
    // and the next mutation does not see them either
    run(ctx -> {
      assertFalse(ctx.table("items").has("d"));
      assertTrue(ctx.table("items").has("a"));
    });
  }

  // ---------------------------------------------------------------- Overlay directly

  @Test
  void stackedOverlaysSeeTheirParentsWrites() {
    Overlay batch = new Overlay(store);
    batch.write(Write.put(ITEMS, "d", "3", F.textNode("d")));
    batch.write(Write.delete(ITEMS, "b"));
    Overlay mutation = new Overlay(batch);
    assertEquals(F.textNode("d"), mutation.get(ITEMS, "d").value());
    assertEquals(null, mutation.get(ITEMS, "b"));
    mutation.write(Write.put(ITEMS, "b", "0", F.textNode("b back")));
    mutation.write(Write.put(ITEMS, "d", "7", F.textNode("d moved")));
    mutation.write(Write.delete(ITEMS, "c"));
    assertEquals(List.of(new EntryKey("0", "b"), new EntryKey("2", "a"), new EntryKey("7", "d")),
        Scans.scan(mutation, ITEMS, ScanOptions.all()).stream().map(Row::key).toList());
    assertEquals(List.of(new EntryKey("2", "a"), new EntryKey("3", "d"), new EntryKey("6", "c")),
        Scans.scan(batch, ITEMS, ScanOptions.all()).stream().map(Row::key).toList());
    assertEquals(3, mutation.writeCount());
    assertEquals(2, batch.writeCount());
    assertTrue(mutation.touches(ITEMS, "c"));
    assertFalse(mutation.touches(ITEMS, "a"));
    assertFalse(mutation.touches(OTHER, "b"));
  }

  @Test
  void writeCountCountsDistinctEntries() {
    Overlay overlay = new Overlay(store);
    overlay.write(Write.put(ITEMS, "x", "", F.textNode("1")));
    overlay.write(Write.put(ITEMS, "x", "s", F.textNode("2")));
    overlay.write(Write.delete(ITEMS, "x"));
    overlay.write(Write.put(ITEMS, "x", "", F.textNode("3")));
    assertEquals(1, overlay.writeCount());
    overlay.write(Write.put(OTHER, "x", "", F.textNode("4")));
    assertEquals(2, overlay.writeCount());
    assertEquals(2, overlay.writes().size());
    assertEquals(List.of(new EntryKey("", "x"), new EntryKey("2", "a"), new EntryKey("4", "b"), new EntryKey("6", "c")),
        Scans.scan(overlay, ITEMS, ScanOptions.all()).stream().map(Row::key).toList());
    assertEquals(F.textNode("3"), overlay.get(ITEMS, "x").value());
  }

  /**
   * Regression: writes are documented as "one write per entry, in the order entries were first
   * written"; rewriting an entry must not move it to the end.
   */
  @Test
  void writesKeepFirstWriteOrderWhenAnEntryIsRewritten() {
    Overlay overlay = new Overlay(store);
    overlay.write(Write.put(ITEMS, "x", "", F.textNode("1")));
    overlay.write(Write.put(ITEMS, "y", "", F.textNode("1")));
    overlay.write(Write.put(ITEMS, "x", "", F.textNode("2")));
    assertEquals(List.of("x", "y"), overlay.writes().stream().map(Write::itemKey).toList(),
        "rewriting x moved it after y");
  }

  /**
   * Regression: first-write order holds across tables (writes must not be grouped by table).
   */
  @Test
  void writesKeepFirstWriteOrderAcrossTables() {
    Overlay overlay = new Overlay(store);
    overlay.write(Write.put(ITEMS, "1", "", F.textNode("1")));
    overlay.write(Write.put(OTHER, "2", "", F.textNode("2")));
    overlay.write(Write.put(ITEMS, "3", "", F.textNode("3")));
    assertEquals(List.of("1", "2", "3"), overlay.writes().stream().map(Write::itemKey).toList(),
        "writes grouped by table instead of first-write order");
  }
}
