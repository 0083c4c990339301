package io.syncedstore.runtime;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * How an instance runs actions ({@code synced-store.actions} in {@code reference.conf}).
 *
 * @param timeout an invocation running longer is abandoned: its caller gets {@code ACTION_TIMEOUT}
 *     and its worker is stopped (its thread is interrupted)
 * @param maxConcurrent invocations running at once per instance
 * @param maxQueued invocations waiting for a free slot per instance; beyond it a call is refused
 *     with {@code OVERLOADED}
 */
public record ActionSettings(Duration timeout, int maxConcurrent, int maxQueued) {
  /** The defaults of {@code reference.conf}. */
  public static final ActionSettings DEFAULT = new ActionSettings(Duration.ofSeconds(30), 4, 64);
  /** The dispatcher action workers run on: a thread pool meant for blocking I/O. */
  public static final String DISPATCHER = "synced-store.actions.dispatcher";

  /** Checks the bounds. */
  public ActionSettings {
    if (timeout.isNegative() || timeout.isZero() || maxConcurrent < 1 || maxQueued < 0) {
      throw new IllegalArgumentException("synced-store.actions: timeout must be > 0, max-concurrent >= 1, max-queued >= 0");
    }
  }

  /** @return the settings under {@code synced-store.actions} */
  public static ActionSettings from(Config config) {
    Config c = config.getConfig("synced-store.actions");
    return new ActionSettings(c.getDuration("timeout"), c.getInt("max-concurrent"), c.getInt("max-queued"));
  }
}
