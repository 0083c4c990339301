package io.syncedstore.runtime;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * The engine's settings, read in one place from {@code synced-store.instance} (defaults in this
 * module's {@code reference.conf}).
 *
 * @param snapshotEvery take a snapshot after at least this many events
 * @param snapshotRowsPerEvent and after at least {@code entries / snapshotRowsPerEvent} events, so
 *     snapshotting a large instance costs at most this many rows per event, amortized
 * @param keepSnapshots how many snapshots to keep
 * @param idleTimeout stop an instance with no commands for this long
 * @param maxPendingMutations bound on mutations waiting to be persisted; beyond it pushes are refused with OVERLOADED
 * @param maxTombstones tombstones kept before the oldest are pruned (clients behind them get a full reset)
 * @param maxMutationsPerPush the most mutations one push may carry
 * @param askTimeout how long a caller waits for an instance
 * @param maxQueuedMessages per connected client: messages handed to its socket and not yet
 *     written out; beyond it the session stops sending single pokes and later sends one catch-up
 * @param maxPushesInFlight per connected client: pushes sent to the instance and not yet answered;
 *     beyond it the session stops reading the socket
 * @param actions how the instance runs actions
 */
public record RuntimeSettings(
    int snapshotEvery,
    int snapshotRowsPerEvent,
    int keepSnapshots,
    Duration idleTimeout,
    int maxPendingMutations,
    int maxTombstones,
    int maxMutationsPerPush,
    Duration askTimeout,
    int maxQueuedMessages,
    int maxPushesInFlight,
    ActionSettings actions) {

  /** The settings with the default session bounds (32 queued messages, 16 pushes in flight). */
  public RuntimeSettings(int snapshotEvery, int snapshotRowsPerEvent, int keepSnapshots, Duration idleTimeout,
      int maxPendingMutations, int maxTombstones, int maxMutationsPerPush, Duration askTimeout) {
    this(snapshotEvery, snapshotRowsPerEvent, keepSnapshots, idleTimeout, maxPendingMutations, maxTombstones,
        maxMutationsPerPush, askTimeout, 32, 16);
  }

  /** The settings with the default action settings. */
  public RuntimeSettings(int snapshotEvery, int snapshotRowsPerEvent, int keepSnapshots, Duration idleTimeout,
      int maxPendingMutations, int maxTombstones, int maxMutationsPerPush, Duration askTimeout, int maxQueuedMessages,
      int maxPushesInFlight) {
    this(snapshotEvery, snapshotRowsPerEvent, keepSnapshots, idleTimeout, maxPendingMutations, maxTombstones,
        maxMutationsPerPush, askTimeout, maxQueuedMessages, maxPushesInFlight, ActionSettings.DEFAULT);
  }

  /**
   * @param actions the action settings
   * @return these settings with {@code actions}
   */
  public RuntimeSettings withActions(ActionSettings actions) {
    return new RuntimeSettings(snapshotEvery, snapshotRowsPerEvent, keepSnapshots, idleTimeout, maxPendingMutations,
        maxTombstones, maxMutationsPerPush, askTimeout, maxQueuedMessages, maxPushesInFlight, actions);
  }

  /** Checks the snapshot settings. */
  public RuntimeSettings {
    if (snapshotEvery < 1 || snapshotRowsPerEvent < 1 || keepSnapshots < 1) {
      throw new IllegalArgumentException("snapshot-every, snapshot-rows-per-event and keep-snapshots must be >= 1");
    }
    if (maxQueuedMessages < 1 || maxPushesInFlight < 1) {
      throw new IllegalArgumentException("session.max-queued-messages and session.max-pushes-in-flight must be >= 1");
    }
  }

  /**
   * @param entries the instance's live entries
   * @return how many events to wait between snapshots of an instance of this size
   */
  public long snapshotInterval(int entries) {
    return Math.max(snapshotEvery, entries / snapshotRowsPerEvent);
  }

  /** @return the settings under {@code synced-store.instance} of {@code config} */
  public static RuntimeSettings from(Config config) {
    Config c = config.getConfig("synced-store.instance");
    return new RuntimeSettings(
        c.getInt("snapshot-every"),
        c.getInt("snapshot-rows-per-event"),
        c.getInt("keep-snapshots"),
        c.getDuration("idle-timeout"),
        c.getInt("max-pending-mutations"),
        c.getInt("max-tombstones"),
        c.getInt("max-mutations-per-push"),
        c.getDuration("ask-timeout"),
        config.getInt("synced-store.session.max-queued-messages"),
        config.getInt("synced-store.session.max-pushes-in-flight"),
        ActionSettings.from(config));
  }
}
