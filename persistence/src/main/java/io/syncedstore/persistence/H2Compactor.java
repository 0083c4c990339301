package io.syncedstore.persistence;

import java.sql.Connection;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compacts the embedded H2 journal while the server runs ({@code docs/PERSISTENCE.md}). The
 * journal's URL has {@code WRITE_DELAY=0}, so that every commit is durable when it returns; H2
 * then starts no background writer, and all of its automatic compaction runs on that thread: chunks
 * that still hold a live page of the append-only journal are never rewritten, and their count (kept
 * in memory) and the file grow with every commit (docs/BENCHMARKS.md, "soak"). This rewrites the
 * sparsest chunks once per {@code synced-store.persistence.h2-compact-interval} through MVStore's
 * {@code compact} (H2's internal API: there is no SQL for it), which changes nothing of the commit
 * path. Never {@code compactFile}: it sets the retention time to 0.
 */
final class H2Compactor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(H2Compactor.class);
  /** Fill rate below which a chunk is rewritten, in percent. */
  private static final int TARGET_FILL_RATE = 90;
  /** The most live data one call moves, so a call holds H2's store lock briefly. */
  private static final int MAX_BYTES_PER_CALL = 16 << 20;

  private final JournalDatabase db;
  private final ScheduledExecutorService executor;
  private volatile boolean closed;

  private H2Compactor(JournalDatabase db, Duration interval) {
    this.db = db;
    this.executor = Executors.newSingleThreadScheduledExecutor(JournalDatabase.daemon("h2-compactor"));
    executor.scheduleWithFixedDelay(this::compactQuietly, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * @return a running compactor for the journal of {@code db} when it is an H2 file database and
   *     {@code interval} is positive, else one that does nothing
   */
  static AutoCloseable start(JournalDatabase db, Duration interval) {
    if (!db.url().startsWith("jdbc:h2:file:") || interval.isZero() || interval.isNegative()) {
      return () -> { };
    }
    return new H2Compactor(db, interval);
  }

  private void compactQuietly() {
    if (closed) {
      return;
    }
    try {
      compactOnce(db);
    } catch (Exception e) {
      log.warn("could not compact the H2 journal: {}", e.toString());
    }
  }

  /**
   * Rewrites the sparsest chunks of {@code db}'s MVStore, at most 16 MiB of live data.
   *
   * @return whether anything was rewritten
   */
  static boolean compactOnce(JournalDatabase db) throws Exception {
    try (Connection c = db.connect()) {
      org.h2.jdbc.JdbcConnection h2 = c.unwrap(org.h2.jdbc.JdbcConnection.class);
      org.h2.mvstore.MVStore store = ((org.h2.engine.SessionLocal) h2.getSession()).getDatabase().getStore().getMvStore();
      if (store.isClosed() || !store.compact(TARGET_FILL_RATE, MAX_BYTES_PER_CALL)) {
        return false;
      }
      store.commit();
      return true;
    }
  }

  /** Stops compacting (waits, bounded, for a call in progress); call it before the journal's pool closes. */
  @Override
  public void close() {
    closed = true;
    JournalDatabase.shutdown(executor);
  }
}
