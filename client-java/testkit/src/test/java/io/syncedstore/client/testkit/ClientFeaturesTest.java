package io.syncedstore.client.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Entry;
import io.syncedstore.api.EntryKey;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.ScanOptions;
import io.syncedstore.api.SyncException;
import io.syncedstore.client.ConnectionListener;
import io.syncedstore.client.ConnectionStatus;
import io.syncedstore.client.MutationListener;
import io.syncedstore.client.SyncClient;
import io.syncedstore.client.TableChanges;
import io.syncedstore.client.impl.SyncClientImpl;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The client's API beyond mutate and query: table subscriptions, windows, typed mutate, listeners, sequences. */
class ClientFeaturesTest {
  /**
   * Input of {@code put}.
   *
   * @param key the item key
   * @param sortKey the sort key
   * @param text the value
   */
  record Put(String key, String sortKey, String text) {}

  /**
   * Input of {@code del}.
   *
   * @param key the item key
   */
  record Del(String key) {}

  /**
   * Input of {@code note} and {@code shout}: two mutators with one input type.
   *
   * @param text the text
   */
  record Text(String text) {}

  /**
   * Input of {@code claim}, which the server always refuses.
   *
   * @param key the item key
   */
  record Claim(String key) {}

  static final AppDefinition APP = AppDefinition.builder("features").schemaVersion(1)
      .table("items", String.class)
      .mutator("put", Put.class, (ctx, in) -> ctx.table("items").set(in.key(), in.sortKey(), in.text()))
      .mutator("del", Del.class, (ctx, in) -> ctx.table("items").delete(in.key()))
      .mutator("note", Text.class, (ctx, in) -> ctx.table("items").set("note", in.text()))
      .mutator("shout", Text.class, (ctx, in) -> ctx.table("items").set("note", in.text().toUpperCase()))
      .mutator("claim", Claim.class, (ctx, in) -> {
        ctx.table("items").set(in.key(), "claimed");
        if (ctx.isServer()) {
          throw new IllegalStateException(in.key() + " was claimed by someone else");
        }
      })
      .build();

  private record Call(List<Entry> entries, TableChanges changes) {}

  private static List<String> keys(List<Entry> entries) {
    return entries.stream().map(Entry::itemKey).toList();
  }

  private static Call next(BlockingQueue<Call> calls) throws InterruptedException {
    Call c = calls.poll(10, TimeUnit.SECONDS);
    if (c == null) {
      throw new AssertionError("no table callback within 10 s");
    }
    return c;
  }

  @Test
  void subscribeToTableReportsExactlyWhatWasAddedModifiedAndRemoved() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient alice = kit.createClient("alice");
      SyncClient bob = kit.createClient("bob");
      alice.mutate(new Put("a", "1", "A"));
      alice.mutate(new Put("b", "2", "B"));
      kit.waitForAllClients();

      BlockingQueue<Call> calls = new LinkedBlockingQueue<>();
      bob.subscribeToTable("items", (entries, changes) -> calls.add(new Call(entries, changes)));
      Call first = next(calls);
      assertEquals(List.of("a", "b"), keys(first.changes().added()), "the first call lists every entry as added");
      assertTrue(first.changes().modified().isEmpty() && first.changes().removed().isEmpty());

      // One poke with an add, a change, a removal, and a write that changes nothing.
      kit.network(alice).holdOutbound();
      alice.mutate(new Put("c", "0", "C"));
      alice.mutate(new Put("a", "1", "A2"));
      alice.mutate(new Del("b"));
      alice.mutate(new Put("c", "0", "C")); // same value again
      kit.network(alice).releaseOutbound();
      kit.waitForAllClients();
      List<Call> seen = new ArrayList<>();
      seen.add(next(calls));
      while (!seen.get(seen.size() - 1).entries().stream().map(Entry::itemKey).toList().equals(List.of("c", "a"))) {
        seen.add(next(calls));
      }
      List<String> added = new ArrayList<>();
      List<String> modified = new ArrayList<>();
      List<String> removed = new ArrayList<>();
      for (Call c : seen) {
        added.addAll(keys(c.changes().added()));
        modified.addAll(keys(c.changes().modified()));
        removed.addAll(keys(c.changes().removed()));
        assertTrue(!c.changes().isEmpty(), "no call without a change");
      }
      assertEquals(List.of("c"), added);
      assertEquals(List.of("a"), modified);
      assertEquals(List.of("b"), removed);
      assertEquals("A2", seen.get(seen.size() - 1).entries().get(1).value().asText());

