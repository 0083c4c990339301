package io.syncedstore.client;

/**
 * Hears about mutations of a {@link SyncClient}. Called on the client's callback thread; every
 * method has a no-op default.
 */
public interface MutationListener {
  /**
   * The server failed a mutation of this client.
   *
   * @param failure which mutation and why
   */
  default void onMutationFailed(MutationFailure failure) {}

  /**
   * The number of pending mutations changed (a mutation was made, confirmed or failed, or the
   * client loaded pending mutations from its storage).
   *
   * @param pendingCount the number now pending
   */
  default void onPendingChanged(int pendingCount) {}
}
