package io.syncedstore.loadtest.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A cluster of server JVMs on loopback sharing a fresh PostgreSQL database, for one test. Every
 * node runs {@code config/cluster.conf} of this repository with its own ports, data directory and
 * the test's database; files go to {@code loadtest/target/cluster-it/<test>/}. {@link #close()}
 * kills every node and drops the database.
 */
final class ClusterHarness implements AutoCloseable {
  static final String PG_HOST_PORT = System.getProperty("cluster.it.postgres", "127.0.0.1:5432");
  static final String PG_USER = System.getProperty("cluster.it.postgres.user", "postgres");
  static final String PG_PASSWORD = System.getProperty("cluster.it.postgres.password", "");
  /** Heap of each node. */
  static final String NODE_HEAP = System.getProperty("cluster.it.nodeHeap", "384m");

  private static final String NODE_MAIN = "io.syncedstore.gateway.Main";

  final String testName;
  final Path dir;
  final String database;
  final List<ClusterNode> nodes = new ArrayList<>();
  private final String configIncludes;
  private final List<String> command;
  private final boolean keepDatabase = Boolean.getBoolean("cluster.it.keepDatabase");

  private ClusterHarness(String testName, Path dir, String database, int size) throws IOException {
    this.testName = testName;
    this.dir = dir;
    this.database = database;
    List<Integer> remotingPorts = new ArrayList<>();
    for (int i = 1; i <= size; i++) {
      int port;
      do {
        port = ClusterNode.freePort();
      } while (remotingPorts.contains(port));
      remotingPorts.add(port);
      nodes.add(new ClusterNode(i, port, dir));
    }
    Path clusterConf = repository().resolve("config/cluster.conf");
    if (!Files.isReadable(clusterConf)) {
      throw new AssertionError("the cluster profile " + clusterConf + " is missing");
    }
    // The seed list is the same on every node and names the first two: a restarted first node
    // joins the second instead of forming a cluster of its own.
    String seeds = nodes.subList(0, Math.min(2, size)).stream().map(n -> "\"" + n.address() + "\"")
        .collect(Collectors.joining(", ", "[", "]"));
    StringBuilder conf = new StringBuilder()
        .append("include file(\"").append(clusterConf).append("\")\n")
        .append("synced-store.http.host = \"127.0.0.1\"\n")
        .append("pekko.remote.artery.canonical.hostname = \"127.0.0.1\"\n")
        .append("pekko.cluster.seed-nodes = ").append(seeds).append("\n")
        .append("pekko-persistence-jdbc.shared-databases.slick.db.url = \"jdbc:postgresql://").append(PG_HOST_PORT).append("/")
        .append(database).append("\"\n")
        .append("pekko-persistence-jdbc.shared-databases.slick.db.user = \"").append(PG_USER).append("\"\n")
        .append("pekko-persistence-jdbc.shared-databases.slick.db.password = \"").append(PG_PASSWORD).append("\"\n");
    // 30 anonymous clients share 127.0.0.1: the per-address quotas are not what these tests are about.
    for (String key : new String[] {"messages-per-second", "mutations-per-second", "actions-per-minute", "connections", "instances"}) {
      conf.append("synced-store.quotas.anonymous.").append(key).append(" = 1000000\n");
    }
    this.configIncludes = conf.toString();
    this.command = List.of(Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx" + NODE_HEAP, "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError",
        "-cp", nodeClassPath(), NODE_MAIN);
  }

