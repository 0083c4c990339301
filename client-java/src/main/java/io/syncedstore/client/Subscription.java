package io.syncedstore.client;

/** A live query registered with {@link SyncClient#subscribe}; close it to stop the callbacks. */
public interface Subscription extends AutoCloseable {
  /** Stops the callbacks; a callback already queued may still run. */
  @Override
  void close();
}
