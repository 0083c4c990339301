package io.syncedstore.loadtest.cluster;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Polling waits. Every bound is a bound on correctness (so nothing hangs), never a speed claim. */
final class Waits {
  private Waits() {}

  /**
   * Polls {@code condition} every {@code pollMs} until it holds.
   *
   * @return how long it took
   * @throws AssertionError naming what was awaited and {@code state} when {@code bound} passes first
   */
  static Duration until(String what, Duration bound, long pollMs, BooleanSupplier condition, Supplier<String> state) {
    long start = System.nanoTime();
    long deadline = start + bound.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + bound.toSeconds() + " s waiting for " + what + "; " + state.get());
      }
      sleep(pollMs);
    }
    return Duration.ofNanos(System.nanoTime() - start);
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  static String seconds(Duration d) {
    return String.format(java.util.Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
  }
}
