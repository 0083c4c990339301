package io.syncedstore.runtime;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * The server's metrics (Micrometer, exposed in the Prometheus text format at {@code GET /metrics}):
 * one set per actor system. Meters are created once here; instances and sessions only increment
 * them, which is thread-safe and allocation-free. Names and what they count: {@code docs/METRICS.md}.
 */
public final class EngineMetrics implements Extension {
  /** The extension's id. */
  public static final class Id extends ExtensionId<EngineMetrics> {
    static final Id INSTANCE = new Id();

    @Override
    public EngineMetrics createExtension(ActorSystem<?> system) {
      return new EngineMetrics();
    }
  }

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  final AtomicInteger instances = new AtomicInteger();
  final AtomicInteger sessions = new AtomicInteger();
  final Counter mutationsApplied;
  final Counter mutationsFailed;
  final Timer pushConfirm;
  final Timer journalWrite;
  final Counter pokesSent;
  final Counter pokesDropped;
  final Counter catchUps;
  final Counter actionsSucceeded;
  final Counter actionsFailed;
  final Counter actionsTimedOut;

  private EngineMetrics() {
    // The JVM's own: heap and GC (for soak runs: heap after GC should stay flat), threads, open files.
    new io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.system.FileDescriptorMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.system.ProcessorMetrics().bindTo(registry);
    Gauge.builder("synced_store_instances", instances, AtomicInteger::get)
        .description("app instances running on this node").register(registry);
    Gauge.builder("synced_store_sessions", sessions, AtomicInteger::get)
        .description("connected WebSocket clients on this node").register(registry);
    mutationsApplied = Counter.builder("synced_store_mutations_applied").description("mutations applied and persisted").register(registry);
    mutationsFailed = Counter.builder("synced_store_mutations_failed").description("mutations whose mutator failed (persisted as failed)")
        .register(registry);
    pushConfirm = latency("synced_store_push_confirm", "from a push reaching its instance to its answer, after the journal write");
    journalWrite = latency("synced_store_journal_write", "one group-commit write of an instance's events");
    pokesSent = Counter.builder("synced_store_pokes_sent").description("pokes handed to client sockets").register(registry);
    pokesDropped = Counter.builder("synced_store_pokes_coalesced")
        .description("pokes not sent to a slow client, covered by a later catch-up poke").register(registry);
    catchUps = Counter.builder("synced_store_catch_ups").description("catch-up pokes sent to clients that fell behind").register(registry);
    actionsSucceeded = actions("succeeded");
    actionsFailed = actions("failed");
    actionsTimedOut = actions("timed_out");
  }

  /** The cluster profile: membership as this node sees it ({@link ShardedInstances} binds it once). */
  void bindCluster(org.apache.pekko.cluster.typed.Cluster cluster) {
    Gauge.builder("synced_store_cluster_members_up", cluster,
            c -> java.util.stream.StreamSupport.stream(c.state().getMembers().spliterator(), false)
                .filter(m -> m.status() == org.apache.pekko.cluster.MemberStatus.up()).count())
        .description("cluster members Up, as this node sees them").register(registry);
    Gauge.builder("synced_store_cluster_members_unreachable", cluster, c -> c.state().getUnreachable().size())
        .description("cluster members this node's failure detector marks unreachable").register(registry);
  }

  private Timer latency(String name, String description) {
    return Timer.builder(name).description(description).publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofNanos(100_000)).maximumExpectedValue(Duration.ofSeconds(30)).register(registry);
  }

  private Counter actions(String outcome) {
    return Counter.builder("synced_store_actions").tag("outcome", outcome).description("action invocations finished, by outcome")
        .register(registry);
  }

  /**
   * @param system the server's actor system
   * @return its metrics
   */
  public static EngineMetrics get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  /** @return every meter in the Prometheus text format */
  public String scrape() {
    return registry.scrape();
  }

  /** @return the registry, for meters of an embedding */
  public PrometheusMeterRegistry registry() {
    return registry;
  }

  static void record(Timer timer, long sinceNanos) {
    timer.record(System.nanoTime() - sinceNanos, TimeUnit.NANOSECONDS);
  }
}
