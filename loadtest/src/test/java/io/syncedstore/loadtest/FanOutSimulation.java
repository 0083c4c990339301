package io.syncedstore.loadtest;

import static io.gatling.javaapi.core.CoreDsl.asLongAs;
import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.bodyString;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.doIf;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.pace;
import static io.gatling.javaapi.core.CoreDsl.pause;
import static io.gatling.javaapi.core.CoreDsl.rampUsers;
import static io.gatling.javaapi.core.CoreDsl.regex;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.ws;

import io.gatling.http.action.ws.WsInboundMessage;
import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Session;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import java.time.Duration;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * Fan-out over the sync WebSocket: one instance ({@code instance}, default {@code fanout-1}, of
 * app {@code todo}), {@code listeners} clients that only listen, one writer; measures the time
 * from a push until every listener holds the write.
 *
 * <p><b>Workload.</b> Listeners arrive (open injection, {@code rampUsers} at {@code connectRate} a
 * second), each its own client group, connect, say hello and wait for the initial poke. The writer
 * connects at once and waits until every listener has said hello (or the arrivals' duration + 30 s
 * have passed), lets {@code settleMs} go by, then pushes {@code warmupWrites} + {@code writes}
 * {@code setTodo}s, one every {@code writeIntervalMs} (Gatling {@code pace}: the next write does not
 * wait for the fan-out of the previous one, only for the writer's own confirmation, so a fan-out
 * slower than the interval piles up instead of hiding). Each write is a
 * new todo whose {@code text} carries the write's number and the writer's wall-clock time just
 * before the push ({@code System.currentTimeMillis()} in a session function right before the send).
 * The warm-up writes must reach every listener like the others but stay out of the figures and the
 * verdict (the summary shows them apart): on a freshly started server the first pushes pay for JIT
 * compilation and the journal's first writes (the first push of a smoke run took 200 ms to commit),
 * which would otherwise be the p99 of a run of 100 writes.
 *
 * <p><b>What is measured, and how.</b> A listener sends nothing while it listens (no ping that
 * would add load at the instant of the fan-out and no check that must be armed before the poke
 * arrives). Gatling buffers every frame that no check awaits, with the time its Netty handler
 * received it ({@code wsUnmatchedInboundMessageBufferSize}); every {@code pollMs} the listener
 * drains that buffer ({@code ws.processUnmatchedMessages}) and, for each write found in a poke
 * (several if the server ever coalesced pokes), records <i>receipt time − push time</i>. The poll
 * interval therefore does not enter the figure: the timestamps are the frames' receipt times. Both
 * clocks are {@code System.currentTimeMillis()} in the same JVM: millisecond resolution, and the
 * push time is taken a little before Gatling's own send, so a figure is never smaller than the
 * truth. The Gatling Java DSL has no API for a metric that starts in one virtual user and ends in
 * another, so the figures go into HdrHistograms (static, one JVM per run): <i>per delivery</i>
 * (push → one listener has it) and, the target's figure, <i>per write</i>: the maximum over the
 * listeners, i.e. the time until every listener holds the write (and the minimum: until the first
 * does). They are printed at the end of the run and written to
 * {@code target/FanOutSimulation-summary-*.txt}.
 *
 * <p><b>Pass or fail.</b> Gatling assertions: no failed request ({@code maxErrorPercent}, 0),
 * where each listener ends with a request "all writes received" (a ping whose pong is checked
 * against the set of writes the listener saw: every write the writer pushed must be there), and
 * the writer ends, once every listener is done, with a request "fan-out p99 under ... ms" whose
 * check fails when the per-write p99 of the time until every listener holds the write is not
 * under {@code p99Ms} (100) or a write did not reach every ready listener. A breach therefore
 * fails the Gatling run like any assertion; the figure itself is in the printed summary, not in
 * the HTML report. The writer's own confirmations are ordinary Gatling requests ("writer
 * confirmed": push → the writer's confirming poke).
 *
 * <p>System properties: {@code baseUrl} (ws://127.0.0.1:8080), {@code listeners} (200),
 * {@code connectRate} (50 listeners/s; at 100 a second, on 2 cores shared with Gatling, the
 * connects took 1.4 s at p50 and one of 1,000 timed out, the server's accept backlog overflowing),
 * {@code writes} (100, measured), {@code warmupWrites} (20), {@code writeIntervalMs} (200),
 * {@code settleMs} (2000), {@code instance} (fanout-1), {@code pollMs} (500), {@code drainSeconds}
 * (15: how long listeners wait for the last writes after the writer is done), {@code p99Ms} (100),
 * {@code maxErrorPercent} (0), {@code checkTimeoutSeconds} (30). The defaults take about 40 s; the
 * target: {@code -Dlisteners=1000} (about a minute). Listeners are silent until the first write, so
 * the arrivals' duration ({@code listeners / connectRate}) + {@code settleMs} must stay well under
 * the server's idle timeout (60 s).
 */
public class FanOutSimulation extends Simulation {
  private static final String BASE_URL = System.getProperty("baseUrl", "ws://127.0.0.1:8080");
  private static final int LISTENERS = Integer.getInteger("listeners", 200);
  private static final int CONNECT_RATE = Integer.getInteger("connectRate", 50);
  private static final long CONNECT_MS = LISTENERS * 1000L / Math.max(1, CONNECT_RATE);
  private static final int WRITES = Integer.getInteger("writes", 100);
  private static final int WARMUP_WRITES = Integer.getInteger("warmupWrites", 20);
  private static final int TOTAL_WRITES = WARMUP_WRITES + WRITES;
  private static final int WRITE_INTERVAL_MS = Integer.getInteger("writeIntervalMs", 200);
  private static final int SETTLE_MS = Integer.getInteger("settleMs", 2000);
  private static final String INSTANCE = System.getProperty("instance", "fanout-1");
  private static final int POLL_MS = Integer.getInteger("pollMs", 500);
  private static final int DRAIN_MS = Integer.getInteger("drainSeconds", 15) * 1000;
  private static final int P99_MS = Integer.getInteger("p99Ms", 100);
  private static final double MAX_ERROR_PERCENT = Double.parseDouble(System.getProperty("maxErrorPercent", "0"));
  private static final int CHECK_TIMEOUT_SECONDS = Integer.getInteger("checkTimeoutSeconds", 30);

  /** Distinguishes this run's writes from an earlier run's rows in the same instance. */
  private static final String RUN = Long.toString(System.currentTimeMillis(), 36);
  private static final Pattern WRITE = Pattern.compile("\"text\":\"fanout " + RUN + " (\\d+) (\\d+)\"");
  private static final String PATH = "/v1/apps/todo/instances/" + INSTANCE + "/sync";
  private static final String HELLO = "{\"type\":\"hello\",\"protocolVersion\":1,\"clientGroupId\":\"g-#{clientId}\","
      + "\"clientId\":\"#{clientId}\",\"schemaVersion\":1}";
  private static final String PING = "{\"type\":\"ping\"}";
  private static final String VERDICT = "fan-out p99 under " + P99_MS + " ms";
  /** Longest a listener listens, from its hello, should the writer never finish. */
  private static final long LISTEN_CAP_MS = CONNECT_MS + 60_000L + SETTLE_MS
      + (long) TOTAL_WRITES * (WRITE_INTERVAL_MS + CHECK_TIMEOUT_SECONDS * 1000L) + DRAIN_MS;

  // Shared by the virtual users (Gatling runs one simulation per JVM).
  private static final AtomicInteger HELLOED = new AtomicInteger();
  private static final AtomicInteger READY = new AtomicInteger();
  private static final AtomicInteger FINISHED = new AtomicInteger();
  private static volatile int receivers;
  private static volatile long writerDoneAt;
  private static final AtomicLongArray SENT_AT = new AtomicLongArray(TOTAL_WRITES + 1);
  private static final AtomicIntegerArray CONFIRMED = new AtomicIntegerArray(TOTAL_WRITES + 1);
  private static final AtomicIntegerArray RECEIVED_BY = new AtomicIntegerArray(TOTAL_WRITES + 1);
  private static final AtomicLongArray ALL_HAVE_IT = new AtomicLongArray(TOTAL_WRITES + 1);
  private static final AtomicLongArray FIRST_HAS_IT = new AtomicLongArray(TOTAL_WRITES + 1);
  private static final ConcurrentHistogram PER_DELIVERY = new ConcurrentHistogram(3);
  private static String summary;
  private static String verdict;

  static {
    for (int k = 0; k <= TOTAL_WRITES; k++) {
      FIRST_HAS_IT.set(k, Long.MAX_VALUE);
    }
  }

  private final HttpProtocolBuilder protocol = http.wsBaseUrl(BASE_URL).wsMaxReconnects(0)
      // Enough for every poke between two polls, with a wide margin.
      .wsUnmatchedInboundMessageBufferSize(Math.max(1000, 20 * POLL_MS / Math.max(1, WRITE_INTERVAL_MS)));

  private final ChainBuilder helloAndInitialPoke = exec(ws("connect").connect(PATH))
      .exec(ws("hello").sendText(HELLO).await(Duration.ofSeconds(CHECK_TIMEOUT_SECONDS)).on(
          ws.checkTextMessage("connected").matching(regex("\"type\":\"connected\"").exists()),
          ws.checkTextMessage("initial poke").matching(regex("\"type\":\"poke\"").exists())
              .check(regex("\"cookie\":\"([^\"]+)\"").saveAs("cookie"))));

  private final ScenarioBuilder listeners = scenario("FanOut listeners")
      .exec(session -> session.set("clientId", "fanout-listener-" + RUN + "-" + session.userId()).set("seen", new BitSet()))
      .exec(helloAndInitialPoke)
      .exec(session -> {
        HELLOED.incrementAndGet();
        if (session.contains("cookie")) {
          READY.incrementAndGet();
        }
        return session.set("listenUntil", System.currentTimeMillis() + LISTEN_CAP_MS);
      })
      .doIf(session -> session.contains("cookie")).then(
          asLongAs(FanOutSimulation::stillListening).on(
              pause(Duration.ofMillis(POLL_MS)),
              ws.processUnmatchedMessages(FanOutSimulation::absorb))
          .exec(ws("all writes received ping").sendText(PING).await(Duration.ofSeconds(CHECK_TIMEOUT_SECONDS)).on(
              ws.checkTextMessage("all writes received").matching(regex("\"type\":\"pong\"").exists())
                  .check(bodyString().transformWithSession((body, session) -> missedWrites(session)).is("none")))))
      .exec(session -> {
        FINISHED.incrementAndGet();
        return session;
      })
      .exec(ws("close").close());

  private final ScenarioBuilder writer = scenario("FanOut writer")
      .exec(session -> session.set("clientId", "fanout-writer-" + RUN)
          .set("readyDeadline", System.currentTimeMillis() + CONNECT_MS + 30_000L))
      .exec(helloAndInitialPoke)
      .asLongAs(session -> HELLOED.get() < LISTENERS && System.currentTimeMillis() < session.getLong("readyDeadline"))
      .on(pause(Duration.ofMillis(100)))
      .exec(session -> {
        receivers = READY.get();
        return session;
      })
      .pause(Duration.ofMillis(SETTLE_MS))
      .repeat(TOTAL_WRITES, "i").on(
          pace(Duration.ofMillis(WRITE_INTERVAL_MS))
              .exec(session -> {
                int k = session.getInt("i") + 1;
                long now = System.currentTimeMillis();
                SENT_AT.set(k, now);
                return session.set("k", k).set("sent", now).remove("confirmed");
              })
              .exec(ws("write").sendText("{\"type\":\"push\",\"mutations\":[{\"id\":#{k},\"name\":\"setTodo\",\"timestamp\":#{sent},"
                      + "\"args\":{\"id\":\"fanout-" + RUN + "-#{k}\",\"text\":\"fanout " + RUN + " #{k} #{sent}\",\"updatedAt\":#{sent}}}]}")
                  .await(Duration.ofSeconds(CHECK_TIMEOUT_SECONDS)).on(
                      ws.checkTextMessage("writer confirmed").matching(regex("\"#{clientId}\":#{k}[,}]").exists())
                          .check(regex("\"#{clientId}\":(#{k})[,}]").saveAs("confirmed"))))
              .exec(session -> {
                if (session.contains("confirmed")) {
                  CONFIRMED.set(session.getInt("k"), 1);
                }
                return session;
              }))
      .exec(session -> {
        writerDoneAt = System.currentTimeMillis();
        return session;
      })
      .asLongAs(session -> FINISHED.get() < LISTENERS && System.currentTimeMillis() < writerDoneAt + DRAIN_MS + 60_000L)
      .on(pause(Duration.ofMillis(200)))
      .exec(ws("verdict ping").sendText(PING).await(Duration.ofSeconds(CHECK_TIMEOUT_SECONDS)).on(
          ws.checkTextMessage(VERDICT).matching(regex("\"type\":\"pong\"").exists())
              .check(bodyString().transform(body -> verdict()).is("ok"))))
      .exec(ws("close").close());

  {
    setUp(
        listeners.injectOpen(rampUsers(LISTENERS).during(Duration.ofMillis(Math.max(1, CONNECT_MS)))),
        writer.injectOpen(atOnceUsers(1)))
        .protocols(protocol)
        .assertions(
            global().failedRequests().percent().lte(MAX_ERROR_PERCENT),
            details(VERDICT).failedRequests().count().is(0L));
  }

  private static boolean stillListening(Session session) {
    long now = System.currentTimeMillis();
    long done = writerDoneAt;
    if (now > session.getLong("listenUntil") || (done != 0 && now > done + DRAIN_MS)) {
      return false;
    }
    return done == 0 || !missedWrites(session).equals("none");
  }

  /** Records every write found in the frames received since the last poll. */
  private static Session absorb(List<WsInboundMessage> messages, Session session) {
    BitSet seen = session.get("seen");
    for (WsInboundMessage message : messages) {
      if (!(message instanceof WsInboundMessage.Text text)) {
        continue;
      }
      Matcher m = WRITE.matcher(text.message());
      while (m.find()) {
        int k = Integer.parseInt(m.group(1));
        if (k < 1 || k > TOTAL_WRITES || seen.get(k)) {
          continue;
        }
        seen.set(k);
        long latency = Math.max(0, text.timestamp() - Long.parseLong(m.group(2)));
        if (k > WARMUP_WRITES) {
          PER_DELIVERY.recordValue(latency);
        }
        RECEIVED_BY.incrementAndGet(k);
        ALL_HAVE_IT.accumulateAndGet(k, latency, Math::max);
        FIRST_HAS_IT.accumulateAndGet(k, latency, Math::min);
      }
    }
    return session;
  }

  /** "none", or the writes the writer pushed that this listener has not seen. */
  private static String missedWrites(Session session) {
    BitSet seen = session.get("seen");
    StringBuilder missed = new StringBuilder();
    int count = 0;
    for (int k = 1; k <= TOTAL_WRITES; k++) {
      if (SENT_AT.get(k) != 0 && !seen.get(k)) {
        if (count++ < 5) {
          missed.append(missed.length() == 0 ? "" : ",").append(k);
        }
      }
    }
    return count == 0 ? "none" : count + " missed (writes " + missed + (count > 5 ? ",..." : "") + ")";
  }

  /** Computed once, when every listener is done: "ok" or what breached. */
  private static synchronized String verdict() {
    if (verdict == null) {
      summarize();
    }
    return verdict;
  }

  private static synchronized void summarize() {
    Histogram all = new Histogram(3);
    Histogram first = new Histogram(3);
    Histogram warmupAll = new Histogram(3);
    int sent = 0;
    int confirmed = 0;
    int incomplete = 0;
    StringBuilder incompleteList = new StringBuilder();
    int everyone = receivers;
    for (int k = 1; k <= TOTAL_WRITES; k++) {
      if (SENT_AT.get(k) == 0) {
        continue;
      }
      int got = RECEIVED_BY.get(k);
      if (k <= WARMUP_WRITES) {
        if (got >= everyone && everyone > 0) {
          warmupAll.recordValue(ALL_HAVE_IT.get(k));
        } else {
          incomplete++;
          if (incomplete <= 10) {
            incompleteList.append(" #").append(k).append(" (").append(got).append(')');
          }
        }
        continue;
      }
      sent++;
      confirmed += CONFIRMED.get(k);
      if (got > 0) {
        first.recordValue(FIRST_HAS_IT.get(k));
      }
      if (got >= everyone && everyone > 0) {
        all.recordValue(ALL_HAVE_IT.get(k));
      } else {
        incomplete++;
        if (incomplete <= 10) {
          incompleteList.append(" #").append(k).append(" (").append(got).append(')');
        }
      }
    }
    if (everyone == 0) {
      verdict = "no listener was ready";
    } else if (sent == 0) {
      verdict = "no write was pushed";
    } else if (incomplete > 0) {
      verdict = incomplete + " writes did not reach every ready listener";
    } else if (all.getValueAtPercentile(99) >= P99_MS) {
      verdict = "p99 " + all.getValueAtPercentile(99) + " ms, not under " + P99_MS + " ms";
    } else {
      verdict = "ok";
    }
    summary = String.join("\n",
        "FanOut summary (run " + RUN + ", instance " + INSTANCE + ")",
        "  listeners: " + LISTENERS + " injected, " + READY.get() + " ready (" + everyone + " when the writes started), "
            + FINISHED.get() + " finished",
        "  writes: " + WARMUP_WRITES + " warm-up writes, then " + sent + " measured pushed, " + confirmed
            + " confirmed to the writer, one every " + WRITE_INTERVAL_MS + " ms",
        "  warm-up writes (not in the figures below), push -> every listener holds it: " + LatencySummary.describe(warmupAll),
        "  push -> one listener holds the write (per delivery): " + LatencySummary.describe(PER_DELIVERY),
        "  push -> EVERY listener holds the write (per write):  " + LatencySummary.describe(all),
        "  push -> the first listener holds the write (per write): " + LatencySummary.describe(first),
        "  writes (warm-up included) that did not reach every ready listener: " + incomplete + (incomplete > 0 ? ":" + incompleteList : ""),
        "  verdict (per-write p99 until every listener holds it, under " + P99_MS + " ms): " + verdict,
        "");
  }

  @Override
  public void after() {
    summarize();
    LatencySummary.publish("FanOutSimulation", summary);
  }
}
