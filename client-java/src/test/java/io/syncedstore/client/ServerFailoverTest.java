package io.syncedstore.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.syncedstore.client.impl.SyncClientImpl;
import io.syncedstore.gateway.SyncServer;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client given several servers ({@link SyncOptions.Builder#servers}) moves to the next one when
 * its server goes away, and every mutation is confirmed once. The two in-process servers share one
 * H2 journal file (H2 opens a file database once per JVM), as the nodes of a cluster share one
 * database; only one of them hosts the instance at a time.
 */
class ServerFailoverTest {
  @TempDir
  Path dir;

  private static URI url(int port) {
    return URI.create("ws://127.0.0.1:" + port);
  }

  private static SyncClient client(List<URI> servers, String user, ConnectionListener listener) {
    return SyncClient.connect(SyncOptions.builder()
        .servers(servers)
        .app(TestApp.DEFINITION)
        .instanceId("failover")
        .auth(() -> "dev:" + user)
        .reconnectDelay(Duration.ofMillis(50), Duration.ofMillis(500))
        .connectionListener(listener)
        .build());
  }

  private static long counter(SyncClient c) {
    return c.query(tx -> tx.table("counters").get("c", Long.class)).orElse(0L);
  }

  /** @return a port nothing listens on (bound and released at once) */
  private static int closedPort() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Test
  void whenItsServerClosesMidSessionTheClientConvergesThroughTheNextOne() throws Exception {
    SyncServer first = TestServers.start(dir, List.of(TestApp.DEFINITION), 0);
    SyncServer second = TestServers.start(dir, List.of(TestApp.DEFINITION), 0);
    List<URI> servers = List.of(url(first.port()), url(second.port()));
    List<ConnectionStatus> statuses = Collections.synchronizedList(new ArrayList<>());
    List<Integer> confirmations = Collections.synchronizedList(new ArrayList<>());
    SyncClientImpl a = (SyncClientImpl) client(servers, "alice", new ConnectionListener() {
      @Override
      public void onStatusChanged(ConnectionStatus status) {
        statuses.add(status);
      }
    });
    try {
      assertTrue(a.waitForBootstrap(Await.WAIT));
      assertEquals(servers.get(0), a.currentServer(), "the first URL is tried first");
      List<MutationHandle> handles = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        handles.add(a.mutate("add", new TestApp.Add("c", 1)));
      }
      for (MutationHandle h : handles) {
        h.confirmed().get(Await.WAIT.toSeconds(), TimeUnit.SECONDS);
      }

      // In flight when the first server goes, and made while offline: all confirmed through the second.
      for (int i = 0; i < 5; i++) {
        handles.add(a.mutate("add", new TestApp.Add("c", 1)));
      }
      first.close();
      for (int i = 0; i < 5; i++) {
        handles.add(a.mutate("add", new TestApp.Add("c", 1)));
      }
      for (int i = 0; i < handles.size(); i++) {
        int index = i;
        handles.get(i).confirmed().thenRun(() -> confirmations.add(index));
      }
      for (MutationHandle h : handles) {
        h.confirmed().get(Await.WAIT.toSeconds(), TimeUnit.SECONDS);
      }
      Await.until("online", a::isOnline, () -> "statuses " + statuses);
      assertEquals(servers.get(1), a.currentServer(), "moved to the second server");
      assertEquals(15, counter(a));
      assertEquals(0, a.pendingCount());
      assertTrue(statuses.contains(ConnectionStatus.OFFLINE), "statuses " + statuses);

      // A fresh client whose first URL is the closed server: connects through the second.
      try (SyncClientImpl fresh = (SyncClientImpl) client(servers, "bob", new ConnectionListener() {})) {
        assertTrue(fresh.waitForBootstrap(Await.WAIT));
        assertEquals(servers.get(1), fresh.currentServer());
        assertEquals(15, counter(fresh), "every mutation applied exactly once");
        fresh.mutate("add", new TestApp.Add("c", 1)).confirmed().get(Await.WAIT.toSeconds(), TimeUnit.SECONDS);
        Await.until("alice sees bob's mutation", () -> counter(a) == 16, () -> "alice has " + counter(a));
      }
      Await.until("every confirmation callback ran", () -> confirmations.size() == handles.size());
      assertEquals(handles.size(), confirmations.stream().distinct().count(), "each mutation confirmed once");
    } finally {
      a.close();
      first.close();
      second.close();
    }
  }

  @Test
  void aClientRoundRobinsFromARefusingServerToALiveOne() throws Exception {
    SyncServer server = TestServers.start(dir, List.of(TestApp.DEFINITION), 0);
    List<URI> servers = List.of(url(closedPort()), url(closedPort()), url(server.port()));
    List<Integer> closeCodes = Collections.synchronizedList(new ArrayList<>());
    try (SyncClientImpl c = (SyncClientImpl) client(servers, "carol", new ConnectionListener() {
      @Override
      public void onDisconnected(int code, String reason) {
        closeCodes.add(code);
      }
    })) {
      assertTrue(c.waitForBootstrap(Await.WAIT));
      assertEquals(servers.get(2), c.currentServer());
      assertTrue(closeCodes.size() >= 2, "two refused attempts before the live server: " + closeCodes);
      c.mutate("add", new TestApp.Add("c", 3)).confirmed().get(Await.WAIT.toSeconds(), TimeUnit.SECONDS);
      assertEquals(3, counter(c));

      // A dropped connection moves on too: to the first URL (refused), and round to the live one again.
      int before = closeCodes.size();
      c.dropConnection();
      c.mutate("add", new TestApp.Add("c", 1)).confirmed().get(Await.WAIT.toSeconds(), TimeUnit.SECONDS);
      Await.until("online", c::isOnline);
      assertEquals(servers.get(2), c.currentServer());
      assertTrue(closeCodes.size() >= before + 3, "drop, then two refused attempts: " + closeCodes);
      assertEquals(4, counter(c));
    } finally {
      server.close();
    }
  }

  @Test
  void theServerListIsChecked() {
    assertThrows(IllegalArgumentException.class, () -> SyncOptions.builder().servers(List.of()));
    assertThrows(IllegalArgumentException.class, () -> SyncOptions.builder().servers("http://127.0.0.1:1"));
    assertThrows(IllegalArgumentException.class, () -> SyncOptions.builder().servers("ws://127.0.0.1:1", "ws://127.0.0.1:1"));
    SyncOptions options = SyncOptions.builder().servers("ws://127.0.0.1:1", "ws://127.0.0.1:2")
        .app(TestApp.DEFINITION).instanceId("i").build();
    assertEquals(URI.create("ws://127.0.0.1:1"), options.server());
    assertEquals(2, options.servers().size());
    assertEquals(List.of(URI.create("ws://127.0.0.1:3")),
        SyncOptions.builder().server("ws://127.0.0.1:3").app(TestApp.DEFINITION).instanceId("i").build().servers());
  }
}
