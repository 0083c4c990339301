package io.syncedstore.client.testkit;

import io.syncedstore.client.impl.SyncClientImpl;

/**
 * The network between one test client and the server: hold messages in either direction and
 * release them later, or drop the connection. Obtain it with {@link SyncTestKit#network}.
 *
 * <p>Holding outbound keeps the client's mutations pending (applied optimistically, not sent);
 * holding inbound keeps the server's pokes and notices from being applied, so a test can observe
 * the optimistic state after the server has already confirmed. Clients use separate connections,
 * so to make one client's mutations reach the server before another's, release the first, wait
 * until they are confirmed ({@link SyncTestKit#waitForAllClients()} or the handles'
 * {@code confirmed()}), then release the second.
 */
public final class NetworkControl {
  private final SyncClientImpl client;

  NetworkControl(SyncClientImpl client) {
    this.client = client;
  }

  /** Keeps the client's mutations from being sent; they stay pending. */
  public void holdOutbound() {
    client.holdOutbound(true);
  }

  /** Sends every held mutation, in order. */
  public void releaseOutbound() {
    client.holdOutbound(false);
  }

  /** Keeps messages from the server (pokes, failures) from being applied. */
  public void holdInbound() {
    client.holdInbound(true);
  }

  /** Applies every held message from the server, in order. */
  public void releaseInbound() {
    client.holdInbound(false);
  }

  /** @return how many messages from the server are held */
  public int heldInbound() {
    return client.heldInboundCount();
  }

  /**
   * Drops the connection as a failing network would (no close frame). The client reconnects with
   * its backoff; held inbound messages are lost with the connection.
   */
  public void drop() {
    client.dropConnection();
  }
}
