package io.syncedstore.client;

import io.syncedstore.api.ErrorCode;

/**
 * Hears about the connection of a {@link SyncClient}. Called on the client's callback thread,
 * one call at a time; every method has a no-op default.
 */
public interface ConnectionListener {
  /**
   * The status changed.
   *
   * @param status the new status
   */
  default void onStatusChanged(ConnectionStatus status) {}

  /**
   * The socket closed or failed; a reconnect follows unless {@link #onStopped} is called too.
   *
   * @param code the WebSocket close code ({@code 1006} when the socket failed without a close frame)
   * @param reason the close reason or the failure
   */
  default void onDisconnected(int code, String reason) {}

  /**
   * The server refused the client for good: 4401 (token refused), 4403 (client id owned by
   * another user), 4406 (protocol version), 4409 (another live client uses this client id) or 4412
   * (schema version mismatch). No reconnect follows.
   *
   * @param code the close code
   * @param reason the close reason
   */
  default void onStopped(int code, String reason) {}

  /**
   * The server answered something this client sent with an {@code error} message.
   *
   * @param code the error code
   * @param message what was wrong
   */
  default void onServerError(ErrorCode code, String message) {}
}
