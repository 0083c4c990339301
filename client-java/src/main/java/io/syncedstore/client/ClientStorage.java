package io.syncedstore.client;

import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.store.Write;
import io.syncedstore.client.impl.DirectoryStorage;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where a client keeps what must survive a restart: its ids, its pending mutations, its last
 * confirmed state and its sequence counters. The client calls these methods under its own lock,
 * in the order the changes happen, so an implementation can append them to a log; a change is
 * recorded before the client acts on it (a mutation is recorded before it is pushed).
 *
 * <p>Two implementations: {@link #inMemory()} (nothing survives the process) and
 * {@link #directory(Path)} (an append-only log and a snapshot in a directory).
 */
public interface ClientStorage extends AutoCloseable {
  /**
   * What a storage held when the client started.
   *
   * @param clientGroupId the client group
   * @param clientId the client
   * @param userId the user the server last reported, or {@code null}
   * @param cookie the cookie of the confirmed state, or {@code null}
   * @param confirmed the confirmed state as puts
   * @param pending the pending mutations in id order
   * @param nextMutationId the next mutation id to use (above every id ever used)
   * @param sequences the counters of {@link Sequences}
   */
  record Stored(String clientGroupId, String clientId, String userId, String cookie, List<Write> confirmed,
      List<MutationRequest> pending, long nextMutationId, Map<String, Long> sequences) {}

  /** @return what this storage holds, empty for a new client */
  Optional<Stored> load();

  /**
   * Binds the storage to one app instance, checked on every start: a directory used by a client of
   * another app or instance would show that instance's data and send its mutations here.
   *
   * @param app the app's name
   * @param instanceId the instance
   * @throws IllegalStateException when the storage belongs to another app instance
   */
  default void bindTo(String app, String instanceId) {}

  /**
   * The client's identity was chosen (a new client) or loaded.
   *
   * @param clientGroupId the client group
   * @param clientId the client
   */
  void identity(String clientGroupId, String clientId);

  /**
   * A mutation became pending; it is pushed only after this returns.
   *
   * @param mutation the mutation
   */
  void pendingAdded(MutationRequest mutation);

  /**
   * A pending mutation was confirmed or failed.
   *
   * @param id its id
   */
  void pendingRemoved(long id);

  /**
   * A poke changed the confirmed state.
   *
   * @param cookie the new cookie
   * @param userId the connected user, or {@code null}
   * @param cleared whether the state was cleared before {@code writes}
   * @param writes the changes, in order
   */
  void confirmedChanged(String cookie, String userId, boolean cleared, List<Write> writes);

  /**
   * A sequence counter advanced; the value is handed out only after this returns.
   *
   * @param key the counter
   * @param value its new value
   */
  void sequenceAdvanced(String key, long value);

  /**
   * @return whether the storage would like {@link #snapshot} to be called (its log has grown);
   *     the client asks after each poke
   */
  default boolean wantsSnapshot() {
    return false;
  }

  /**
   * Replaces everything recorded so far with {@code state}, the client's whole state now.
   *
   * @param state the state
   */
  default void snapshot(Stored state) {}

  /** Releases the storage; the client calls it from {@link SyncClient#close()}. */
  @Override
  default void close() {}

  /** @return a storage that keeps nothing: a new client every time */
  static ClientStorage inMemory() {
    return new ClientStorage() {
      @Override
      public Optional<Stored> load() {
        return Optional.empty();
      }

      @Override
      public void identity(String clientGroupId, String clientId) {}

      @Override
      public void pendingAdded(MutationRequest mutation) {}

      @Override
      public void pendingRemoved(long id) {}

      @Override
      public void confirmedChanged(String cookie, String userId, boolean cleared, List<Write> writes) {}

      @Override
      public void sequenceAdvanced(String key, long value) {}
    };
  }

  /**
   * A storage in {@code directory} (created when missing): the client's state survives a
   * restart of the process. Each change is appended to a log and written to the operating system
   * before the client acts on it, so a killed process loses nothing; the log is compacted into a
   * snapshot as it grows. One client at a time: a second client on the same directory is refused.
   *
   * @param directory the directory, one per client (per app instance and device)
   * @return the storage
   * @throws IllegalStateException when another client uses the directory, or it holds a corrupt log
   * @throws java.io.UncheckedIOException when the directory cannot be read or written
   */
  static ClientStorage directory(Path directory) {
    return DirectoryStorage.open(directory, false);
  }

  /**
   * Like {@link #directory(Path)}, and each change is also forced to the disk ({@code fsync})
   * before the client acts on it, so that it survives a power loss too (slower: one disk flush
   * per mutation and per poke).
   *
   * @param directory the directory
   * @return the storage
   */
  static ClientStorage durableDirectory(Path directory) {
    return DirectoryStorage.open(directory, true);
  }
}
