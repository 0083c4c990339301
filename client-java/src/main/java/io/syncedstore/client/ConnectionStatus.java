package io.syncedstore.client;

/** Where a {@link SyncClient}'s connection to the server stands. */
public enum ConnectionStatus {
  /** Opening a socket or waiting for the server's {@code connected}. */
  CONNECTING,
  /** Connected: mutations are pushed and pokes arrive. */
  ONLINE,
  /** The connection was lost; a reconnect is scheduled with backoff. Local reads and mutations keep working. */
  OFFLINE,
  /**
   * The server refused the client for a reason a retry cannot fix (close 4401, 4403, 4406,
   * 4409 or 4412); the client no longer reconnects. See {@link ConnectionListener#onStopped}.
   */
  STOPPED,
  /** {@link SyncClient#close()} was called. */
  CLOSED
}
