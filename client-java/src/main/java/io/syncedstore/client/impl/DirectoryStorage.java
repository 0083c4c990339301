package io.syncedstore.client.impl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.Json;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.Tier;
import io.syncedstore.api.store.Write;
import io.syncedstore.client.ClientStorage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@link ClientStorage#directory}: a snapshot ({@code snapshot.json}) and the log of changes since
 * it ({@code log-<generation>.jsonl}, one JSON object a line), in one directory locked by one
 * client at a time.
 *
 * <p>Every change is one line written to the operating system (and forced to the disk when
 * {@code fsync}) before the call returns. Loading replays the log on the snapshot; a last line cut
 * short by a crash is dropped (its change had not returned), a bad line before the end is an
 * error. Compaction writes the whole state to {@code snapshot.tmp}, forces it, renames it over
 * {@code snapshot.json} with the next generation, and only then starts the next log and deletes
 * the old one, so a crash at any point leaves one consistent snapshot-and-log pair.
 */
public final class DirectoryStorage implements ClientStorage {
  /** Compaction is offered once the log holds this many bytes and more than the snapshot. */
  static final long DEFAULT_COMPACT_AFTER_BYTES = 4L << 20;
  private static final String SNAPSHOT = "snapshot.json";
  private static final String SNAPSHOT_TMP = "snapshot.tmp";
  private static final int FORMAT = 1;

  private record RowKey(Tier tier, String owner, String table, String itemKey) {
    static RowKey of(Write w) {
      return new RowKey(w.tier(), w.owner(), w.table(), w.itemKey());
    }
  }

  /** What {@code snapshot.json} holds. */
  record SnapshotFile(int format, long generation, Stored state) {}

  /**
   * The directories this process holds. A second open in the same process is refused before it
   * opens the lock file: closing any channel on that file would drop this process's lock on it
   * (POSIX record locks), letting another process in.
   */
  private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

  private final ObjectMapper mapper = Json.mapper();
  private final Path directory;
  private final Path heldKey;
  private final boolean fsync;
  private final long compactAfterBytes;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final Stored loaded;
  private long generation;
  private FileChannel log;
  private long logBytes;
  private long snapshotBytes;
  private boolean closed;

