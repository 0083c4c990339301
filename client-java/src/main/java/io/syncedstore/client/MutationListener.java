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
}
