package io.syncedstore.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;
import io.syncedstore.api.Json;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Server processes on loopback, for benchmarks and tests: N nodes of the cluster profile
 * ({@code config/cluster.conf}: PostgreSQL journal, Pekko Cluster Sharding) sharing one database,
 * or one node of the embedded H2 profile. Each node is {@code java -cp <classPath>
 * io.syncedstore.gateway.Main --config nodeN.conf}: a generated file that includes the profile and
 * sets the node's ports (HTTP port 0, a free remoting port), its data directory, the seed node (node
 * 1), the database and the caller's settings; its output goes to {@code nodeN.log}.
 *
 * <p>{@link #start} starts node 1 first (it forms the cluster and creates the schema), then the
 * others, and returns when every node says in {@code GET /health} that it is Up in a cluster of all
 * of them. {@link #close()} kills the nodes. The PostgreSQL helpers create and drop the fresh
 * database a run needs; the {@code /proc} helpers read per-process CPU time, to tell where the time
 * of a run went.
 */
public final class ClusterNodes implements AutoCloseable {
  /** The main class of a node. */
  public static final String NODE_MAIN = "io.syncedstore.gateway.Main";

  /** Every process started by this JVM, killed by a shutdown hook if the caller could not. */
  private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(Process::destroyForcibly), "cluster-nodes-cleanup"));
  }

  private static final Pattern LISTENING = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)");
  private static final Pattern RECOVERED = Pattern.compile(
      "instance \\[([^\\]]+)\\] recovered at version \\[(\\d+)\\] with \\[(\\d+)\\] entries in \\[(\\d+)\\] ms");
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  /**
   * How to start the nodes.
   *
   * @param dir where the config files, logs and data directories go
   * @param profile the cluster profile to include ({@code config/cluster.conf}); ignored without a database
   * @param postgres PostgreSQL's {@code host:port}
   * @param database the PostgreSQL database of the journal, or {@code null} for one node of the
   *     embedded profile (H2 file journal in its data directory, no cluster)
   * @param classPath the nodes' class path: the server and its apps (the shaded bench jar has both)
   * @param jvmOptions e.g. {@code -Xmx512m}
   * @param settings more settings for every node, HOCON paths to values (e.g. lifted quotas)
   */
  public record Spec(Path dir, Path profile, String postgres, String database, String classPath, List<String> jvmOptions,
      Map<String, Object> settings) {
    /** @return the same spec with {@code key = value} added to the settings */
    public Spec with(String key, Object value) {
      Map<String, Object> more = new LinkedHashMap<>(settings);
      more.put(key, value);
      return new Spec(dir, profile, postgres, database, classPath, jvmOptions, more);
    }
  }

  private final Spec spec;
  private final List<Node> nodes = new ArrayList<>();

  private ClusterNodes(Spec spec) {
    this.spec = spec;
  }

  /**
   * Starts {@code size} nodes (one without a database) and waits, within {@code bound}, until each
   * listens and, in the cluster profile, reports {@code size} members Up and none unreachable. Kills
   * what it started if that fails.
   */
  public static ClusterNodes start(Spec spec, int size, Duration bound) throws Exception {
    if (spec.database() == null && size != 1) {
      throw new IllegalArgumentException("the embedded profile runs one node, not " + size);
    }
    Files.createDirectories(spec.dir());
    ClusterNodes cluster = new ClusterNodes(spec);
    try {
      List<Integer> remoting = new ArrayList<>();
      while (remoting.size() < size) {
        int port = freePort();
        if (!remoting.contains(port)) {
          remoting.add(port);
        }
      }
      String seed = "pekko://synced-store@127.0.0.1:" + remoting.get(0);
      for (int i = 1; i <= size; i++) {
        Path config = spec.dir().resolve("node" + i + ".conf");
        Files.writeString(config, cluster.configText(i, remoting.get(i - 1), seed));
        List<String> command = new ArrayList<>(List.of(javaBinary()));
        command.addAll(spec.jvmOptions());
        command.addAll(List.of("-cp", spec.classPath(), NODE_MAIN, "--config", config.toString()));
        cluster.nodes.add(new Node("node" + i, i, remoting.get(i - 1), spec.dir().resolve("node" + i + ".log"), command));
      }
      // node 1 alone first: it forms the cluster and creates the schema (the others would wait for it anyway)
      Node first = cluster.nodes.get(0);
      first.start();
      first.awaitListening(bound);
      cluster.awaitUp(List.of(first), 1, bound);
      for (Node n : cluster.nodes.subList(1, size)) {
        n.start();
      }
      for (Node n : cluster.nodes.subList(1, size)) {
        n.awaitListening(bound);
      }
      cluster.awaitUp(cluster.nodes, size, bound);
      return cluster;
    } catch (Exception | Error e) {
      cluster.close();
      throw e;
    }
  }

  /**
   * Starts any main class of {@code classPath} as a process whose output goes to {@code dir/<name>.log}
   * and waits until it prints {@code listening on http://127.0.0.1:<port>} (as a node does).
   */
  public static Node startProcess(Path dir, String name, String classPath, List<String> jvmOptions, String mainClass,
      List<String> args, Duration bound) throws IOException {
    Files.createDirectories(dir);
    List<String> command = new ArrayList<>(List.of(javaBinary()));
    command.addAll(jvmOptions);
    command.addAll(List.of("-cp", classPath, mainClass));
    command.addAll(args);
    Node node = new Node(name, 0, 0, dir.resolve(name + ".log"), command);
    node.start();
    try {
      node.awaitListening(bound);
    } catch (RuntimeException e) {
      node.kill();
      throw e;
    }
    return node;
  }

  private String configText(int index, int remotingPort, String seed) {
    StringBuilder conf = new StringBuilder();
    if (spec.database() != null) {
      conf.append("include file(\"").append(spec.profile().toAbsolutePath().normalize()).append("\")\n")
          .append("pekko.remote.artery.canonical.hostname = \"127.0.0.1\"\n")
          .append("pekko.remote.artery.canonical.port = ").append(remotingPort).append('\n')
          .append("pekko.cluster.seed-nodes = [\"").append(seed).append("\"]\n")
          .append("pekko-persistence-jdbc.shared-databases.slick.db.url = \"").append(jdbcUrl(spec.postgres(), spec.database()))
          .append("\"\n");
    } else {
      conf.append("include classpath(\"application\")\n");
    }
    conf.append("synced-store.http.host = \"127.0.0.1\"\n")
        .append("synced-store.http.port = 0\n")
        .append("synced-store.data-dir = \"").append(spec.dir().toAbsolutePath().resolve("node" + index + "-data")).append("\"\n");
    spec.settings().forEach((key, value) -> conf.append(key).append(" = ")
        .append(ConfigValueFactory.fromAnyRef(value).render(ConfigRenderOptions.concise())).append('\n'));
    return conf.toString();
  }

  /** Waits until each of {@code which} answers {@code /health}, in the cluster profile Up among {@code members} Up members. */
  private void awaitUp(List<Node> which, int members, Duration bound) {
    Map<String, String> last = new LinkedHashMap<>();
    await(which.stream().map(Node::name).toList() + " Up in a cluster of " + members, bound, () -> {
      boolean all = true;
      for (Node n : which) {
        if (!n.isAlive()) {
          throw new IllegalStateException(n.name() + " exited; log:\n" + n.tail(40));
        }
        JsonNode h = n.health();
        last.put(n.name(), String.valueOf(h));
        if (h == null) {
          all = false;
        } else if (spec.database() != null) {
          JsonNode c = h.path("cluster");
          all &= "Up".equals(c.path("status").asText()) && c.path("members").asInt(-1) == members && c.path("unreachable").asInt(-1) == 0;
        }
      }
      return all;
    }, () -> "last /health answers: " + last);
  }

  /** @return the nodes, node 1 first */
  public List<Node> nodes() {
    return List.copyOf(nodes);
  }

  /** @return node {@code index}, counted from 1 */
  public Node node(int index) {
    return nodes.get(index - 1);
  }

  /** Kills every node (SIGKILL) and waits, bounded, until they are gone. The database stays: see {@link #dropDatabase}. */
  @Override
  public void close() {
    nodes.forEach(Node::kill);
  }

  // ---- one process ---------------------------------------------------------------------------

  /** One server (or other) process started by this class. */
  public static final class Node {
    private final String name;
    private final int index;
    private final int remotingPort;
    private final Path log;
    private final List<String> command;
    private Process process;
    private int httpPort;

    private Node(String name, int index, int remotingPort, Path log, List<String> command) {
      this.name = name;
      this.index = index;
      this.remotingPort = remotingPort;
      this.log = log;
      this.command = command;
    }

    private void start() throws IOException {
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
      // a node's settings come from its config file only, never from a SYNC_* variable of the caller's shell
      pb.environment().keySet().removeIf(k -> k.startsWith("SYNC_"));
      process = pb.start();
      LIVE.add(process);
    }

    private void awaitListening(Duration bound) {
      await(name + " listening", bound, () -> {
        if (!process.isAlive()) {
          throw new IllegalStateException(name + " exited with " + process.exitValue() + " before listening; log:\n" + tail(40));
        }
        Matcher m = LISTENING.matcher(logText());
        if (m.find()) {
          httpPort = Integer.parseInt(m.group(1));
          return true;
        }
        return false;
      }, () -> "log:\n" + tail(20));
    }

    /** @return e.g. {@code node2} */
    public String name() {
      return name;
    }

    /** @return 1 for node 1, ...; 0 for a process of {@link #startProcess} */
    public int index() {
      return index;
    }

    /** @return the node's cluster address, {@code pekko://synced-store@127.0.0.1:<port>} */
    public String address() {
      return "pekko://synced-store@127.0.0.1:" + remotingPort;
    }

    /** @return the operating system's process id */
    public long pid() {
      return process.pid();
    }

    /** @return the HTTP port it bound */
    public int httpPort() {
      return httpPort;
    }

    /** @return {@code http://127.0.0.1:<port>} */
    public String baseUrl() {
      return "http://127.0.0.1:" + httpPort;
    }

    /** @return the sync WebSocket URL of one instance on this node */
    public URI syncUri(String app, String instance) {
      return URI.create("ws://127.0.0.1:" + httpPort + "/v1/apps/" + app + "/instances/" + instance + "/sync");
    }

    /** @return the process's output so far */
    public Path log() {
      return log;
    }

    public boolean isAlive() {
      return process != null && process.isAlive();
    }

    /** @return {@code GET /health}, or {@code null} when it does not answer */
    public JsonNode health() {
      if (httpPort == 0 || !isAlive()) {
        return null;
      }
      try {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl() + "/health")).timeout(Duration.ofSeconds(3)).build(),
            HttpResponse.BodyHandlers.ofString());
        return r.statusCode() == 200 ? Json.mapper().readTree(r.body()) : null;
      } catch (IOException e) {
        return null;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return null;
      }
    }

    /** @return every {@code instance [...] recovered at ...} line of the log so far, in order */
    public List<Recovery> recoveries() {
      List<Recovery> found = new ArrayList<>();
      Matcher m = RECOVERED.matcher(logText());
      while (m.find()) {
        found.add(new Recovery(m.group(1), Long.parseLong(m.group(2)), Long.parseLong(m.group(3)), Long.parseLong(m.group(4))));
      }
      return found;
    }

    /** @return user + system CPU seconds the process has used so far ({@code /proc/<pid>/stat}) */
    public double cpuSeconds() {
      return ClusterNodes.cpuSeconds(pid());
    }

    /** SIGKILL; waits (bounded) until the process is gone. */
    public void kill() {
      Process p = process;
      if (p == null) {
        return;
      }
      p.destroyForcibly();
      try {
        p.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      LIVE.remove(p);
    }

    /** @return the last {@code lines} lines of the log */
    public String tail(int lines) {
      List<String> all = logText().lines().toList();
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    private String logText() {
      try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
        byte[] bytes = new byte[(int) Math.min(f.length(), 64 << 20)];
        f.readFully(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
      } catch (IOException e) {
        return "";
      }
    }
  }

  /**
   * One instance recovery as its node logged it.
   *
   * @param instance {@code app/instanceId}
   * @param version the instance's version after recovery
   * @param entries live entries after recovery
   * @param millis the time from the actor's start until recovery completed
   */
  public record Recovery(String instance, long version, long entries, long millis) {}

  // ---- PostgreSQL ----------------------------------------------------------------------------

  /** @return the JDBC URL of {@code database} on {@code hostPort} */
  public static String jdbcUrl(String hostPort, String database) {
    return "jdbc:postgresql://" + hostPort + "/" + database;
  }

  /**
   * Creates a fresh database, named {@code prefix} plus a random suffix, through the existing database
   * {@code test} (user postgres, no password).
   *
   * @return its name
   */
  public static String createDatabase(String hostPort, String prefix) throws SQLException {
    String name = prefix + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    try (Connection c = connect(hostPort, "test"); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    }
    return name;
  }

  /** Drops {@code database}, ending its sessions first; reports a failure on stderr instead of throwing. */
  public static void dropDatabase(String hostPort, String database) {
    try (Connection c = connect(hostPort, "test")) {
      try (PreparedStatement p = c.prepareStatement("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ?")) {
        p.setString(1, database);
        p.execute();
      }
      try (Statement s = c.createStatement()) {
        s.execute("DROP DATABASE IF EXISTS " + database);
      }
    } catch (SQLException e) {
      System.err.println("could not drop database " + database + ": " + e.getMessage());
    }
  }

  /** @return a connection to {@code database} as user postgres, no password (trust authentication) */
  public static Connection connect(String hostPort, String database) throws SQLException {
    DriverManager.setLoginTimeout(10);
    return DriverManager.getConnection(jdbcUrl(hostPort, database), "postgres", "");
  }

  // ---- CPU time from /proc -------------------------------------------------------------------

  private static volatile double ticksPerSecond;

  /** @return user + system CPU seconds of process {@code pid} so far, 0 when it is gone */
  public static double cpuSeconds(long pid) {
    return cpuSeconds(pid, false);
  }

  /**
   * @param withReapedChildren also the CPU time of its children that have exited and been waited for
   *     ({@code cutime}, {@code cstime})
   */
  private static double cpuSeconds(long pid, boolean withReapedChildren) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      // the command name (field 2) may hold spaces: fields are counted after its closing parenthesis
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
      if (withReapedChildren) {
        ticks += Long.parseLong(f[13]) + Long.parseLong(f[14]);
      }
      return ticks / ticksPerSecond();
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /**
   * @return CPU seconds of every process whose command name is {@code postgres}: the server, its live
   *     backends, and (counted in the server's {@code cutime}) the backends that have exited, so that
   *     connections closed during a measurement do not take their CPU time with them. Every client's
   *     backends count, not only this JVM's nodes'.
   */
  public static double postgresCpuSeconds() {
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      return procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
          .filter(p -> {
            try {
              return Files.readString(p.resolve("comm")).trim().equals("postgres");
            } catch (IOException e) {
              return false;
            }
          })
          .mapToDouble(p -> cpuSeconds(Long.parseLong(p.getFileName().toString()), true))
          .sum();
    } catch (IOException e) {
      return 0;
    }
  }

  /**
   * The machine's CPU counters ({@code /proc/stat}, first line), in seconds summed over cores.
   *
   * @param busy user, nice, system, irq, softirq
   * @param idle idle and I/O wait
   * @param steal taken by the hypervisor
   */
  public record MachineCpu(double busy, double idle, double steal) {
    /** @return the CPU counters now */
    public static MachineCpu now() {
      try {
        String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
        double t = ticksPerSecond();
        long user = Long.parseLong(f[1]);
        long nice = Long.parseLong(f[2]);
        long system = Long.parseLong(f[3]);
        long idle = Long.parseLong(f[4]);
        long iowait = Long.parseLong(f[5]);
        long irq = Long.parseLong(f[6]);
        long softirq = Long.parseLong(f[7]);
        long steal = f.length > 8 ? Long.parseLong(f[8]) : 0;
        return new MachineCpu((user + nice + system + irq + softirq) / t, (idle + iowait) / t, steal / t);
      } catch (IOException | RuntimeException e) {
        return new MachineCpu(0, 0, 0);
      }
    }

    /** @return the counters from {@code earlier} to this one */
    public MachineCpu minus(MachineCpu earlier) {
      return new MachineCpu(busy - earlier.busy, idle - earlier.idle, steal - earlier.steal);
    }

    /** @return the busy share of all the time counted (busy + idle + steal), 0..1 */
    public double busyShare() {
      double all = busy + idle + steal;
      return all == 0 ? 0 : busy / all;
    }

    /** @return the stolen share, 0..1 */
    public double stealShare() {
      double all = busy + idle + steal;
      return all == 0 ? 0 : steal / all;
    }
  }

  private static double ticksPerSecond() {
    if (ticksPerSecond == 0) {
      double ticks = 100; // Linux's USER_HZ nearly everywhere; asked of getconf below
      try {
        Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (p.waitFor(10, TimeUnit.SECONDS) && out.matches("\\d+")) {
          ticks = Double.parseDouble(out);
        }
      } catch (IOException e) {
        // keep 100
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      ticksPerSecond = ticks;
    }
    return ticksPerSecond;
  }

  // ---- small things --------------------------------------------------------------------------

  /** @return a port free on 127.0.0.1 now (bound to port 0 and released) */
  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** @return the {@code java} of this JVM */
  static String javaBinary() {
    return Paths.get(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** Polls {@code done} every 200 ms until it holds; throws, with {@code detail}, after {@code bound}. */
  static void await(String what, Duration bound, BooleanSupplier done, java.util.function.Supplier<String> detail) {
    long deadline = System.nanoTime() + bound.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("not within " + bound.toSeconds() + " s: " + what + "; " + detail.get());
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted waiting for " + what, e);
      }
    }
  }
}
