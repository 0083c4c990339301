package io.syncedstore.persistence;

import com.typesafe.config.Config;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Prepares the journal database before the actor system uses it: creates the data directory and
 * runs the pinned pekko-persistence-jdbc DDL ({@code synced-store/schema/<dialect>.sql}, every
 * statement {@code IF NOT EXISTS}), so a fresh machine needs nothing installed.
 */
public final class DatabaseSetup {
  private static final Logger log = LoggerFactory.getLogger(DatabaseSetup.class);

  private DatabaseSetup() {}

  /** The PostgreSQL advisory lock key that serializes schema creation across nodes ("SYNCSTOR" in ASCII). */
  static final long SCHEMA_LOCK = 0x53594e4353544f52L;

  /** Creates the data directory and the journal schema as {@code config} describes. Idempotent. */
  public static void prepare(Config config) {
    Config db = config.getConfig("pekko-persistence-jdbc.shared-databases.slick.db");
    String url = db.getString("url");
    String dialect = config.getString("synced-store.persistence.dialect");
    if (url.startsWith("jdbc:h2:file:")) {
      try {
        Files.createDirectories(Path.of(config.getString("synced-store.data-dir")).toAbsolutePath());
      } catch (IOException e) {
        throw new IllegalStateException("cannot create the data directory " + config.getString("synced-store.data-dir"), e);
      }
    }
    if (!config.getBoolean("synced-store.persistence.create-schema")) {
      return;
    }
    try {
      Class.forName(db.getString("driver"));
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException("JDBC driver " + db.getString("driver") + " is not on the class path", e);
    }
    String ddl = readDdl(dialect);
    try (Connection c = DriverManager.getConnection(url, db.getString("user"), db.getString("password"));
        Statement s = c.createStatement()) {
      if ("postgres".equals(dialect)) {
        // Cluster nodes starting together would race on CREATE ... IF NOT EXISTS (PostgreSQL can
        // fail one of two concurrent creates of the same table): one node at a time. The lock is
        // the connection's and goes with it.
        s.execute("SELECT pg_advisory_lock(" + SCHEMA_LOCK + ")");
      }
      for (String statement : ddl.split(";")) {
        if (!statement.isBlank()) {
          s.execute(statement);
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create the journal schema at " + redact(url) + ": " + e.getMessage(), e);
    }
    log.info("journal schema ready ({}) at {}", dialect, redact(url));
  }

  private static String readDdl(String dialect) {
    String resource = "/synced-store/schema/" + dialect + ".sql";
    try (InputStream in = DatabaseSetup.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("no schema for dialect '" + dialect + "' (expected resource " + resource + ")");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + resource, e);
    }
  }

  /** @return {@code url} without its settings (they may carry credentials) */
  static String redact(String url) {
    int semicolon = url.indexOf(';');
    int question = url.indexOf('?');
    int cut = semicolon < 0 ? question : question < 0 ? semicolon : Math.min(semicolon, question);
    return cut < 0 ? url : url.substring(0, cut);
  }
}
