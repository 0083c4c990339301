package io.syncedstore.persistence;

import com.typesafe.config.Config;
import io.syncedstore.runtime.SnapshotPruner;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes old snapshots from pekko-persistence-jdbc's {@code snapshot} table (the same statement
 * works on H2 with {@code DATABASE_TO_UPPER=false} and on PostgreSQL). Runs on one background
 * thread with a bounded queue: a deletion that does not fit is skipped, and the next snapshot of
 * that instance deletes everything older anyway.
 */
final class JdbcSnapshotPruner implements SnapshotPruner, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(JdbcSnapshotPruner.class);
  private static final String DELETE = "DELETE FROM snapshot WHERE persistence_id = ? AND sequence_number < ?";

  private final JournalDatabase db;
  private final ExecutorService executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(1000),
      JournalDatabase.daemon("snapshot-pruner"));

  JdbcSnapshotPruner(Config config) {
    this.db = JournalDatabase.of(config);
  }

  @Override
  public void deleteBefore(String persistenceId, long keepFromSequenceNr) {
    try {
      executor.execute(() -> delete(persistenceId, keepFromSequenceNr));
    } catch (RejectedExecutionException e) {
      log.warn("skipped deleting old snapshots of [{}]: too many deletions queued", persistenceId);
    }
  }

  private void delete(String persistenceId, long keepFromSequenceNr) {
    try (Connection c = db.connect();
        PreparedStatement ps = c.prepareStatement(DELETE)) {
      ps.setString(1, persistenceId);
      ps.setLong(2, keepFromSequenceNr);
      int deleted = ps.executeUpdate();
      log.debug("deleted [{}] snapshots of [{}] older than sequence number [{}]", deleted, persistenceId, keepFromSequenceNr);
    } catch (Exception e) {
      log.warn("could not delete old snapshots of [{}]: {}", persistenceId, e.getMessage());
    }
  }

  /** Finishes queued deletions (bounded wait), then stops the thread. */
  @Override
  public void close() {
    JournalDatabase.shutdown(executor);
  }
}
