package io.syncedstore.client.impl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.Json;
import io.syncedstore.api.Tier;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.store.Write;
import io.syncedstore.client.ClientStorage;
import io.syncedstore.client.ClientStorage.Stored;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link DirectoryStorage} on real files: round trips, locking, torn and corrupt logs, compaction. */
class DirectoryStorageTest {
  private static final long NO_COMPACTION = Long.MAX_VALUE;

  @TempDir
  Path dir;

  // ---- helpers ---------------------------------------------------------------------------

  private static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static MutationRequest mutation(long id, String argsJson) {
    return new MutationRequest(id, "mutator" + id, json(argsJson), 1_700_000_000_000L + id);
  }

  private static Write put(String table, String itemKey, String sortKey, String valueJson) {
    return new Write(Tier.PUBLIC, null, table, itemKey, sortKey, json(valueJson));
  }

  private static Write privatePut(String owner, String table, String itemKey, String sortKey, String valueJson) {
    return new Write(Tier.PRIVATE, owner, table, itemKey, sortKey, json(valueJson));
  }

  private static Write delete(String table, String itemKey) {
    return new Write(Tier.PUBLIC, null, table, itemKey, "", null);
  }

  private static Write privateDelete(String owner, String table, String itemKey) {
    return new Write(Tier.PRIVATE, owner, table, itemKey, "", null);
  }

  private DirectoryStorage open() {
    return DirectoryStorage.open(dir, false, NO_COMPACTION);
  }

  private Stored reload() {
    try (DirectoryStorage s = open()) {
      return s.load().orElseThrow(() -> new AssertionError("nothing loaded from " + dir));
    }
  }

  private Path log(long generation) {
    return dir.resolve("log-" + generation + ".jsonl");
  }

  /** Compares two stored states; the confirmed rows in any order (the contract gives none). */
  private static void assertStored(Stored expected, Stored actual) {
    assertEquals(expected.clientGroupId(), actual.clientGroupId(), "clientGroupId");
    assertEquals(expected.clientId(), actual.clientId(), "clientId");
    assertEquals(expected.userId(), actual.userId(), "userId");
    assertEquals(expected.cookie(), actual.cookie(), "cookie");
    assertEquals(expected.confirmed().size(), actual.confirmed().size(), "confirmed rows: " + actual.confirmed());
    assertEquals(new HashSet<>(expected.confirmed()), new HashSet<>(actual.confirmed()), "confirmed rows");
    assertEquals(expected.pending(), actual.pending(), "pending, in id order");
    assertEquals(expected.nextMutationId(), actual.nextMutationId(), "nextMutationId");
    assertEquals(expected.sequences(), actual.sequences(), "sequences");
  }

  /** Records a varied history; {@link #HISTORY} is what it leaves. */
  private static void recordHistory(ClientStorage s) {
    s.identity("group-1", "client-1");
    s.pendingAdded(mutation(1, "{\"a\":1}"));
    s.pendingAdded(mutation(2, "[1,2,{\"x\":null}]"));
    s.sequenceAdvanced("orders", 1);
    s.pendingAdded(mutation(3, "\"zürich ✓ 😀\""));
    s.pendingAdded(mutation(4, "{\"big\":9007199254740993,\"dec\":1.5,\"neg\":-3}"));
    s.pendingAdded(mutation(5, "{}"));
    s.pendingRemoved(1);
    s.confirmedChanged("cookie-1", "user-1", false, List.of(
        put("todos", "a", "", "{\"title\":\"A\"}"),
        put("todos", "b", "", "{\"title\":\"B\"}"),
        privatePut("user-1", "notes", "n1", "s1", "{\"text\":\"first\"}")));
    s.pendingRemoved(3);
    s.sequenceAdvanced("orders", 2);
    // A clear drops a and b; the private note is rewritten.
    s.confirmedChanged("cookie-2", "user-1", true, List.of(
        put("todos", "c", "", "{\"title\":\"C\"}"),
        privatePut("user-1", "notes", "n1", "s2", "{\"text\":\"second\"}"),
        privatePut("user-1", "notes", "n2", "", "{\"text\":\"gone soon\"}")));
    s.pendingRemoved(5); // the highest id: nextMutationId must stay above it
    s.sequenceAdvanced("invoices", 10);
    s.confirmedChanged("cookie-3", "user-2", false, List.of(
        delete("todos", "c"),
        put("todos", "d", "0005", "{\"title\":\"D\",\"n\":1}"),
        // same table and key as user-1's note: another owner, another row
        privatePut("user-2", "notes", "n1", "", "{\"text\":\"theirs\"}"),
        privateDelete("user-1", "notes", "n2"),
        delete("todos", "never-existed"),
        // same key in the public tier: another row too
        put("notes", "n1", "", "\"public n1\""),
        put("todos", "d", "0006", "{\"title\":\"D2\",\"n\":2.25}")));
    s.sequenceAdvanced("orders", 3);
  }

