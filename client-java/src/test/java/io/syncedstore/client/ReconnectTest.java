package io.syncedstore.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.syncedstore.client.impl.SyncClientImpl;
import io.syncedstore.gateway.SyncServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Server restarts and dropped sockets: the client reconnects and its pending mutations apply exactly once. */
class ReconnectTest {
  @TempDir
  Path dir;

  private static SyncClient client(int port, String user, ConnectionListener listener) {
    return SyncClient.connect(SyncOptions.builder()
        .server("ws://127.0.0.1:" + port)
        .app(TestApp.DEFINITION)
        .instanceId("reconnect")
        .auth(() -> "dev:" + user)
        .reconnectDelay(Duration.ofMillis(50), Duration.ofMillis(500))
        .connectionListener(listener)
        .build());
  }

  private static long counter(SyncClient c) {
    return c.query(tx -> tx.table("counters").get("c", Long.class)).orElse(0L);
  }

  private static void confirmAll(List<MutationHandle> handles) throws Exception {
    for (MutationHandle h : handles) {
      h.confirmed().get(Await.WAIT.toSeconds(), TimeUnit.SECONDS);
    }
  }

  @Test
  void aRestartedServerAndADroppedSocketLoseNothingAndApplyNothingTwice() throws Exception {
    SyncServer server = TestServers.start(dir, List.of(TestApp.DEFINITION), 0);
    int port = server.port();
    List<ConnectionStatus> statuses = Collections.synchronizedList(new ArrayList<>());
    List<Integer> closeCodes = Collections.synchronizedList(new ArrayList<>());
    SyncClient a = client(port, "alice", new ConnectionListener() {
      @Override
      public void onStatusChanged(ConnectionStatus status) {
        statuses.add(status);
      }

      @Override
      public void onDisconnected(int code, String reason) {
        closeCodes.add(code);
      }
    });
    try {
      assertTrue(a.waitForBootstrap(Await.WAIT));
      List<MutationHandle> handles = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        handles.add(a.mutate("add", new TestApp.Add("c", 1)));
      }
      confirmAll(handles);

      server.close();
      Await.until("offline", () -> a.connectionStatus() == ConnectionStatus.OFFLINE
          || a.connectionStatus() == ConnectionStatus.CONNECTING, () -> "statuses " + statuses);
      for (int i = 0; i < 5; i++) {
        handles.add(a.mutate("add", new TestApp.Add("c", 1)));
      }
      assertEquals(10, counter(a), "offline mutations show at once");
      assertEquals(5, a.pendingCount());

      server = TestServers.start(dir, List.of(TestApp.DEFINITION), port);
      confirmAll(handles);
      assertTrue(a.isOnline());
      assertEquals(10, counter(a));

      // Sent but not yet confirmed when the socket drops: resent after the reconnect, skipped by the server.
      for (int i = 0; i < 5; i++) {
        handles.add(a.mutate("add", new TestApp.Add("c", 1)));
      }
      ((SyncClientImpl) a).dropConnection();
      for (int i = 0; i < 5; i++) {
        handles.add(a.mutate("add", new TestApp.Add("c", 1)));
      }
      confirmAll(handles);
      assertEquals(20, counter(a));
      assertEquals(List.of(20L, 0), List.of(counter(a), a.pendingCount()));

      try (SyncClient fresh = client(port, "bob", new ConnectionListener() {})) {
        assertTrue(fresh.waitForBootstrap(Await.WAIT));
        assertEquals(20, counter(fresh), "every mutation applied exactly once on the server");
        assertEquals(Optional.of(20L), fresh.query(tx -> tx.table("counters").get("c", Long.class)));
      }

      List<ConnectionStatus> seen = new ArrayList<>(statuses);
      int firstOnline = seen.indexOf(ConnectionStatus.ONLINE);
      int offline = seen.indexOf(ConnectionStatus.OFFLINE);
      assertTrue(firstOnline >= 0 && offline > firstOnline && seen.subList(offline, seen.size()).contains(ConnectionStatus.ONLINE),
          "statuses: " + seen);
      assertTrue(!closeCodes.isEmpty(), "disconnects reported");
    } finally {
      a.close();
      server.close();
    }
    assertEquals(ConnectionStatus.CLOSED, a.connectionStatus());
  }
}
