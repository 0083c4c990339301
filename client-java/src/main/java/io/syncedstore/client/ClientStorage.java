package io.syncedstore.client;

import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.store.Write;
import java.util.List;
import java.util.Optional;

/**
 * Where a client keeps what must survive a restart: its ids, its pending mutations and its last
 * confirmed state. The client calls these methods under its own lock, in the order the changes
 * happen, so an implementation can append them to a log.
 *
 * <p>Only {@link #inMemory()} exists so far: nothing survives the process. A directory-backed
 * implementation (offline restart) is still to come.
 */
public interface ClientStorage {
  /**
   * What a storage held when the client started.
   *
   * @param clientGroupId the client group
   * @param clientId the client
   * @param userId the user the server last reported, or {@code null}
   * @param cookie the cookie of the confirmed state, or {@code null}
   * @param confirmed the confirmed state as writes (puts only)
   * @param pending the pending mutations in id order
   * @param nextMutationId the next mutation id to use
   */
  record Stored(String clientGroupId, String clientId, String userId, String cookie, List<Write> confirmed,
      List<MutationRequest> pending, long nextMutationId) {}

  /** @return what this storage holds, empty for a new client */
  Optional<Stored> load();

  /**
   * The client's identity was chosen.
   *
   * @param clientGroupId the client group
   * @param clientId the client
   */
  void identity(String clientGroupId, String clientId);

  /** A mutation became pending. */
  void pendingAdded(MutationRequest mutation);

  /** A pending mutation was confirmed or failed. */
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
    };
  }
}