  private static final Stored HISTORY = new Stored("group-1", "client-1", "user-2", "cookie-3",
      List.of(
          privatePut("user-1", "notes", "n1", "s2", "{\"text\":\"second\"}"),
          put("todos", "d", "0006", "{\"title\":\"D2\",\"n\":2.25}"),
          privatePut("user-2", "notes", "n1", "", "{\"text\":\"theirs\"}"),
          put("notes", "n1", "", "\"public n1\"")),
      List.of(mutation(2, "[1,2,{\"x\":null}]"), mutation(4, "{\"big\":9007199254740993,\"dec\":1.5,\"neg\":-3}")),
      6, Map.of("orders", 3L, "invoices", 10L));

  // ---- round trips -----------------------------------------------------------------------

  @Test
  void freshDirectoryLoadsNothing() {
    Path fresh = dir.resolve("not/yet/there");
    try (DirectoryStorage s = DirectoryStorage.open(fresh, false, NO_COMPACTION)) {
      assertEquals(Optional.empty(), s.load());
      assertEquals(0, s.logBytes());
    }
    assertTrue(Files.isDirectory(fresh));
    try (DirectoryStorage s = DirectoryStorage.open(fresh, false, NO_COMPACTION)) {
      assertEquals(Optional.empty(), s.load(), "an empty log is still a new client");
    }
  }

  @Test
  void roundTripGivesBackExactlyWhatWasRecorded() {
    try (DirectoryStorage s = open()) {
      assertEquals(Optional.empty(), s.load());
      recordHistory(s);
      assertEquals(Optional.empty(), s.load(), "load() is what was there at open");
      assertEquals(sizeOf(log(0)), s.logBytes());
    }
    assertStored(HISTORY, reload());
    assertStored(HISTORY, reload()); // loading changes nothing
  }

  @Test
  void pendingComeBackInIdOrderWhateverTheRecordingOrder() {
    try (DirectoryStorage s = open()) {
      s.identity("g", "c");
      s.pendingAdded(mutation(7, "7"));
      s.pendingAdded(mutation(3, "3"));
      s.pendingAdded(mutation(12, "12"));
      s.pendingAdded(mutation(5, "5"));
      s.pendingRemoved(12);
      s.pendingRemoved(99); // unknown: harmless
    }
    Stored loaded = reload();
    assertEquals(List.of(mutation(3, "3"), mutation(5, "5"), mutation(7, "7")), loaded.pending());
    assertEquals(13, loaded.nextMutationId());
    assertNull(loaded.cookie());
    assertNull(loaded.userId());
    assertEquals(List.of(), loaded.confirmed());
    assertEquals(Map.of(), loaded.sequences());
  }

  @Test
  void identityOnlyStartsWithNextMutationIdOne() {
    try (DirectoryStorage s = open()) {
      s.identity("g", "c");
    }
    assertStored(new Stored("g", "c", null, null, List.of(), List.of(), 1, Map.of()), reload());
  }

