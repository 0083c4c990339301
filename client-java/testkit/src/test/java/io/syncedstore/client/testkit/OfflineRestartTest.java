package io.syncedstore.client.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Table;
import io.syncedstore.client.ConnectionStatus;
import io.syncedstore.client.SyncClient;
import io.syncedstore.client.impl.SyncClientImpl;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/**
 * Offline first: a client's pending mutations and confirmed state survive the end of its process
 * (a new {@code SyncClient} on the same storage directory) and are applied exactly once, in order.
 */
class OfflineRestartTest {
  /**
   * Input of {@code append}.
   *
   * @param n the number to append
   */
  record Append(long n) {}

  /** Each append adds its number to the end of one list, so the list shows order and duplicates. */
  static final AppDefinition APP = AppDefinition.builder("offline").schemaVersion(1)
      .table("lists", long[].class)
      .mutator("append", Append.class, (ctx, in) -> {
        Table lists = ctx.table("lists");
        long[] old = lists.get("l", long[].class).orElse(new long[0]);
        long[] next = java.util.Arrays.copyOf(old, old.length + 1);
        next[old.length] = in.n();
        lists.set("l", next);
      })
      .build();

  private static List<Long> list(SyncClient c) {
    long[] l = c.query(tx -> tx.table("lists").get("l", long[].class)).orElse(new long[0]);
    return LongStream.of(l).boxed().toList();
  }

  private static List<Long> range(long from, long to) {
    return LongStream.range(from, to).boxed().toList();
  }

  @Test
  void mutationsMadeOfflineSurviveARestartOfTheClientProcessAndApplyExactlyOnceInOrder() {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      Path storage = kit.newStorageDirectory();
      SyncClient first = kit.createClient("alice", b -> b.storageDirectory(storage));
      for (long n = 0; n < 10; n++) {
        first.mutate(new Append(n));
      }
      kit.waitForAllClients();
      String clientId = first.clientId();

      kit.stopServer();
      kit.waitFor("the client to notice the server is gone", () -> first.connectionStatus() == ConnectionStatus.OFFLINE, () -> "");
      for (long n = 10; n < 110; n++) {
        first.mutate(new Append(n));
      }
      assertEquals(100, first.pendingCount());
      assertEquals(range(0, 110), list(first));
      ((SyncClientImpl) first).abandon(); // the process dies: no goodbye, nothing more written

      SyncClient second = kit.createClient("alice", b -> b.storageDirectory(storage));
      assertEquals(clientId, second.clientId(), "the storage keeps the client's identity");
      assertEquals(100, second.pendingCount(), "the pending mutations are back before any connection");
      assertEquals(range(0, 110), list(second), "confirmed state + pending shown at once, offline");

      kit.startServer();
      kit.waitForAllClients();
      assertEquals(range(0, 110), list(second));
      SyncClient fresh = kit.createClient("bob");
      kit.waitForAllClients();
      assertEquals(range(0, 110), list(fresh), "the server applied each of the 100 exactly once, in order");
    }
  }

  @Test
  void mutationsTheServerAppliedBeforeTheClientDiedAreNotAppliedAgain() {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      Path storage = kit.newStorageDirectory();
      SyncClient first = kit.createClient("alice", b -> b.storageDirectory(storage));
      kit.waitForAllClients();
      SyncClient watcher = kit.createClient("bob");
      kit.waitForAllClients();
      kit.network(first).holdInbound(); // the confirmations will never reach the first process
      for (long n = 0; n < 20; n++) {
        first.mutate(new Append(n));
      }
      kit.waitUntil(watcher, "all 20 applied by the server", tx -> tx.table("lists").get("l", long[].class)
          .map(l -> l.length == 20).orElse(false));
      assertEquals(20, first.pendingCount(), "applied on the server, still pending here");
      ((SyncClientImpl) first).abandon();

      SyncClient second = kit.createClient("alice", b -> b.storageDirectory(storage));
      assertEquals(20, second.pendingCount());
      second.mutate(new Append(20));
      kit.waitForAllClients();
      assertEquals(range(0, 21), list(watcher), "the 20 were not applied twice; the new one once");
      assertEquals(range(0, 21), list(second));
      assertEquals(0, second.pendingCount());
    }
  }

  @Test
  void aStorageDirectoryServesOneClientAtATime() {
    try (SyncTestKit kit = SyncTestKit.start(APP)) {
      Path storage = kit.newStorageDirectory();
      SyncClient first = kit.createClient("alice", b -> b.storageDirectory(storage));
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> kit.createClient("alice", b -> b.storageDirectory(storage)));
      assertTrue(e.getMessage().contains(storage.toString()) && e.getMessage().contains("in use"), e.getMessage());
      first.close();
      SyncClient again = kit.createClient("alice", b -> b.storageDirectory(storage));
      assertEquals(first.clientId(), again.clientId());
      IllegalArgumentException other = assertThrows(IllegalArgumentException.class, () -> {
        again.close();
        kit.createClient("alice", b -> b.storageDirectory(storage).clientId("someone-else"));
      });
      assertTrue(other.getMessage().contains("someone-else"), other.getMessage());
      SyncClient afterRefusal = kit.createClient("alice", b -> b.storageDirectory(storage));
      assertEquals(first.clientId(), afterRefusal.clientId(), "a refused client leaves the directory free");
      afterRefusal.close();
      IllegalStateException otherInstance = assertThrows(IllegalStateException.class,
          () -> kit.createClient("alice", b -> b.storageDirectory(storage).instanceId("another-list")));
      assertTrue(otherInstance.getMessage().contains("belongs to instance 'test'"), otherInstance.getMessage());
    }
  }
}