  private DirectoryStorage(Path directory, boolean fsync, long compactAfterBytes) throws IOException {
    this.directory = directory;
    this.fsync = fsync;
    this.compactAfterBytes = compactAfterBytes;
    Files.createDirectories(directory);
    this.heldKey = directory.toRealPath();
    if (!HELD.add(heldKey)) {
      throw inUse(directory);
    }
    FileChannel channel = null;
    FileLock l = null;
    try {
      channel = FileChannel.open(directory.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      try {
        l = channel.tryLock();
      } catch (OverlappingFileLockException e) {
        l = null;
      }
    } finally {
      if (l == null) {
        HELD.remove(heldKey);
        if (channel != null) {
          channel.close();
        }
      }
    }
    if (l == null) {
      throw inUse(directory);
    }
    this.lockChannel = channel;
    this.lock = l;
    try {
      this.loaded = loadFiles();
      openLog();
    } catch (IOException | RuntimeException e) {
      releaseLock();
      throw e;
    }
  }

  private static IllegalStateException inUse(Path directory) {
    return new IllegalStateException("client storage " + directory + " is in use by another client");
  }

  /**
   * Opens (or creates) the storage in {@code directory}.
   *
   * @param directory the directory
   * @param fsync whether each change is forced to the disk
   * @return the storage, locked until {@link #close()}
   */
  public static DirectoryStorage open(Path directory, boolean fsync) {
    return open(directory, fsync, DEFAULT_COMPACT_AFTER_BYTES);
  }

  static DirectoryStorage open(Path directory, boolean fsync, long compactAfterBytes) {
    try {
      return new DirectoryStorage(directory, fsync, compactAfterBytes);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open client storage " + directory + ": " + e.getMessage(), e);
    }
  }

  // ---- loading ---------------------------------------------------------------------------

  /** The state being rebuilt while loading. */
  private static final class State {
    String clientGroupId;
    String clientId;
    String userId;
    String cookie;
    final Map<RowKey, Write> confirmed = new LinkedHashMap<>();
    final TreeMap<Long, MutationRequest> pending = new TreeMap<>();
    long nextMutationId = 1;
    final Map<String, Long> sequences = new TreeMap<>();

    State(Stored s) {
      if (s != null) {
        clientGroupId = s.clientGroupId();
        clientId = s.clientId();
        userId = s.userId();
        cookie = s.cookie();
        s.confirmed().forEach(w -> confirmed.put(RowKey.of(w), w));
        s.pending().forEach(m -> pending.put(m.id(), m));
        nextMutationId = s.nextMutationId();
        sequences.putAll(s.sequences());
      }
    }

    void apply(JsonNode line, ObjectMapper mapper) throws IOException {
      String type = line.path("t").asText();
      switch (type) {
        case "id" -> {
          clientGroupId = line.get("g").asText();
          clientId = line.get("c").asText();
        }
        case "add" -> {
          MutationRequest m = mapper.treeToValue(line.get("m"), MutationRequest.class);
          pending.put(m.id(), m);
          nextMutationId = Math.max(nextMutationId, m.id() + 1);
        }
        case "rm" -> pending.remove(line.get("id").asLong());
        case "poke" -> {
          cookie = line.get("cookie").isNull() ? null : line.get("cookie").asText();
          userId = line.path("user").isTextual() ? line.get("user").asText() : null;
          if (line.path("clear").asBoolean()) {
            confirmed.clear();
          }
          for (JsonNode w : line.get("writes")) {
            Write write = mapper.treeToValue(w, Write.class);
            if (write.isDelete()) {
              confirmed.remove(RowKey.of(write));
            } else {
              confirmed.put(RowKey.of(write), write);
            }
          }
        }
        case "seq" -> sequences.put(line.get("k").asText(), line.get("v").asLong());
        default -> throw new IOException("unknown record type '" + type + "'");
      }
    }

    Stored toStored() {
      return new Stored(clientGroupId, clientId, userId, cookie, List.copyOf(confirmed.values()),
          List.copyOf(pending.values()), nextMutationId, Map.copyOf(sequences));
    }
  }

  private Stored loadFiles() throws IOException {
    Path snapshotFile = directory.resolve(SNAPSHOT);
    Stored snapshot = null;
    if (Files.exists(snapshotFile)) {
      SnapshotFile file = mapper.readValue(snapshotFile.toFile(), SnapshotFile.class);
      if (file.format() != FORMAT) {
        throw new IllegalStateException("client storage " + directory + " has format " + file.format() + "; this client reads " + FORMAT);
      }
      generation = file.generation();
      snapshot = file.state();
      snapshotBytes = Files.size(snapshotFile);
    }
    State state = new State(snapshot);
    Path logFile = logFile(generation);
    if (Files.exists(logFile)) {
      replay(logFile, state);
    }
    // Leftovers of an interrupted compaction.
    Files.deleteIfExists(directory.resolve(SNAPSHOT_TMP));
    try (DirectoryStream<Path> logs = Files.newDirectoryStream(directory, "log-*.jsonl")) {
      for (Path p : logs) {
        if (!p.equals(logFile)) {
          Files.delete(p);
        }
      }
    }
    return state.clientId == null ? null : state.toStored();
  }

  private void replay(Path logFile, State state) throws IOException {
    long goodBytes = 0;
    int lineNo = 0;
    try (BufferedReader in = new BufferedReader(new InputStreamReader(Files.newInputStream(logFile), StandardCharsets.UTF_8))) {
      String line;
      String pendingError = null;
      while ((line = in.readLine()) != null) {
        lineNo++;
        if (pendingError != null) {
          throw new IllegalStateException("client storage " + logFile + " is corrupt at line " + (lineNo - 1) + ": " + pendingError);
        }
        try {
          state.apply(mapper.readTree(line), mapper);
          goodBytes += line.getBytes(StandardCharsets.UTF_8).length + 1;
        } catch (IOException | RuntimeException e) {
          pendingError = e.getMessage(); // fatal unless it was the last line (torn by a crash)
        }
      }
    }
    long size = Files.size(logFile);
    if (goodBytes < size) {
      try (FileChannel ch = FileChannel.open(logFile, StandardOpenOption.WRITE)) {
        ch.truncate(goodBytes); // drop the torn last line so that appends start on a line of their own
      }
    } else if (goodBytes > size) {
      // The last line is whole but lost its newline to a crash: end it, or the next append would
      // join it on one line (and be ignored as trailing content when read back).
      try (FileChannel ch = FileChannel.open(logFile, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
        ch.write(ByteBuffer.wrap(new byte[] {'\n'}));
      }
    }
    logBytes = goodBytes;
  }

  private Path logFile(long gen) {
    return directory.resolve("log-" + gen + ".jsonl");
  }

  private void openLog() throws IOException {
    log = FileChannel.open(logFile(generation), StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    logBytes = log.size();
  }

  @Override
  public synchronized Optional<Stored> load() {
    return Optional.ofNullable(loaded);
  }

  // ---- recording -------------------------------------------------------------------------

  private void append(ObjectNode record) {
    if (closed) {
      throw new IllegalStateException("client storage " + directory + " is closed");
    }
    try {
      byte[] json = mapper.writeValueAsBytes(record);
      ByteBuffer buf = ByteBuffer.allocate(json.length + 1).put(json).put((byte) '\n').flip();
      while (buf.hasRemaining()) {
        log.write(buf);
      }
      if (fsync) {
        log.force(false);
      }
      logBytes += json.length + 1;
    } catch (IOException e) {
      try {
        log.truncate(logBytes); // a partial line would corrupt the records appended after it
      } catch (IOException again) {
        e.addSuppressed(again);
      }
      throw new UncheckedIOException("cannot write client storage " + directory + ": " + e.getMessage(), e);
    }
  }

  private ObjectNode record(String type) {
    return mapper.createObjectNode().put("t", type);
  }

  @Override
  public synchronized void bindTo(String app, String instanceId) {
    Path file = directory.resolve("instance.json");
    try {
      if (Files.exists(file)) {
        JsonNode bound = mapper.readTree(file.toFile());
        if (!app.equals(bound.path("app").asText()) || !instanceId.equals(bound.path("instanceId").asText())) {
          throw new IllegalStateException("client storage " + directory + " belongs to instance '" + bound.path("instanceId").asText()
              + "' of app '" + bound.path("app").asText() + "', not to instance '" + instanceId + "' of app '" + app + "'");
        }
        return;
      }
      Path tmp = directory.resolve("instance.json.tmp");
      Files.write(tmp, mapper.writeValueAsBytes(mapper.createObjectNode().put("app", app).put("instanceId", instanceId)));
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot bind client storage " + directory + ": " + e.getMessage(), e);
    }
  }

  @Override
  public synchronized void identity(String clientGroupId, String clientId) {
    if (loaded != null && loaded.clientId().equals(clientId) && loaded.clientGroupId().equals(clientGroupId)) {
      return;
    }
    append(record("id").put("g", clientGroupId).put("c", clientId));
  }

  @Override
  public synchronized void pendingAdded(MutationRequest mutation) {
    ObjectNode r = record("add");
    r.set("m", mapper.valueToTree(mutation));
    append(r);
  }

  @Override
  public synchronized void pendingRemoved(long id) {
    append(record("rm").put("id", id));
  }

  @Override
  public synchronized void confirmedChanged(String cookie, String userId, boolean cleared, List<Write> writes) {
    ObjectNode r = record("poke").put("cookie", cookie).put("user", userId).put("clear", cleared);
    r.set("writes", mapper.valueToTree(writes));
    append(r);
  }

  @Override
  public synchronized void sequenceAdvanced(String key, long value) {
    append(record("seq").put("k", key).put("v", value));
  }

  @Override
  public synchronized boolean wantsSnapshot() {
    return logBytes >= compactAfterBytes && logBytes > snapshotBytes;
  }

  @Override
  public synchronized void snapshot(Stored state) {
    if (closed) {
      throw new IllegalStateException("client storage " + directory + " is closed");
    }
    long next = generation + 1;
    Path tmp = directory.resolve(SNAPSHOT_TMP);
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        // Not mapper.writeValue(stream): it closes the stream, and so the channel, before the force.
        ByteBuffer buf = ByteBuffer.wrap(mapper.writeValueAsBytes(new SnapshotFile(FORMAT, next, state)));
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      // The next log exists before the snapshot names it: past the rename, appends go to it.
      Files.deleteIfExists(logFile(next)); // left by an earlier failed attempt
      FileChannel nextLog = FileChannel.open(logFile(next), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.APPEND);
      try {
        Files.move(tmp, directory.resolve(SNAPSHOT), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (IOException e) {
        nextLog.close();
        Files.deleteIfExists(logFile(next));
        throw e; // the old snapshot and log stay in use
      }
      forceDirectory();
      Path old = logFile(generation);
      FileChannel oldLog = log;
      log = nextLog;
      logBytes = 0;
      generation = next;
      oldLog.close();
      Files.deleteIfExists(old);
      snapshotBytes = Files.size(directory.resolve(SNAPSHOT));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write a snapshot of client storage " + directory + ": " + e.getMessage(), e);
    }
  }

  /** Makes the rename durable (Linux allows forcing a directory; elsewhere this is best effort). */
  private void forceDirectory() {
    try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
      dir.force(true);
    } catch (IOException e) {
      // not supported on this platform
    }
  }

  /** @return the bytes in the current log (for tests) */
  synchronized long logBytes() {
    return logBytes;
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      log.close();
    } catch (IOException e) {
      // closing anyway
    }
    releaseLock();
  }

  private void releaseLock() {
    try {
      lock.release();
    } catch (IOException e) {
      // the channel's close releases it too
    }
    try {
      lockChannel.close();
    } catch (IOException e) {
      // nothing more to do
    }
    HELD.remove(heldKey);
  }
}