  /**
   * Creates the test's directory (emptied) and database; kills nodes a previous, aborted run of the
   * same test left behind (recorded in its pid files).
   */
  static ClusterHarness create(String testName, int size) throws Exception {
    Path dir = Paths.get(System.getProperty("cluster.it.dir", moduleDir().resolve("target/cluster-it").toString()))
        .toAbsolutePath().resolve(testName);
    killLeftovers(dir);
    deleteRecursively(dir);
    Files.createDirectories(dir);
    String database = "synced_it_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    try (Connection c = admin(); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + database);
    }
    try {
      return new ClusterHarness(testName, dir, database, size);
    } catch (Exception | Error e) {
      dropDatabase(database);
      throw e;
    }
  }

  static Path moduleDir() {
    return Paths.get(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
  }

  static Path repository() {
    return Paths.get(System.getProperty("cluster.it.repository", moduleDir().resolve("..").toString())).toAbsolutePath().normalize();
  }

  /**
   * The nodes' class path: the test class path (surefire passes it in {@code surefire.test.class.path}
   * when the fork's own class path is a manifest-only jar) without the test classes: the server,
   * its dependencies and this module's main classes (the oracle app and its AppProvider).
   */
  static synchronized String nodeClassPath() throws IOException {
    if (nodeClassPath == null) {
      nodeClassPath = snapshotClassPath();
    }
    return nodeClassPath;
  }

  private static String nodeClassPath;

  private static String snapshotClassPath() throws IOException {
    String raw = System.getProperty("surefire.test.class.path");
    if (raw == null || raw.isBlank()) {
      raw = System.getProperty("java.class.path");
    }
    List<String> entries = Stream.of(raw.split(File.pathSeparator))
        .filter(e -> !e.isBlank())
        .filter(e -> !Paths.get(e).getFileName().toString().equals("test-classes"))
        .toList();
    boolean hasGateway = entries.stream().anyMatch(e -> e.contains("http-gateway") || e.contains("synced-store-http-gateway"));
    boolean hasOracle = entries.stream().anyMatch(e -> Files.isRegularFile(
        Paths.get(e).resolve("io/syncedstore/loadtest/cluster/OracleApp.class")) || e.contains("synced-store-loadtest"));
    if (!hasGateway || !hasOracle) {
      throw new AssertionError("the class path " + entries + " has no server (http-gateway) or no oracle app"
          + " (loadtest's classes); run the tests through Maven: mvn -pl loadtest test -Dtest='Cluster*'");
    }
    // This project's own classes and snapshot jars are copied once per test JVM: every node, and every
    // restart of one, runs the code the tests started with, even if a build replaces the jars meanwhile.
    Path snapshot = Paths.get(System.getProperty("cluster.it.dir", moduleDir().resolve("target/cluster-it").toString()))
        .toAbsolutePath().resolve("node-classpath");
    deleteRecursively(snapshot);
    Files.createDirectories(snapshot);
    List<String> copied = new ArrayList<>();
    for (String e : entries) {
      Path source = Paths.get(e);
      boolean ours = Files.isDirectory(source) || e.contains(File.separator + "io" + File.separator + "syncedstore" + File.separator);
      if (!ours || !Files.exists(source)) {
        copied.add(e);
        continue;
      }
      Path target = snapshot.resolve(copied.size() + "-" + source.getFileName());
      if (Files.isDirectory(source)) {
        try (Stream<Path> walk = Files.walk(source)) {
          for (Path p : walk.toList()) {
            Path t = target.resolve(source.relativize(p).toString());
            if (Files.isDirectory(p)) {
              Files.createDirectories(t);
            } else {
              Files.copy(p, t);
            }
          }
        }
      } else {
        Files.copy(source, target);
      }
      copied.add(target.toString());
    }
    return String.join(File.pathSeparator, copied);
  }

  ClusterNode node(int index) {
    return nodes.get(index - 1);
  }

  /** Starts node 1 (it forms the cluster and creates the schema), then the others; waits until all are Up. */
  void startAll(Duration bound) throws IOException {
    ClusterNode first = node(1);
    first.start(configIncludes, command);
    first.awaitListening(bound);
    awaitMembers(List.of(first), 1, bound);
    for (ClusterNode n : nodes.subList(1, nodes.size())) {
      n.start(configIncludes, command);
    }
    for (ClusterNode n : nodes.subList(1, nodes.size())) {
      n.awaitListening(bound);
    }
    awaitMembers(nodes, nodes.size(), bound);
  }

  /** Starts {@code node} again with the same config and ports; waits until it listens. */
  void restart(ClusterNode node, Duration bound) throws IOException {
    node.start(configIncludes, command);
    node.awaitListening(bound);
  }

  /** @return live nodes */
  List<ClusterNode> live() {
    return nodes.stream().filter(ClusterNode::isAlive).toList();
  }

  /**
   * Waits (bounded) until each of {@code which} reports in {@code /health} that it is Up in a cluster
   * of {@code members} Up members with none unreachable.
   *
   * @return how long it took
   */
  Duration awaitMembers(List<ClusterNode> which, int members, Duration bound) {
    Map<String, String> last = new LinkedHashMap<>();
    return Waits.until(which.stream().map(ClusterNode::name).toList() + " see " + members + " Up members, none unreachable",
        bound, 250, () -> {
          boolean all = true;
          for (ClusterNode n : which) {
            if (!n.isAlive()) {
              throw new AssertionError(n.name() + " died; log:\n" + n.tail(60));
            }
            JsonNode h = n.health();
            last.put(n.name(), String.valueOf(h));
            JsonNode c = h == null ? null : h.path("cluster");
            all &= c != null && "Up".equals(c.path("status").asText()) && c.path("members").asInt(-1) == members
                && c.path("unreachable").asInt(-1) == 0;
          }
          return all;
        }, () -> "last /health answers: " + last);
  }

  /** Kills every node (SIGKILL), drops the database unless -Dcluster.it.keepDatabase=true. */
  @Override
  public void close() {
    for (ClusterNode n : nodes) {
      n.destroy();
    }
    if (keepDatabase) {
      System.out.println("[" + testName + "] kept database " + database);
    } else {
      dropDatabase(database);
    }
  }

  // ---- checks ------------------------------------------------------------------------------

  /**
   * What the journal says about writers. A second live writer of one instance shows as a
   * primary-key conflict (refused write), a gap, or writers interleaving (A, B, A) in sequence order.
   *
   * @param persistenceIds instances in the journal
   * @param events rows
   * @param problems one line per instance whose sequence numbers are not exactly 1..max or whose writers interleave
   * @param writersByInstance how many writer incarnations wrote each instance
   */
  record JournalReport(int persistenceIds, long events, List<String> problems, Map<String, Integer> writersByInstance) {
    int instancesWithSeveralWriters() {
      return (int) writersByInstance.values().stream().filter(w -> w > 1).count();
    }

    @Override
    public String toString() {
      return persistenceIds + " instances, " + events + " events, " + (problems.isEmpty() ? "sequence numbers 1..max without gaps, no"
          + " interleaved writers" : problems.size() + " PROBLEMS " + problems) + "; " + instancesWithSeveralWriters()
          + " instances written by more than one incarnation (moved or restarted), one after the other";
    }
  }

  JournalReport checkJournal() throws SQLException {
    List<String> problems = new ArrayList<>();
    Map<String, Integer> writers = new LinkedHashMap<>();
    long events = 0;
    try (Connection c = connect(database); Statement s = c.createStatement()) {
      try (ResultSet r = s.executeQuery("SELECT persistence_id, count(*), min(sequence_number), max(sequence_number)"
          + " FROM event_journal GROUP BY persistence_id ORDER BY persistence_id")) {
        while (r.next()) {
          String id = r.getString(1);
          long count = r.getLong(2);
          long min = r.getLong(3);
          long max = r.getLong(4);
          events += count;
          if (min != 1 || count != max) {
            problems.add(id + ": " + count + " events, sequence numbers " + min + ".." + max);
          }
        }
      }
      try (ResultSet r = s.executeQuery("SELECT persistence_id, writer FROM event_journal ORDER BY persistence_id, sequence_number")) {
        String id = null;
        List<String> runs = new ArrayList<>();
        while (r.next()) {
          String pid = r.getString(1);
          String writer = r.getString(2);
          if (!pid.equals(id)) {
            if (id != null) {
              checkRuns(id, runs, problems, writers);
            }
            id = pid;
            runs = new ArrayList<>();
          }
          if (runs.isEmpty() || !runs.get(runs.size() - 1).equals(writer)) {
            runs.add(writer);
          }
        }
        if (id != null) {
          checkRuns(id, runs, problems, writers);
        }
      }
    }
    return new JournalReport(writers.size(), events, problems, writers);
  }

  private static void checkRuns(String id, List<String> runs, List<String> problems, Map<String, Integer> writers) {
    long distinct = runs.stream().distinct().count();
    writers.put(id, (int) distinct);
    if (distinct != runs.size()) {
      problems.add(id + ": writers interleave (" + runs.size() + " runs of " + distinct + " writers)");
    }
  }

  /**
   * Lines of every node log (all incarnations) that show a refused journal write: a primary-key
   * conflict on (persistence_id, sequence_number) is two writers of one instance.
   */
  List<String> sequenceConflictsInLogs() throws IOException {
    List<String> found = new ArrayList<>();
    for (ClusterNode n : nodes) {
      if (!Files.exists(n.log())) {
        continue;
      }
      for (String line : Files.readAllLines(n.log(), StandardCharsets.UTF_8)) {
        String l = line.toLowerCase(Locale.ROOT);
        if (l.contains("duplicate key") || l.contains("event_journal_pkey")
            || (l.contains("sequence") && l.contains("conflict"))) {
          found.add(n.name() + ": " + line);
        }
      }
    }
    return found;
  }

  /** @return per node, how many ERROR and WARN lines its log has and the first few distinct ERROR lines */
  String logSummary() throws IOException {
    StringBuilder sb = new StringBuilder();
    for (ClusterNode n : nodes) {
      if (!Files.exists(n.log())) {
        continue;
      }
      List<String> lines = Files.readAllLines(n.log(), StandardCharsets.UTF_8);
      List<String> errors = lines.stream().filter(l -> l.contains(" ERROR ")).toList();
      long warns = lines.stream().filter(l -> l.contains(" WARN ")).count();
      sb.append("  ").append(n.name()).append(": ").append(errors.size()).append(" ERROR, ").append(warns).append(" WARN lines\n");
      errors.stream().map(l -> l.length() > 13 ? l.substring(13) : l).distinct().limit(5)
          .forEach(l -> sb.append("    ").append(l.length() > 300 ? l.substring(0, 300) + "..." : l).append('\n'));
    }
    return sb.toString();
  }

  /** @return the last lines of every node's log, for a failure */
  String logTails(int lines) {
    StringBuilder sb = new StringBuilder();
    for (ClusterNode n : nodes) {
      sb.append("---- ").append(n.log()).append(" (last ").append(lines).append(" lines) ----\n").append(n.tail(lines)).append('\n');
    }
    return sb.toString();
  }

  // ---- PostgreSQL --------------------------------------------------------------------------

  private static Connection admin() {
    try {
      return connect("test");
    } catch (SQLException e) {
      throw new AssertionError("PostgreSQL is not reachable at " + PG_HOST_PORT + " (user " + PG_USER + ", database test): "
          + String.valueOf(e.getMessage()).replaceAll("\\.+$", "") + ". The cluster tests need it (.ci/run starts it); start it, or point -Dcluster.it.postgres=HOST:PORT at one.", e);
    }
  }

  private static Connection connect(String db) throws SQLException {
    DriverManager.setLoginTimeout(10);
    return DriverManager.getConnection("jdbc:postgresql://" + PG_HOST_PORT + "/" + db, PG_USER, PG_PASSWORD);
  }

  private static void dropDatabase(String database) {
    try (Connection c = admin()) {
      try (PreparedStatement p = c.prepareStatement("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ?")) {
        p.setString(1, database);
        p.execute();
      }
      try (Statement s = c.createStatement()) {
        s.execute("DROP DATABASE IF EXISTS " + database);
      }
    } catch (SQLException | AssertionError e) {
      System.err.println("could not drop database " + database + ": " + e);
    }
  }

  // ---- files -------------------------------------------------------------------------------

  /** Kills node JVMs a previous run left in {@code dir} (pid files), only if their command line names {@code dir}. */
  private static void killLeftovers(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (Stream<Path> files = Files.list(dir)) {
      for (Path pidFile : files.filter(f -> f.getFileName().toString().endsWith(".pid")).toList()) {
        try {
          long pid = Long.parseLong(Files.readString(pidFile).trim());
          ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
              .filter(h -> h.info().commandLine().map(cl -> cl.contains(dir.toString())).orElse(false))
              .ifPresent(h -> {
                System.err.println("killing node " + pid + " left behind by an earlier run in " + dir);
                h.destroyForcibly();
                try {
                  h.onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);
                } catch (Exception e) {
                  System.err.println("node " + pid + " did not exit: " + e);
                }
              });
        } catch (NumberFormatException e) {
          // not ours
        }
      }
    }
  }

  private static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  @Override
  public String toString() {
    return testName + " " + nodes.stream().map(n -> n.name() + (n.isAlive() ? "" : "(down)")).toList() + " db " + database;
  }
}