  @Test
  void aPokeWithoutUserForgetsTheUser() {
    try (DirectoryStorage s = open()) {
      s.identity("g", "c");
      s.confirmedChanged("k1", "alice", false, List.of(put("t", "a", "", "1")));
      s.confirmedChanged("k2", null, false, List.of());
    }
    Stored loaded = reload();
    assertEquals("k2", loaded.cookie());
    assertNull(loaded.userId());
    assertEquals(List.of(put("t", "a", "", "1")), loaded.confirmed());
  }

  @Test
  void appendsAfterReopenContinueTheSameState() {
    try (DirectoryStorage s = open()) {
      recordHistory(s);
    }
    try (DirectoryStorage s = open()) {
      assertStored(HISTORY, s.load().orElseThrow());
      long before = s.logBytes();
      s.identity("group-1", "client-1"); // the loaded identity: nothing to record
      assertEquals(before, s.logBytes());
      s.pendingAdded(mutation(6, "{\"again\":true}"));
      s.pendingRemoved(2);
      s.confirmedChanged("cookie-4", "user-2", false, List.of(delete("todos", "d")));
      s.sequenceAdvanced("orders", 4);
    }
    assertStored(new Stored("group-1", "client-1", "user-2", "cookie-4",
        List.of(
            privatePut("user-1", "notes", "n1", "s2", "{\"text\":\"second\"}"),
            privatePut("user-2", "notes", "n1", "", "{\"text\":\"theirs\"}"),
            put("notes", "n1", "", "\"public n1\"")),
        List.of(mutation(4, "{\"big\":9007199254740993,\"dec\":1.5,\"neg\":-3}"), mutation(6, "{\"again\":true}")),
        7, Map.of("orders", 4L, "invoices", 10L)), reload());
  }

  @Test
  void durableModeRoundTrips() {
    try (ClientStorage s = ClientStorage.durableDirectory(dir)) {
      assertEquals(Optional.empty(), s.load());
      recordHistory(s);
    }
    try (ClientStorage s = ClientStorage.durableDirectory(dir)) {
      assertStored(HISTORY, s.load().orElseThrow());
      s.pendingRemoved(2);
    }
    try (ClientStorage s = ClientStorage.directory(dir)) {
      Stored loaded = s.load().orElseThrow();
      assertEquals(List.of(mutation(4, "{\"big\":9007199254740993,\"dec\":1.5,\"neg\":-3}")), loaded.pending());
      assertEquals(6, loaded.nextMutationId());
    }
  }

  // ---- locking ---------------------------------------------------------------------------

  @Test
  void aSecondOpenWhileOpenIsRefusedNamingTheDirectory() {
    DirectoryStorage first = open();
    try {
      first.identity("g", "c");
      IllegalStateException e = assertThrows(IllegalStateException.class, this::open);
      assertTrue(e.getMessage().contains(dir.toString()), e.getMessage());
      // The refused open must not disturb the first: it still records.
      first.sequenceAdvanced("s", 1);
      assertThrows(IllegalStateException.class, () -> ClientStorage.directory(dir));
    } finally {
      first.close();
    }
    try (DirectoryStorage again = open()) {
      assertEquals(Map.of("s", 1L), again.load().orElseThrow().sequences());
    }
  }

  @Test
  void anotherProcessIsRefusedWhileThisOneHoldsTheDirectory() throws Exception {
    try (DirectoryStorage s = open()) {
      s.identity("g", "c");
      String out = runOtherProcess("try");
      assertTrue(out.startsWith("refused:") && out.contains(dir.toString()), out);
    }
    assertEquals("opened", runOtherProcess("try"));
  }

