package io.syncedstore.persistence;

import com.typesafe.config.Config;
import io.syncedstore.runtime.ActionWakeups;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link ActionWakeups} list in the journal's database ({@code synced_store_action_wakeups}):
 * one row per instance with outstanding actions. Written on one background thread, in order,
 * right after the events that change it are persisted; a crash in that window (milliseconds)
 * leaves the instance to wake when something touches it, as before this list existed.
 */
final class JdbcActionWakeups implements ActionWakeups.Store, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(JdbcActionWakeups.class);

  private final String url;
  private final String user;
  private final String password;
  private final String insert;
  private final ExecutorService executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(10_000), r -> {
    Thread t = new Thread(r, "action-wakeups");
    t.setDaemon(true);
    return t;
  });

  JdbcActionWakeups(Config config) {
    Config db = config.getConfig("pekko-persistence-jdbc.shared-databases.slick.db");
    this.url = db.getString("url");
    this.user = db.getString("user");
    this.password = db.getString("password");
    this.insert = "postgres".equals(config.getString("synced-store.persistence.dialect"))
        ? "INSERT INTO synced_store_action_wakeups (persistence_id) VALUES (?) ON CONFLICT DO NOTHING"
        : "MERGE INTO synced_store_action_wakeups (persistence_id) KEY (persistence_id) VALUES (?)";
  }

  @Override
  public void set(String persistenceId, boolean outstanding) {
    try {
      executor.execute(() -> write(persistenceId, outstanding));
    } catch (RejectedExecutionException e) {
      log.warn("skipped recording whether [{}] has outstanding actions: too many writes queued", persistenceId);
    }
  }

  private void write(String persistenceId, boolean outstanding) {
    String sql = outstanding ? insert : "DELETE FROM synced_store_action_wakeups WHERE persistence_id = ?";
    try (Connection c = DriverManager.getConnection(url, user, password); PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, persistenceId);
      ps.executeUpdate();
    } catch (SQLException e) {
      log.warn("could not record whether [{}] has outstanding actions: {}", persistenceId, e.getMessage());
    }
  }

  @Override
  public List<String> listed() {
    List<String> ids = new ArrayList<>();
    try (Connection c = DriverManager.getConnection(url, user, password);
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
    executor.shutdown();
    try {
      executor.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
