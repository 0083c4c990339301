package io.syncedstore.client.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.syncedstore.client.ConnectionStatus;
import io.syncedstore.client.MutationHandle;
import io.syncedstore.client.SyncClient;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/** A client id reused by a new client: no mutation is lost, and a client given up while connecting never speaks for it. */
class ClientIdentityTest {
  private static List<Long> list(SyncClient c) {
    long[] l = c.query(tx -> tx.table("lists").get("l", long[].class)).orElse(new long[0]);
    return LongStream.of(l).boxed().toList();
  }

  @Test
  void aClientWithAKnownIdButNoStoredStateDoesNotReuseMutationIds() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(OfflineRestartTest.APP)) {
      SyncClient first = kit.createClient("alice", b -> b.clientId("fixed").clientGroupId("g"));
      for (long n = 0; n < 3; n++) {
        first.mutate(new OfflineRestartTest.Append(n));
      }
      kit.waitForAllClients();
      first.close();
      kit.stopServer();

      // Same client id, memory only: it counts from 1 again while offline; ids 1-3 are taken on the server.
      SyncClient second = kit.createClient("alice", b -> b.clientId("fixed").clientGroupId("g"));
      MutationHandle h = second.mutate(new OfflineRestartTest.Append(100));
      kit.startServer();
      h.confirmed().get(10, TimeUnit.SECONDS);
      SyncClient watcher = kit.createClient("bob");
      kit.waitForAllClients();
      assertEquals(List.of(0L, 1L, 2L, 100L), list(watcher), "the new client's mutation was applied, not skipped as a duplicate");
      assertEquals(List.of(0L, 1L, 2L, 100L), list(second));
    }
  }

  @Test
  void aClientClosedWhileConnectingNeverTakesTheConnectionOfItsSuccessor() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(OfflineRestartTest.APP)) {
      Path dir = kit.newStorageDirectory();
      CompletableFuture<String> slowToken = new CompletableFuture<>();
      SyncClient first = kit.createClient("alice", b -> b.storageDirectory(dir).authAsync(() -> slowToken));
      first.close(); // while its token is still being fetched
      SyncClient second = kit.createClient("alice", b -> b.storageDirectory(dir));
      kit.waitForAllClients();
      slowToken.complete("dev:alice"); // the first client's connect goes on: it must not say hello
      second.mutate(new OfflineRestartTest.Append(1));
      kit.waitForAllClients();
      SyncClient third = kit.createClient("bob"); // a round trip through the server after the stale connect
      kit.waitForAllClients();
      assertEquals(ConnectionStatus.ONLINE, second.connectionStatus(), "not superseded (4409) by the closed client's socket");
      assertEquals(List.of(1L), list(third));
    }
  }
}
