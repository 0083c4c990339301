package io.syncedstore.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.syncedstore.api.Json;
import io.syncedstore.api.store.TableAddress;
import io.syncedstore.api.store.Write;
import io.syncedstore.persistence.DatabaseSetup;
import io.syncedstore.runtime.journal.MutationApplied;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

/**
 * The floor under every journal write: journal-shaped rows (the {@code event_journal} DDL the
 * server creates, a real serialized {@code MutationApplied} of {@code setTodo} as payload) inserted
 * straight through JDBC into the database {@code config} names, with the journal's exact URL
 * settings. Used by {@link EngineBenchmark} (100 rows per commit) and {@link SyncBenchmark} (one
 * row per commit).
 */
final class RawJournal implements AutoCloseable {
  private static final String INSERT = "INSERT INTO \"event_journal\" (\"deleted\", \"persistence_id\", \"sequence_number\", \"writer\","
      + " \"write_timestamp\", \"adapter_manifest\", \"event_payload\", \"event_ser_id\", \"event_ser_manifest\")"
      + " VALUES (false, ?, ?, ?, ?, '', ?, 33, ?)";

  private final Connection connection;
  private final PreparedStatement insert;
  private final byte[] payload;

  /**
   * Creates the journal schema (as the server does at start-up) and opens one connection.
   *
   * @param config a resolved configuration; its {@code synced-store.data-dir} should be a fresh directory
   */
  RawJournal(Config config) throws Exception {
    DatabaseSetup.prepare(config);
    Config db = config.getConfig("pekko-persistence-jdbc.shared-databases.slick.db");
    this.connection = DriverManager.getConnection(db.getString("url"), db.getString("user"), db.getString("password"));
    connection.setAutoCommit(false);
    this.insert = connection.prepareStatement(INSERT);
    this.payload = realisticPayload();
  }

  /** @return a {@code MutationApplied} of setTodo as the journal stores it, to size raw rows like real ones */
  static byte[] realisticPayload() throws Exception {
    ObjectNode args = Json.mapper().createObjectNode().put("id", "client-17-000123").put("text", "buy milk and eggs")
        .put("updatedAt", 1_700_000_000_000L);
    JsonNode value = args.deepCopy().put("done", false);
    MutationApplied event = new MutationApplied("group-17", "client-17", 123, "setTodo", args, null, 1_700_000_000_000L,
        List.of(Write.put(TableAddress.publicTable("todos"), "client-17-000123", "", value)), List.of());
    return Json.mapper().writeValueAsBytes(event);
  }

  /** Adds row {@code sequenceNumber} to the current batch. */
  void add(long sequenceNumber) throws SQLException {
    insert.setString(1, "todo|bench");
    insert.setLong(2, sequenceNumber);
    insert.setString(3, "writer-uuid-0000");
    insert.setLong(4, System.currentTimeMillis());
    insert.setBytes(5, payload);
    insert.setString(6, "io.syncedstore.runtime.journal.MutationApplied");
    insert.addBatch();
  }

  /** Inserts the batch and commits it: when this returns, the rows are in the file (WRITE_DELAY=0). */
  void commit() throws SQLException {
    insert.executeBatch();
    connection.commit();
  }

  @Override
  public void close() throws SQLException {
    insert.close();
    connection.close();
  }
}
