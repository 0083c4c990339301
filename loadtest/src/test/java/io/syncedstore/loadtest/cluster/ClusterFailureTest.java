package io.syncedstore.loadtest.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Three server JVMs on loopback sharing a PostgreSQL journal (config/cluster.conf), 30 clients
 * (client-java, each given every node's URL, its home node first) on 10 instances of the
 * {@link OracleApp}, a steady push load of oracle tokens, and a fault in the middle: a node killed
 * with SIGKILL and restarted, a node leaving with SIGTERM and restarted, or a rolling restart of
 * all three. At the end every acknowledged token must be in every replica exactly once and in
 * order, the replicas of an instance and a fresh pull identical, the journal free of gaps and of
 * interleaved writers, and no node log may show a sequence-number conflict.
 *
 * <p>Needs PostgreSQL at 127.0.0.1:5432 (user postgres, database test; -Dcluster.it.postgres=HOST:PORT).
 * Run: {@code mvn -B -pl loadtest test -Dtest='ClusterFailureTest'}. Files (node configs and logs,
 * summary.txt) go to {@code loadtest/target/cluster-it/<scenario>/}.
 */
@Timeout(value = 330, unit = TimeUnit.SECONDS)
class ClusterFailureTest {
  private static final Duration NODE_START = Duration.ofSeconds(90);
  private static final Duration MEMBERSHIP = Duration.ofSeconds(90);
  private static final Duration EXIT = Duration.ofSeconds(60);
  private static final Duration CONVERGE = Duration.ofSeconds(120);
  private static final long LOAD_BEFORE_FAULT_MS = Long.getLong("cluster.it.loadBeforeFaultSeconds", 10) * 1000;
  private static final long LOAD_AFTER_FAULT_MS = Long.getLong("cluster.it.loadAfterFaultSeconds", 5) * 1000;

  private ClusterHarness cluster;
  private OracleLoad load;
  private final List<String> timeline = new ArrayList<>();
  /** Instances on the node that went away (kill and graceful leave). */
  private final Set<String> faulted = new java.util.TreeSet<>();
  private long loadStart;
  private String scenario;

  @AfterEach
  void cleanUp() {
    if (load != null) {
      load.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aNodeKilledMidLoadAndRestartedLosesNothing() throws Exception {
    scenario("kill", "SIGKILL node3 mid-load, restart it", () -> {
      ClusterNode victim = cluster.node(3);
      Set<String> hosted = victim.instancesStartedHere();
      assertFalse(hosted.isEmpty(), victim.name() + " started no instance (no 'instance [...] recovered' line in its log):"
          + " killing it would test nothing");
      faulted.addAll(hosted);
      event("SIGKILL " + victim.name() + ", which runs " + hosted + " (" + load.progress() + ")");
      long killed = System.nanoTime();
      victim.kill();
      Duration down = cluster.awaitMembers(others(victim), 2, MEMBERSHIP);
      event("node1, node2 see 2 Up members, none unreachable, " + Waits.seconds(down) + " after the kill (" + load.progress() + ")");
      awaitEveryClientConfirmingAfter(killed, "the kill");
      restartAndRejoin(victim);
    });
  }

  @Test
  void aNodeLeavingGracefullyLosesNothing() throws Exception {
    scenario("graceful-leave", "SIGTERM node3 mid-load (graceful leave), restart it", () -> {
      ClusterNode leaver = cluster.node(3);
      faulted.addAll(leaver.instancesStartedHere());
      assertFalse(faulted.isEmpty(), leaver.name() + " started no instance (no 'instance [...] recovered'"
          + " line in its log): its leaving would test nothing");
      leaveAndRejoin(leaver);
      assertNoInternalErrorCloses();
    });
  }

  /**
   * A graceful leave tells each of its clients to reconnect (1012) before HTTP stops, and the
   * instances it hands off close their sessions the same way: no client is cut off with 1011.
   */
  private void assertNoInternalErrorCloses() {
    Map<Integer, Integer> codes = load.closeCodes();
    assertFalse(codes.containsKey(1011), "clients were disconnected with 1011 (internal error) during a graceful leave: " + codes);
  }

  @Test
  void aRollingRestartLosesNothing() throws Exception {
    scenario("rolling-restart", "rolling restart under load: node3, node2, node1, each SIGTERM then restart", () -> {
      for (int i = cluster.nodes.size(); i >= 1; i--) {
        leaveAndRejoin(cluster.node(i));
        Waits.sleep(2000); // a moment of load on the full cluster before the next node goes
      }
      assertNoInternalErrorCloses();
    });
  }

  private void leaveAndRejoin(ClusterNode node) throws Exception {
    Set<String> hosted = node.instancesStartedHere();
    event("SIGTERM " + node.name() + ", on which " + (hosted.isEmpty() ? "no instance" : hosted) + " started (" + load.progress() + ")");
    long t = System.nanoTime();
    int code = node.terminate(EXIT);
    long exited = System.nanoTime();
    event(node.name() + " exited with code " + code + " after " + Waits.seconds(Duration.ofNanos(exited - t)));
    Duration left = cluster.awaitMembers(others(node), cluster.nodes.size() - 1, MEMBERSHIP);
    event("the others see " + (cluster.nodes.size() - 1) + " Up members (" + Waits.seconds(left) + " after the exit; "
        + load.progress() + ")");
    awaitEveryClientConfirmingAfter(exited, node.name() + "'s exit");
    restartAndRejoin(node);
  }

  private void restartAndRejoin(ClusterNode node) throws Exception {
    long t = System.nanoTime();
    cluster.restart(node, NODE_START);
    event(node.name() + " restarted, listening again (" + Waits.seconds(Duration.ofNanos(System.nanoTime() - t)) + ")");
    Duration up = cluster.awaitMembers(cluster.nodes, cluster.nodes.size(), MEMBERSHIP);
    event("all nodes see " + cluster.nodes.size() + " Up members again (" + Waits.seconds(up) + " later; " + load.progress() + ")");
  }

  /** Before a node comes back: the instances it ran now run elsewhere, and their clients (wherever connected) confirm again. */
  private void awaitEveryClientConfirmingAfter(long sinceNanos, String what) {
    Duration d = load.awaitEveryClientConfirmingAfter(sinceNanos, CONVERGE);
    event("every client has had a mutation confirmed since " + what + "; the last one " + Waits.seconds(d) + " after it ("
        + load.progress() + ")");
  }

  private List<ClusterNode> others(ClusterNode node) {
    return cluster.nodes.stream().filter(n -> n != node).toList();
  }

  private interface Fault {
    void run() throws Exception;
  }

  private void scenario(String name, String description, Fault fault) throws Exception {
    scenario = name;
    long begin = System.nanoTime();
    cluster = ClusterHarness.create(name, 3);
    ScheduledExecutorService progress = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "cluster-it-progress");
      t.setDaemon(true);
      return t;
    });
    try {
      System.out.println("[" + name + "] " + description + "; files in " + cluster.dir);
      cluster.startAll(NODE_START);
      System.out.println("[" + name + "] 3 nodes Up after " + Waits.seconds(Duration.ofNanos(System.nanoTime() - begin)));
      load = OracleLoad.connect(cluster.nodes, Duration.ofSeconds(60));
      loadStart = System.nanoTime();
      event(OracleLoad.CLIENTS + " clients on " + OracleLoad.INSTANCES + " instances connected; load starts (a token every ~"
          + OracleLoad.INTERVAL_MS + " ms per client, at most " + OracleLoad.MAX_PENDING + " pending)");
      load.start();
      progress.scheduleAtFixedRate(() -> System.out.println("[" + name + "] " + elapsed() + " " + load.progress()), 5, 5, TimeUnit.SECONDS);
      Waits.sleep(LOAD_BEFORE_FAULT_MS);
      fault.run();
      Waits.sleep(LOAD_AFTER_FAULT_MS);
      load.stop();
      progress.shutdownNow();
      event("load stopped (" + load.progress() + ")");
      Duration converged = load.awaitConverged(CONVERGE);
      event("every client settled and each instance's clients identical, " + Waits.seconds(converged) + " after the load stopped");
      OracleLoad.Report report = load.verify(Duration.ofSeconds(60));
      ClusterHarness.JournalReport journal = cluster.checkJournal();
      List<String> conflicts = cluster.sequenceConflictsInLogs();

      StringBuilder summary = new StringBuilder()
          .append("==== cluster failure test '").append(name).append("': ").append(description).append(" ====\n")
          .append("timeline:\n");
      timeline.forEach(l -> summary.append("  ").append(l).append('\n'));
      summary.append("result: ").append(report).append('\n')
          .append("time until all clients converged: ").append(Waits.seconds(converged)).append(" after the load stopped\n")
          .append(faulted.isEmpty() ? "" : load.pausesByInstanceFate(faulted))
          .append(load.pausesByHome())
          .append("journal: ").append(journal).append('\n')
          .append("sequence-number conflicts in node logs: ").append(conflicts.isEmpty() ? "none" : conflicts.size() + " " + conflicts)
          .append('\n')
          .append("node logs:\n").append(cluster.logSummary());
      report.differences().forEach(d -> summary.append("  ! ").append(d).append('\n'));
      summary.append("total ").append(Waits.seconds(Duration.ofNanos(System.nanoTime() - begin))).append('\n');
      System.out.print(summary);
      Files.writeString(cluster.dir.resolve("summary.txt"), summary, StandardCharsets.UTF_8);

      assertEquals(0, report.lost(), "acknowledged tokens lost");
      assertEquals(0, report.duplicated(), "tokens applied twice");
      assertEquals(0, report.outOfOrder(), "tokens out of order");
      assertEquals(0, report.phantom(), "tokens nobody issued");
      assertEquals(0, report.misnumbered(), "rows numbered out of their position");
      assertEquals(0, report.failed(), "mutations refused by the server");
      assertEquals(report.issued(), report.acknowledged(), "every issued token acknowledged");
      assertEquals(report.instances(), report.identical(), "instances whose replicas and fresh pull are identical");
      assertTrue(journal.problems().isEmpty(), "journal: " + journal.problems());
      assertEquals(OracleLoad.INSTANCES, journal.writersByInstance().keySet().stream().filter(id -> id.startsWith(OracleApp.NAME)).count(),
          "instances in the journal: " + journal.writersByInstance().keySet());
      assertTrue(conflicts.isEmpty(), "sequence-number conflicts in node logs: " + conflicts);
      assertTrue(report.clean(), report.toString());
    } catch (Throwable t) {
      progress.shutdownNow();
      System.out.println("[" + name + "] FAILED: " + t);
      timeline.forEach(l -> System.out.println("  " + l));
      System.out.println(cluster.logTails(80));
      throw t;
    }
  }

  private String elapsed() {
    return "t=" + Waits.seconds(Duration.ofNanos(System.nanoTime() - loadStart));
  }

  private void event(String what) {
    String line = elapsed() + " " + what;
    timeline.add(line);
    System.out.println("[" + scenario + "] " + line);
  }
}
