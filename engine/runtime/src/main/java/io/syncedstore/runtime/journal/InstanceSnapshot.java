package io.syncedstore.runtime.journal;

import io.syncedstore.api.store.EntryStore;
import io.syncedstore.runtime.JsonSerializable;
import java.util.List;

/**
 * The whole state of an instance as a snapshot stores it. Like events, a long-lived contract.
 *
 * @param epoch the instance's epoch, {@code null} before it was created
 * @param version the instance's version
 * @param store every row and tombstone, and the tombstone horizon
 * @param clients every client's last mutation id
 * @param failures the clients' recent failed mutations ({@code null} in snapshots written before they were kept)
 * @param actions enqueued and scheduled actions not yet completed ({@code null} in snapshots written before they were kept)
 */
public record InstanceSnapshot(String epoch, long version, EntryStore.Exported store, List<ClientSnapshot> clients,
    List<FailureSnapshot> failures, List<ActionSnapshot> actions) implements JsonSerializable {

  /** A snapshot without failures. */
  public InstanceSnapshot(String epoch, long version, EntryStore.Exported store, List<ClientSnapshot> clients) {
    this(epoch, version, store, clients, List.of(), List.of());
  }

  /** A snapshot without outstanding actions. */
  public InstanceSnapshot(String epoch, long version, EntryStore.Exported store, List<ClientSnapshot> clients,
      List<FailureSnapshot> failures) {
    this(epoch, version, store, clients, failures, List.of());
  }

  /**
   * An enqueued or scheduled action not yet completed.
   *
   * @param id its id
   * @param name the action
   * @param input its input
   * @param userId the user of the mutation that enqueued it, or {@code null}
   * @param runAt when to run it (0: at once)
   */
  public record ActionSnapshot(String id, String name, com.fasterxml.jackson.databind.JsonNode input, String userId, long runAt) {}

  /**
   * One recent failed mutation of a client.
   *
   * @param clientId the client
   * @param mutationId the mutation
   * @param version the instance version of its {@code MutationFailed}
   * @param code the error code
   * @param message the error message
   */
  public record FailureSnapshot(String clientId, long mutationId, long version, io.syncedstore.api.ErrorCode code,
      String message) {}

  /**
   * One client's record.
   *
   * @param clientId the client
   * @param clientGroupId its group
   * @param userId the user that owns the client id, or {@code null}
   * @param lastMutationId the last mutation id processed
   * @param version the instance version at which it last changed
   */
  public record ClientSnapshot(String clientId, String clientGroupId, String userId, long lastMutationId, long version) {}
}