  @Test
  void aRefusedOpenInThisProcessDoesNotLetAnotherProcessIn() throws Exception {
    try (DirectoryStorage s = open()) {
      s.identity("g", "c");
      // Closing any channel on the lock file drops the process's POSIX lock: the refused open
      // must not do that.
      assertThrows(IllegalStateException.class, this::open);
      assertThrows(IllegalStateException.class, () -> DirectoryStorage.open(dir.resolve("."), false, NO_COMPACTION));
      String out = runOtherProcess("try");
      assertTrue(out.startsWith("refused:") && out.contains(dir.toString()), out);
    }
    assertEquals("opened", runOtherProcess("try"));
  }

  @Test
  void thisProcessIsRefusedWhileAnotherHoldsTheDirectory() throws Exception {
    Process holder = startOtherProcess("hold");
    try (BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8))) {
      assertEquals("holding", out.readLine(), "the other process did not report holding the lock");
      IllegalStateException e = assertThrows(IllegalStateException.class, this::open);
      assertTrue(e.getMessage().contains(dir.toString()), e.getMessage());
      holder.getOutputStream().close(); // tells it to close and exit
      assertTrue(holder.waitFor(30, TimeUnit.SECONDS), "the other process did not exit");
      assertEquals(0, holder.exitValue());
    } finally {
      holder.destroyForcibly();
    }
    try (DirectoryStorage s = open()) {
      assertEquals("other", s.load().orElseThrow().clientId());
    }
  }

  private Process startOtherProcess(String mode) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    return new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), OtherProcess.class.getName(), mode, dir.toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
  }

  private String runOtherProcess(String mode) throws Exception {
    Process p = startOtherProcess(mode);
    try {
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the other process did not exit");
      return out;
    } finally {
      p.destroyForcibly();
    }
  }

  /** Another client process on the same directory. */
  static final class OtherProcess {
    public static void main(String[] args) throws IOException {
      Path directory = Path.of(args[1]);
      DirectoryStorage s;
      try {
        s = DirectoryStorage.open(directory, false, NO_COMPACTION);
      } catch (IllegalStateException e) {
        System.out.println("refused: " + e.getMessage());
        return;
      }
      try {
        if (args[0].equals("hold")) {
          s.identity("g", "other");
          System.out.println("holding");
          System.out.flush();
          while (System.in.read() >= 0) {
            // until the test closes our stdin
          }
        } else {
          System.out.println("opened");
        }
      } finally {
        s.close();
      }
    }
  }

  // ---- torn and corrupt logs -------------------------------------------------------------

  private static long sizeOf(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void appendBytes(Path p, byte[] bytes) throws IOException {
    Files.write(p, bytes, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  @Test
  void aTornLastLineIsDroppedAndTruncated() throws IOException {
    try (DirectoryStorage s = open()) {
      recordHistory(s);
    }
    long goodSize = sizeOf(log(0));
    // A crash in the middle of a line, cut inside a multi-byte character.
    byte[] torn = "{\"t\":\"add\",\"m\":{\"id\":9,\"name\":\"x\",\"args\":\"caf\u00e9 ✓".getBytes(StandardCharsets.UTF_8);
    appendBytes(log(0), Arrays.copyOf(torn, torn.length - 1));

    try (DirectoryStorage s = open()) {
      assertStored(HISTORY, s.load().orElseThrow());
      assertEquals(goodSize, sizeOf(log(0)), "the torn bytes are truncated");
      assertEquals(goodSize, s.logBytes());
      s.pendingAdded(mutation(6, "{\"after\":\"torn\"}"));
      s.sequenceAdvanced("orders", 4);
    }
    Stored loaded = reload();
    assertEquals(List.of(HISTORY.pending().get(0), HISTORY.pending().get(1), mutation(6, "{\"after\":\"torn\"}")), loaded.pending());
    assertEquals(7, loaded.nextMutationId());
    assertEquals(Map.of("orders", 4L, "invoices", 10L), loaded.sequences());
    assertEquals(HISTORY.cookie(), loaded.cookie());
  }

  @Test
  void aTornFirstLineLeavesANewClient() throws IOException {
    Files.createDirectories(dir);
    appendBytes(log(0), "{\"t\":\"id\",\"g\":\"gr".getBytes(StandardCharsets.UTF_8));
    try (DirectoryStorage s = open()) {
      assertEquals(Optional.empty(), s.load());
      assertEquals(0, sizeOf(log(0)));
      s.identity("g", "c");
    }
    assertEquals("c", reload().clientId());
  }

  @Test
  void aCompleteLastLineWithoutItsNewlineDoesNotSwallowTheNextRecord() throws IOException {
    try (DirectoryStorage s = open()) {
      s.identity("g", "c");
      s.sequenceAdvanced("a", 1);
    }
    // The crash came after the record's bytes and before its newline.
    appendBytes(log(0), "{\"t\":\"seq\",\"k\":\"a\",\"v\":2}".getBytes(StandardCharsets.UTF_8));
    try (DirectoryStorage s = open()) {
      long a = s.load().orElseThrow().sequences().get("a");
      assertTrue(a == 1 || a == 2, "a = " + a);
      s.sequenceAdvanced("b", 7);
      s.pendingAdded(mutation(1, "1"));
    }
    Stored loaded = reload();
    assertEquals(7L, loaded.sequences().get("b"), "the record appended after the unterminated line was lost: " + loaded);
    assertEquals(List.of(mutation(1, "1")), loaded.pending());
  }

  @Test
  void aCorruptLineBeforeTheEndIsAnErrorNamingFileAndLine() throws IOException {
    try (DirectoryStorage s = open()) {
      s.identity("g", "c");
      s.sequenceAdvanced("a", 1);
      s.sequenceAdvanced("a", 2);
      s.sequenceAdvanced("a", 3);
    }
    List<String> lines = new ArrayList<>(Files.readAllLines(log(0), StandardCharsets.UTF_8));
    assertEquals(4, lines.size());
    lines.set(2, "{\"t\":\"seq\",\"k\":\"a\",\"v\":2"); // line 3 cut short, valid lines after it
    Files.write(log(0), lines, StandardCharsets.UTF_8);
    byte[] before = Files.readAllBytes(log(0));

    IllegalStateException e = assertThrows(IllegalStateException.class, this::open);
    assertTrue(e.getMessage().contains(log(0).toString()), e.getMessage());
    assertTrue(e.getMessage().contains("line 3"), e.getMessage());
    // Nothing was truncated or deleted, and the failed open released the directory.
    assertTrue(Arrays.equals(before, Files.readAllBytes(log(0))), "the corrupt log was changed");
    IllegalStateException again = assertThrows(IllegalStateException.class, this::open);
    assertTrue(again.getMessage().contains("line 3"), "the directory stayed locked: " + again.getMessage());
  }

  @Test
  void anUnknownRecordTypeBeforeTheEndIsAnError() throws IOException {
    try (DirectoryStorage s = open()) {
      s.identity("g", "c");
    }
    appendBytes(log(0), "{\"t\":\"what\"}\n{\"t\":\"seq\",\"k\":\"a\",\"v\":1}\n".getBytes(StandardCharsets.UTF_8));
    IllegalStateException e = assertThrows(IllegalStateException.class, this::open);
    assertTrue(e.getMessage().contains(log(0).toString()) && e.getMessage().contains("line 2"), e.getMessage());
  }

  // ---- compaction ------------------------------------------------------------------------

  @Test
  void compactionReplacesTheLogWithASnapshot() throws IOException {
    try (DirectoryStorage s = DirectoryStorage.open(dir, false, 300)) {
      s.identity("group-1", "client-1");
      assertFalse(s.wantsSnapshot());
      recordHistory(s);
      assertTrue(s.logBytes() >= 300);
      assertTrue(s.wantsSnapshot());
      assertEquals(sizeOf(log(0)), s.logBytes());

      s.snapshot(HISTORY);
      assertFalse(Files.exists(log(0)), "the old log is deleted");
      assertTrue(Files.exists(log(1)), "the next log is started");
      assertTrue(Files.exists(dir.resolve("snapshot.json")));
      assertFalse(Files.exists(dir.resolve("snapshot.tmp")));
      assertEquals(0, s.logBytes());
      assertEquals(0, sizeOf(log(1)));
      assertFalse(s.wantsSnapshot());

      s.pendingAdded(mutation(6, "{\"after\":\"snapshot\"}"));
      s.pendingRemoved(2);
      s.confirmedChanged("cookie-4", "user-2", false, List.of(delete("todos", "d"), put("todos", "e", "", "5")));
      s.sequenceAdvanced("orders", 4);
      assertTrue(s.logBytes() > 0);
      assertEquals(sizeOf(log(1)), s.logBytes(), "later records go to the new log");
    }
    Stored expected = new Stored("group-1", "client-1", "user-2", "cookie-4",
        List.of(
            privatePut("user-1", "notes", "n1", "s2", "{\"text\":\"second\"}"),
            privatePut("user-2", "notes", "n1", "", "{\"text\":\"theirs\"}"),
            put("notes", "n1", "", "\"public n1\""),
            put("todos", "e", "", "5")),
        List.of(mutation(4, "{\"big\":9007199254740993,\"dec\":1.5,\"neg\":-3}"), mutation(6, "{\"after\":\"snapshot\"}")),
        7, Map.of("orders", 4L, "invoices", 10L));
    assertStored(expected, reload());

    // A second compaction after a reopen starts generation 2.
    try (DirectoryStorage s = DirectoryStorage.open(dir, false, 1)) {
      assertStored(expected, s.load().orElseThrow());
      s.identity("group-1", "client-1");
      s.snapshot(s.load().orElseThrow());
      assertFalse(Files.exists(log(1)));
      assertTrue(Files.exists(log(2)));
      s.sequenceAdvanced("orders", 5);
    }
    Stored afterSecond = reload();
    assertEquals(Map.of("orders", 5L, "invoices", 10L), afterSecond.sequences());
    assertEquals(expected.pending(), afterSecond.pending());
    try (var files = Files.list(dir)) {
      assertEquals(List.of("lock", "log-2.jsonl", "snapshot.json"), files.map(p -> p.getFileName().toString()).sorted().toList());
    }
  }

  @Test
  void theSnapshotKeepsNextMutationIdAndNulls() {
    Stored state = new Stored("g", "c", null, null, List.of(), List.of(), 42, Map.of());
    try (DirectoryStorage s = DirectoryStorage.open(dir, false, 1)) {
      s.identity("g", "c");
      s.snapshot(state);
    }
    assertStored(state, reload());
  }

  @Test
  void aCrashBeforeTheSnapshotRenameLeavesTheOldLog() throws IOException {
    try (DirectoryStorage s = open()) {
      recordHistory(s);
    }
    // The crash left a half-written snapshot.tmp behind.
    Files.writeString(dir.resolve("snapshot.tmp"), "{\"format\":1,\"generation\":1,\"state\":{\"clientGr");
    try (DirectoryStorage s = open()) {
      assertStored(HISTORY, s.load().orElseThrow());
      assertFalse(Files.exists(dir.resolve("snapshot.tmp")), "the leftover snapshot.tmp is removed");
      assertTrue(Files.exists(log(0)));
      s.sequenceAdvanced("orders", 9);
    }
    assertEquals(9L, reload().sequences().get("orders"));
  }

  @Test
  void aCrashAfterTheSnapshotRenameIgnoresTheStaleLog() throws IOException {
    byte[] oldLog;
    try (DirectoryStorage s = DirectoryStorage.open(dir, false, 1)) {
      recordHistory(s);
      oldLog = Files.readAllBytes(log(0));
      s.snapshot(HISTORY);
    }
    // As if the crash came after the rename and before the old log was deleted, plus a record
    // that would show if the stale log were replayed; and a leftover snapshot.tmp.
    Files.write(log(0), oldLog);
    appendBytes(log(0), "{\"t\":\"seq\",\"k\":\"stale\",\"v\":1}\n".getBytes(StandardCharsets.UTF_8));
    Files.writeString(dir.resolve("snapshot.tmp"), "garbage");
    // Also a log of a generation that the snapshot never reached.
    Files.writeString(log(7), "{\"t\":\"seq\",\"k\":\"future\",\"v\":1}\n");

    try (DirectoryStorage s = open()) {
      assertStored(HISTORY, s.load().orElseThrow());
      assertFalse(Files.exists(log(0)), "the stale log is removed");
      assertFalse(Files.exists(log(7)), "the unknown log is removed");
      assertFalse(Files.exists(dir.resolve("snapshot.tmp")));
      assertTrue(Files.exists(log(1)));
      s.pendingRemoved(2);
    }
    Stored loaded = reload();
    assertEquals(List.of(HISTORY.pending().get(1)), loaded.pending());
    assertEquals(HISTORY.sequences(), loaded.sequences());
  }

  @Test
  void aCrashAfterTheRenameBeforeTheNewLogExistsLoadsTheSnapshot() throws IOException {
    try (DirectoryStorage s = DirectoryStorage.open(dir, false, 1)) {
      recordHistory(s);
      s.snapshot(HISTORY);
    }
    Files.delete(log(1));
    try (DirectoryStorage s = open()) {
      assertStored(HISTORY, s.load().orElseThrow());
      s.sequenceAdvanced("orders", 4);
    }
    assertEquals(4L, reload().sequences().get("orders"));
    assertTrue(Files.exists(log(1)));
  }

  @Test
  void wantsSnapshotOnlyWhenTheLogOutgrowsTheThresholdAndTheSnapshot() {
    try (DirectoryStorage s = DirectoryStorage.open(dir, false, 100)) {
      s.identity("g", "c");
      assertFalse(s.wantsSnapshot());
      while (s.logBytes() < 100) {
        s.sequenceAdvanced("n", s.logBytes());
      }
      assertTrue(s.wantsSnapshot());
      // A big state: its snapshot outweighs the small log that follows.
      List<Write> rows = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        rows.add(put("t", "k" + i, "", "{\"payload\":\"" + "x".repeat(20) + "\"}"));
      }
      s.snapshot(new Stored("g", "c", null, "k", rows, List.of(), 1, Map.of()));
      assertFalse(s.wantsSnapshot());
      while (s.logBytes() < 150) {
        s.sequenceAdvanced("n", s.logBytes());
      }
      assertFalse(s.wantsSnapshot(), "the log is above the threshold yet smaller than the snapshot");
    }
    Stored loaded = reload();
    assertEquals(50, loaded.confirmed().size());
    assertEquals("k", loaded.cookie());
  }

  // ---- closed ----------------------------------------------------------------------------

  @Test
  void recordingAfterCloseIsRefused() {
    DirectoryStorage s = open();
    s.identity("g", "c");
    s.close();
    s.close(); // twice is fine
    assertThrows(IllegalStateException.class, () -> s.identity("g2", "c2"));
    assertThrows(IllegalStateException.class, () -> s.pendingAdded(mutation(1, "1")));
    assertThrows(IllegalStateException.class, () -> s.pendingRemoved(1));
    assertThrows(IllegalStateException.class, () -> s.confirmedChanged("k", null, false, List.of()));
    assertThrows(IllegalStateException.class, () -> s.sequenceAdvanced("a", 1));
    assertThrows(IllegalStateException.class,
        () -> s.snapshot(new Stored("g", "c", null, null, List.of(), List.of(), 1, Map.of())));
    assertStored(new Stored("g", "c", null, null, List.of(), List.of(), 1, Map.of()), reload());
  }
}
