package io.syncedstore.runtime;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * The engine's settings, read in one place from {@code synced-store.instance} (defaults in this
 * module's {@code reference.conf}).
 *
 * @param snapshotEvery take a snapshot every this many events
 * @param keepSnapshots how many snapshots to keep
 * @param idleTimeout stop an instance with no commands for this long
 * @param maxPendingMutations bound on mutations waiting to be persisted; beyond it pushes are refused with OVERLOADED
 * @param maxTombstones tombstones kept before the oldest are pruned (clients behind them get a full reset)
 * @param maxMutationsPerPush the most mutations one push may carry
 * @param askTimeout how long a caller waits for an instance
 */
public record RuntimeSettings(
    int snapshotEvery,
    int keepSnapshots,
    Duration idleTimeout,
    int maxPendingMutations,
    int maxTombstones,
    int maxMutationsPerPush,
    Duration askTimeout) {

  /** @return the settings under {@code synced-store.instance} of {@code config} */
  public static RuntimeSettings from(Config config) {
    Config c = config.getConfig("synced-store.instance");
    return new RuntimeSettings(
        c.getInt("snapshot-every"),
        c.getInt("keep-snapshots"),
        c.getDuration("idle-timeout"),
        c.getInt("max-pending-mutations"),
        c.getInt("max-tombstones"),
        c.getInt("max-mutations-per-push"),
        c.getDuration("ask-timeout"));
  }
}
