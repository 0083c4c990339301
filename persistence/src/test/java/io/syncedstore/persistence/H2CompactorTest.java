package io.syncedstore.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The H2 journal's compaction on a real H2 file with the journal's URL settings: single-row
 * commits of an append-only table leave one chunk each behind, which H2 never rewrites by itself
 * with {@code WRITE_DELAY=0}; {@link H2Compactor#compactOnce} does, and every committed row stays.
 * (The retention time is cut to 200 ms here so that chunks become eligible within the test; the
 * server keeps H2's default of 45 s.)
 */
class H2CompactorTest {
  @TempDir
  Path dir;

  @Test
  void compactionRewritesTheChunksThatSingleRowCommitsLeaveBehindAndKeepsEveryRow() throws Exception {
    JournalDatabase db = new JournalDatabase("jdbc:h2:file:" + dir.resolve("journal")
        + ";DATABASE_TO_UPPER=false;WRITE_DELAY=0;MAX_LENGTH_INPLACE_LOB=4096;RETENTION_TIME=200", "sa", "");
    int rows = 2000;
    try (Connection keepOpen = db.connect()) { // as the server's pool does
      try (Statement s = keepOpen.createStatement()) {
        s.execute("CREATE TABLE journal (ordering BIGINT AUTO_INCREMENT PRIMARY KEY, payload VARBINARY(2000) NOT NULL)");
      }
      keepOpen.setAutoCommit(true);
      try (PreparedStatement insert = keepOpen.prepareStatement("INSERT INTO journal (payload) VALUES (?)")) {
        byte[] payload = new byte[1000];
        for (int i = 0; i < rows; i++) {
          payload[0] = (byte) i;
          insert.setBytes(1, payload);
          insert.executeUpdate(); // one commit each, as the journal's group commits of many instances
        }
      }
      Thread.sleep(500); // past the retention time
      long before = chunks(keepOpen);
      assertTrue(before > rows / 4, "single-row commits leave chunks behind: " + before);
      // nothing else rewrites them: a further commit does not bring the count down
      try (Statement s = keepOpen.createStatement()) {
        s.execute("CHECKPOINT SYNC");
      }
      assertTrue(chunks(keepOpen) > before / 2, "without compaction the chunks stay: " + chunks(keepOpen) + " of " + before);

      for (int i = 0; i < 50 && H2Compactor.compactOnce(db); i++) {
        Thread.sleep(250); // the rewritten chunks age past the retention time and are dropped at the next commit
      }
      try (Statement s = keepOpen.createStatement()) {
        s.execute("CHECKPOINT SYNC");
      }
      Thread.sleep(500);
      H2Compactor.compactOnce(db);
      long after = chunks(keepOpen);
      System.out.printf("H2 chunks after %d single-row commits: %d, after compaction: %d%n", rows, before, after);
      assertTrue(after < before / 4, "compaction rewrote them: " + before + " -> " + after);
      try (Statement s = keepOpen.createStatement(); ResultSet r = s.executeQuery("SELECT COUNT(*), SUM(ordering) FROM journal")) {
        r.next();
        assertEquals(rows, r.getLong(1), "every committed row is still there");
        assertEquals((long) rows * (rows + 1) / 2, r.getLong(2));
      }
    }
  }

  private static long chunks(Connection c) throws Exception {
    try (Statement s = c.createStatement();
        ResultSet r = s.executeQuery("SELECT SETTING_VALUE FROM INFORMATION_SCHEMA.SETTINGS WHERE SETTING_NAME = 'info.CHUNK_COUNT'")) {
      assertTrue(r.next(), "H2 reports info.CHUNK_COUNT");
      return Long.parseLong(r.getString(1));
    }
  }
}