      // A write that leaves the table as it was: no call.
      alice.mutate(new Put("c", "0", "C"));
      kit.waitForAllClients();
      alice.mutate(new Put("d", "9", "D"));
      kit.waitForAllClients();
      Call after = next(calls);
      assertEquals(List.of("d"), keys(after.changes().added()), "the unchanged write produced no call");
      assertEquals(null, calls.poll(200, TimeUnit.MILLISECONDS));
    }
  }

  @Test
  void aFailureWhoseNoticeWasLostWithTheSocketIsToldAgainOnTheNextConnection() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      List<String> failures = Collections.synchronizedList(new ArrayList<>());
      SyncClient alice = kit.createClient("alice", b -> b.mutationListener(new MutationListener() {
        @Override
        public void onMutationFailed(io.syncedstore.client.MutationFailure failure) {
          failures.add(failure.name() + ": " + failure.message());
        }
      }));
      SyncClient bob = kit.createClient("bob");
      kit.waitForAllClients();
      kit.network(alice).holdInbound();
      var claim = alice.mutate(new Claim("k1"));
      alice.mutate(new Put("after", "", "x"));
      assertEquals("claimed", alice.query(tx -> tx.table("items").get("k1", String.class)).orElseThrow(), "optimistic");
      kit.waitForKeyExists(bob, "items", "after"); // the server has processed both
      assertTrue(kit.network(alice).heldInbound() > 0);
      kit.network(alice).drop(); // the failure notice and the poke die with the socket
      kit.network(alice).releaseInbound();
      kit.waitForAllClients();
      var error = assertThrows(java.util.concurrent.ExecutionException.class, () -> claim.confirmed().get(10, TimeUnit.SECONDS));
      assertTrue(error.getCause().getMessage().contains("k1 was claimed by someone else"), error.getCause().getMessage());
      kit.waitFor("the failure listener", () -> failures.size() == 1, failures::toString);
      assertEquals(List.of("claim: claim failed: k1 was claimed by someone else"), failures, "told once");
      boolean gone = alice.query(tx -> !tx.table("items").has("k1"));
      boolean kept = alice.query(tx -> tx.table("items").has("after"));
      assertTrue(gone, "the optimistic write is gone");
      assertTrue(kept, "the next mutation stays");
    }
  }

  @Test
  void pendingMutationsAreBounded() {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient alice = kit.createClient("alice", b -> b.maxPendingMutations(3));
      kit.waitForAllClients();
      kit.network(alice).holdOutbound();
      for (int i = 0; i < 3; i++) {
        alice.mutate(new Put("k" + i, "", "v"));
      }
      SyncException full = assertThrows(SyncException.class, () -> alice.mutate(new Put("k3", "", "v")));
      assertEquals(ErrorCode.OVERLOADED, full.code());
      assertTrue(full.getMessage().contains("maxPendingMutations"), full.getMessage());
      boolean shown = alice.query(tx -> tx.table("items").has("k3"));
      assertTrue(!shown, "a refused mutation shows nothing");
      kit.network(alice).releaseOutbound();
      kit.waitForAllClients();
      alice.mutate(new Put("k3", "", "v"));
      kit.waitForAllClients();
      assertEquals(4, alice.query(tx -> tx.table("items").keys()).size());
    }
  }

  @Test
  void aroundCursorReturnsAWindowInTableOrder() {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient alice = kit.createClient("alice");
      for (int i = 0; i < 10; i++) {
        alice.mutate(new Put("k" + i, String.format("%02d", i), "v" + i));
      }
      List<String> window = alice.query(tx -> keys(tx.table("items").aroundCursor(new EntryKey("05", "k5"), 2, 3)));
      assertEquals(List.of("k3", "k4", "k5", "k6", "k7", "k8"), window);
      List<String> missing = alice.query(tx -> keys(tx.table("items").aroundCursor(new EntryKey("045", "x"), 2, 2)));
      assertEquals(List.of("k3", "k4", "k5", "k6"), missing, "a cursor between entries: no entry at it");
      List<String> edge = alice.query(tx -> keys(tx.table("items").aroundCursor(new EntryKey("00", "k0"), 5, 1)));
      assertEquals(List.of("k0", "k1"), edge);
      List<String> prefixed = alice.query(tx -> keys(tx.table("items")
          .aroundCursor(ScanOptions.all().sortKeyPrefix("0"), new EntryKey("09", "k9"), 3, 3)));
      assertEquals(List.of("k6", "k7", "k8", "k9"), prefixed);
    }
  }

  @Test
  void typedMutateFindsTheMutatorByItsInputType() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      SyncClient alice = kit.createClient("alice");
      alice.mutate(new Put("a", "", "A")).confirmed().get(10, TimeUnit.SECONDS);
      assertEquals("A", alice.query(tx -> tx.table("items").get("a", String.class)).orElseThrow());
      SyncException twoMutators = assertThrows(SyncException.class, () -> alice.mutate(new Text("x")));
      assertEquals(ErrorCode.UNKNOWN_MUTATOR, twoMutators.code());
      assertTrue(twoMutators.getMessage().contains("note") && twoMutators.getMessage().contains("shout"), twoMutators.getMessage());
      SyncException none = assertThrows(SyncException.class, () -> alice.mutate("just a string"));
      assertTrue(none.getMessage().contains("java.lang.String"), none.getMessage());
      assertEquals(0, alice.pendingCount());
    }
  }

  @Test
  void listenersHearPendingCountsAuthFailuresAndSchemaMismatches() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      List<Integer> counts = Collections.synchronizedList(new ArrayList<>());
      SyncClient alice = kit.createClient("alice", b -> b.mutationListener(new MutationListener() {
        @Override
        public void onPendingChanged(int pendingCount) {
          counts.add(pendingCount);
        }
      }));
      kit.waitForAllClients();
      kit.network(alice).holdOutbound();
      alice.mutate(new Put("a", "", "A"));
      alice.mutate(new Put("b", "", "B"));
      kit.network(alice).releaseOutbound();
      kit.waitForAllClients();
      kit.waitFor("pending back to 0", () -> !counts.isEmpty() && counts.get(counts.size() - 1) == 0, counts::toString);
      assertEquals(List.of(1, 2), counts.subList(0, 2), "counts " + counts);

      BlockingQueue<String> events = new LinkedBlockingQueue<>();
      SyncClient badToken = kit.createClient("x", b -> b.auth(() -> "not-a-dev-token").connectionListener(new ConnectionListener() {
        @Override
        public void onAuthFailed(int code, String reason) {
          events.add("auth " + code);
        }

        @Override
        public void onStopped(int code, String reason) {
          events.add("stopped " + code);
        }
      }));
      assertEquals("auth 4401", events.poll(10, TimeUnit.SECONDS));
      assertEquals("stopped 4401", events.poll(10, TimeUnit.SECONDS));
      assertEquals(ConnectionStatus.STOPPED, badToken.connectionStatus());

      AppDefinition newer = AppDefinition.builder("features").schemaVersion(2).table("items", String.class).build();
      kit.createClient("carol", b -> b.app(newer).connectionListener(new ConnectionListener() {
        @Override
        public void onSchemaVersionMismatch(int clientSchemaVersion, String reason) {
          events.add("schema " + clientSchemaVersion);
        }
      }));
      assertEquals("schema 2", events.poll(10, TimeUnit.SECONDS));
      badToken.close();
    }
  }

  @Test
  void sequencesContinueAfterARestartOfTheClient() {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      Path storage = kit.newStorageDirectory();
      SyncClient first = kit.createClient("alice", b -> b.storageDirectory(storage));
      assertEquals("order-0001", first.sequences().next("order"));
      assertEquals("order-0002", first.sequences().next("order"));
      ((SyncClientImpl) first).abandon();
      SyncClient second = kit.createClient("alice", b -> b.storageDirectory(storage));
      assertEquals("order-0003", second.sequences().next("order"), "never repeats after a restart");
    }
  }
}
