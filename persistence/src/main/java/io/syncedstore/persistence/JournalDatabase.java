package io.syncedstore.persistence;

import com.typesafe.config.Config;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.concurrent.ThreadFactory;

/**
 * The journal's database as the engine's own background writers reach it (plain JDBC, one
 * connection at a time): the URL and credentials of {@code pekko-persistence-jdbc}'s shared
 * database, and daemon threads named for what they do.
 *
 * @param url the JDBC URL
 * @param user the user
 * @param password the password
 */
record JournalDatabase(String url, String user, String password) {
  static JournalDatabase of(Config config) {
    Config db = config.getConfig("pekko-persistence-jdbc.shared-databases.slick.db");
    return new JournalDatabase(db.getString("url"), db.getString("user"), db.getString("password"));
  }

  Connection connect() throws SQLException {
    return DriverManager.getConnection(url, user, password);
  }

  /** Finishes queued work (at most 10 s), then stops {@code executor}'s thread. */
  static void shutdown(java.util.concurrent.ExecutorService executor) {
    executor.shutdown();
    try {
      executor.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }
}
