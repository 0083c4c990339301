package io.syncedstore.persistence;

import com.typesafe.config.Config;
import io.syncedstore.runtime.ActionWakeups;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link ActionWakeups} list in the journal's database ({@code synced_store_action_wakeups}):
 * one row per instance with outstanding actions. Changes are kept as the latest state per instance
 * (bounded by the number of instances, never dropped) and written by one background thread right
 * after the events that change them are persisted, retried while the database fails; a crash in
 * that window leaves the instance to wake when something touches it, as before this list existed.
 */
final class JdbcActionWakeups implements ActionWakeups.Store, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(JdbcActionWakeups.class);

  private final JournalDatabase db;
  private final String insert;
  private final java.util.concurrent.ConcurrentHashMap<String, Boolean> pendingWrites = new java.util.concurrent.ConcurrentHashMap<>();
  private final java.util.concurrent.atomic.AtomicBoolean draining = new java.util.concurrent.atomic.AtomicBoolean();
  private final ExecutorService executor = java.util.concurrent.Executors.newSingleThreadExecutor(JournalDatabase.daemon("action-wakeups"));

  JdbcActionWakeups(Config config) {
    this.db = JournalDatabase.of(config);
    this.insert = "postgres".equals(config.getString("synced-store.persistence.dialect"))
        ? "INSERT INTO synced_store_action_wakeups (persistence_id) VALUES (?) ON CONFLICT DO NOTHING"
        : "MERGE INTO synced_store_action_wakeups (persistence_id) KEY (persistence_id) VALUES (?)";
  }

  @Override
  public void set(String persistenceId, boolean outstanding) {
    // The latest state per instance, written by one drain: never dropped, bounded by the number of
    // instances, and a burst of changes costs one connection.
    pendingWrites.put(persistenceId, outstanding);
    if (draining.compareAndSet(false, true)) {
      executor.execute(this::drain);
    }
  }

  private void drain() {
    while (true) {
      draining.set(true);
      if (pendingWrites.isEmpty()) {
        draining.set(false);
        if (pendingWrites.isEmpty() || !draining.compareAndSet(false, true)) {
          return; // nothing came in meanwhile, or another drain took it
        }
      }
      try (Connection c = db.connect();
          PreparedStatement add = c.prepareStatement(insert);
          PreparedStatement remove = c.prepareStatement("DELETE FROM synced_store_action_wakeups WHERE persistence_id = ?")) {
        for (String id : List.copyOf(pendingWrites.keySet())) {
          Boolean outstanding = pendingWrites.remove(id);
          if (outstanding == null) {
            continue;
          }
          PreparedStatement ps = outstanding ? add : remove;
          ps.setString(1, id);
          ps.executeUpdate();
        }
      } catch (SQLException e) {
        log.warn("could not record which instances have outstanding actions (retrying in 1 s): {}", e.getMessage());
        try {
          Thread.sleep(1000);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          draining.set(false);
          return;
        }
      }
    }
  }

  @Override
  public List<String> listed() {
    List<String> ids = new ArrayList<>();
    try (Connection c = db.connect();
        PreparedStatement ps = c.prepareStatement("SELECT persistence_id FROM synced_store_action_wakeups");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        ids.add(rs.getString(1));
      }
    } catch (SQLException e) {
      log.warn("could not read the instances with outstanding actions: {}", e.getMessage());
    }
    return ids;
  }

  /** Finishes queued writes (bounded wait), then stops the thread. */
  @Override
  public void close() {
    JournalDatabase.shutdown(executor);
  }
}
