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

  /**
   * The server refused the token or the user: 4401 (token refused, also when refused before the
   * WebSocket upgrade with HTTP 401) or 4403 (the client id belongs to another user, or the
   * instance is members-only and the user is not a member; HTTP 403 before the upgrade). Called
   * before {@link #onStopped}; the client does not reconnect, so an app signs in again and starts a
   * new client.
   *
   * <p>Also called with 4440 when the connection's token expired; then the client does reconnect
   * at once, with a fresh token from its auth callback, and is not stopped.
   *
   * @param code the close code
   * @param reason the server's reason
   */
  default void onAuthFailed(int code, String reason) {}

  /**
   * The server runs another schema version of the app (close code 4412). Called before
   * {@link #onStopped}; the app needs an update (or the server one).
   *
   * @param clientSchemaVersion the schema version this client sent
   * @param reason the server's reason, which names its version
   */
  default void onSchemaVersionMismatch(int clientSchemaVersion, String reason) {}

  /**
   * Something failed inside the client: a server message it could not read or apply (it drops the
   * connection and catches up on the next one), its storage failing, or a callback that threw.
   *
   * @param error what failed
   */
  default void onError(Throwable error) {}
}
