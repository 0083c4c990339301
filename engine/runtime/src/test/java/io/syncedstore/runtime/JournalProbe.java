package io.syncedstore.runtime;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.persistence.testkit.JournalOperation;
import org.apache.pekko.persistence.testkit.ProcessingPolicy;
import org.apache.pekko.persistence.testkit.ProcessingResult;
import org.apache.pekko.persistence.testkit.ProcessingSuccess;
import org.apache.pekko.persistence.testkit.StorageFailure;
import org.apache.pekko.persistence.testkit.WriteEvents;

/**
 * A journal policy for the persistence testkit that records every atomic write of one persistence
 * id, and can hold the next write until released (so commands pile up behind it) or fail the
 * next writes.
 */
final class JournalProbe implements ProcessingPolicy<JournalOperation> {
  private final String persistenceId;
  /** The batches written successfully, one list per atomic write, in order. */
  final List<List<Object>> writes = new CopyOnWriteArrayList<>();
  /** Batches that were failed on purpose. */
  final List<List<Object>> failed = new CopyOnWriteArrayList<>();
  private final AtomicInteger failNext = new AtomicInteger();
  private final AtomicBoolean holdPending = new AtomicBoolean();
  private volatile CountDownLatch holdEntered = new CountDownLatch(1);
  private volatile CountDownLatch holdRelease = new CountDownLatch(1);

  JournalProbe(String persistenceId) {
    this.persistenceId = persistenceId;
  }

  /** The next write blocks (the journal does not answer) until {@link #release()}. */
  void holdNextWrite() {
    holdRelease = new CountDownLatch(1);
    holdEntered = new CountDownLatch(1);
    holdPending.set(true);
  }

  /** Waits until the held write reached the journal: the instance is now persisting. */
  void awaitHeld() throws InterruptedException {
    if (!holdEntered.await(5, TimeUnit.SECONDS)) {
      throw new AssertionError("no write reached the journal");
    }
  }

  void release() {
    holdRelease.countDown();
  }

  /** The next {@code n} writes to arrive (not counting one already held) fail with a storage failure. */
  void failNextWrites(int n) {
    failNext.set(n);
  }

  int eventsWritten() {
    return writes.stream().mapToInt(List::size).sum();
  }

  @Override
  public ProcessingResult tryProcess(String pid, JournalOperation op) {
    if (!pid.equals(persistenceId) || !(op instanceof WriteEvents write)) {
      return ProcessingSuccess.getInstance();
    }
    // decided when the write arrives, so a failure set up while a write is held applies to the next one
    boolean fail = failNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0;
    if (holdPending.compareAndSet(true, false)) {
      CountDownLatch release = holdRelease;
      holdEntered.countDown();
      try {
        // a bound so a broken test cannot hang the journal forever
        release.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    List<Object> batch = List.copyOf(write.getBatch());
    if (fail) {
      failed.add(batch);
      return StorageFailure.create(new IllegalStateException("simulated journal outage"));
    }
    writes.add(batch);
    return ProcessingSuccess.getInstance();
  }
}
