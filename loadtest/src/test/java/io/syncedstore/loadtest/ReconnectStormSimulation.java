package io.syncedstore.loadtest;

import static io.gatling.javaapi.core.CoreDsl.asLongAs;
import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.bodyString;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.group;
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
import io.gatling.javaapi.http.Ws;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.ConcurrentHistogram;

/**
 * Reconnect storm over the sync WebSocket: {@code clients} clients connected to {@code instances}
 * todo instances are all dropped at once and all reconnect at once with the cookie they held;
 * measures the time until every one of them is caught up, and the errors.
 *
 * <p><b>Timeline.</b> The virtual users agree on two wall-clock instants through statics (Gatling
 * runs one simulation per JVM); a user waiting for an instant to be decided polls every 250 ms,
 * and each instant is decided at least 1 s ahead, so that every poller sleeps until the same
 * millisecond:
 *
 * <ol>
 *   <li>Clients arrive (open injection: {@code rampUsers(clients)} over {@code clients /
 *       arrivalRate} seconds), spread round-robin over the instances, each its own client group;
 *       each connects, says hello without a cookie, and pushes {@code pushesPerClient}
 *       {@code setTodo}s, one at a time, each awaited until the poke that confirms it. A client
 *       keeps the cookie of the newest poke it received: of the confirming pokes (a regex
 *       {@code saveAs}) and then of the other clients' pokes that arrived while it sat idle
 *       (Gatling's buffer of unmatched frames, drained just before the drop).
 *   <li><i>Drop instant</i>: once every client has done so (a barrier, not a fixed time, so that
 *       a slow machine does not drop clients that are still pushing), {@code settleMs} later.
 *       Every client closes its socket at that instant (a client-initiated close: Gatling cannot
 *       cut a TCP connection; for the server the effect is the same, the session ends).
 *   <li>While the clients are away, one writer per instance (connected all along, not dropped)
 *       pushes {@code changesPerInstance} {@code setTodo}s, starting 200 ms after the drop, and
 *       notes the instance version (cookie) of its last confirmation: what a reconnecting client
 *       of that instance must at least reach.
 *   <li><i>Reconnect instant</i>: {@code reconnectDelayMs} after the drop, or, should the writers
 *       take longer, 1 s after the last of them is done (the summary says which). Every client
 *       connects again at that instant (plus a uniform random {@code reconnectJitterMs}, 0 by
 *       default: the worst case, all at the same millisecond) and says hello with the same client
 *       group, client id and the cookie it held.
 * </ol>
 *
 * <p><b>Caught up</b> = the client received the first poke after {@code connected} and that poke
 * (a) continues from the cookie it sent ({@code baseCookie} equal to it; the protocol makes the
 * first poke either the patch from that cookie or a {@code clear} plus the full state, and the
 * summary counts the latter, "resets", which should not happen after a short outage), (b) reaches
 * at least the version of its writer's last change; and {@code connected} reports the client's own
 * {@code pushesPerClient} mutations as processed ({@code lastMutationId}). Any of these failing is
 * a failed Gatling request.
 *
 * <p><b>Figures.</b> Per client, the Gatling group "reconnect to caught up": its cumulated response
 * time is the WebSocket connect (TCP + upgrade), plus hello → {@code connected}, plus
 * {@code connected} → the catch-up poke (two await sequences, so the second is timed from the first's
 * message), i.e. the client's reconnect → caught up, less the virtual user's own gaps between its
 * actions. The storm as a whole: <i>time until all are caught up</i> = the latest catch-up poke's
 * receipt (taken in a check, which runs on the Netty thread that received the frame) − the reconnect
 * instant. That is a maximum over virtual users, which Gatling cannot express, so it is kept in
 * statics, printed at the end of the run with the per-client distributions (HdrHistogram), and
 * written to {@code target/ReconnectStormSimulation-summary-*.txt}.
 *
 * <p><b>Pass or fail</b> (Gatling assertions): no failed request ({@code maxErrorPercent}, 0); the
 * p99 of "reconnect to caught up" under {@code p99Ms} (10,000); and writer 0 ends, once every client
 * is done, with a request "all clients caught up within ... ms" whose check fails unless every
 * client caught up and the last did so within {@code allCaughtUpMs} (10,000) of the reconnect
 * instant.
 *
 * <p>System properties: {@code baseUrl} (ws://127.0.0.1:8080), {@code clients} (200),
 * {@code instances} (20), {@code arrivalRate} (50 clients/s), {@code pushesPerClient} (3),
 * {@code settleMs} (1000), {@code changesPerInstance} (5), {@code reconnectDelayMs} (2000),
 * {@code reconnectJitterMs} (0), {@code allCaughtUpMs} (10000), {@code p99Ms} (10000),
 * {@code maxErrorPercent} (0), {@code checkTimeoutSeconds} (30). The defaults take about 20 s; the
 * target: {@code -Dclients=2000} (40 s of arrivals, about 1.5 minutes in all). The earliest clients
 * wait from their last push to the drop, so the arrival time ({@code clients / arrivalRate}) must
 * stay well under the server's idle timeout (60 s) unless their instance keeps them busy.
 */
public class ReconnectStormSimulation extends Simulation {
  private static final String BASE_URL = System.getProperty("baseUrl", "ws://127.0.0.1:8080");
  private static final int CLIENTS = Integer.getInteger("clients", 200);
  private static final int INSTANCES = Integer.getInteger("instances", 20);
  private static final int ARRIVAL_RATE = Integer.getInteger("arrivalRate", 50);
  private static final int PUSHES = Integer.getInteger("pushesPerClient", 3);
  private static final int SETTLE_MS = Integer.getInteger("settleMs", 1000);
  private static final int CHANGES = Integer.getInteger("changesPerInstance", 5);
  private static final int RECONNECT_DELAY_MS = Integer.getInteger("reconnectDelayMs", 2000);
  private static final int RECONNECT_JITTER_MS = Integer.getInteger("reconnectJitterMs", 0);
  private static final int ALL_CAUGHT_UP_MS = Integer.getInteger("allCaughtUpMs", 10_000);
  private static final int P99_MS = Integer.getInteger("p99Ms", 10_000);
  private static final double MAX_ERROR_PERCENT = Double.parseDouble(System.getProperty("maxErrorPercent", "0"));
  private static final int CHECK_TIMEOUT_SECONDS = Integer.getInteger("checkTimeoutSeconds", 30);

  private static final String RUN = Long.toString(System.currentTimeMillis(), 36);
  private static final long ARRIVAL_MS = CLIENTS * 1000L / Math.max(1, ARRIVAL_RATE);
  private static final int WRITE_DELAY_MS = Math.min(200, RECONNECT_DELAY_MS / 4);
  private static final int POLL_MS = 250;
  /** How far ahead of the pollers an instant is decided. */
  private static final int DECIDE_AHEAD_MS = 1000;
  /** Should a barrier never fill (a bug, or users stuck in 30 s timeouts), how long to wait at most. */
  private static final long BARRIER_CAP_MS = ARRIVAL_MS + (PUSHES + 2L) * CHECK_TIMEOUT_SECONDS * 1000 + 30_000;
  private static final String GROUP = "reconnect to caught up";
  private static final String VERDICT = "all clients caught up within " + ALL_CAUGHT_UP_MS + " ms";
  private static final String PATH = "/v1/apps/todo/instances/#{instance}/sync";
  private static final String HELLO = "{\"type\":\"hello\",\"protocolVersion\":1,\"clientGroupId\":\"g-#{clientId}\","
      + "\"clientId\":\"#{clientId}\",\"schemaVersion\":1}";
  private static final String HELLO_WITH_COOKIE = "{\"type\":\"hello\",\"protocolVersion\":1,\"clientGroupId\":\"g-#{clientId}\","
      + "\"clientId\":\"#{clientId}\",\"cookie\":\"#{cookie}\",\"schemaVersion\":1}";
  private static final String PUSH = "{\"type\":\"push\",\"mutations\":[{\"id\":#{mid},\"name\":\"setTodo\",\"timestamp\":#{mid},"
      + "\"args\":{\"id\":\"#{clientId}-#{mid}\",\"text\":\"#{todoText}\",\"updatedAt\":#{mid}}}]}";
  private static final String COOKIE = "\"cookie\":\"([^\"]+)\"";
  private static final String COOKIE_VERSION = "\"cookie\":\"[^\"]*:(\\d+)\"";
  private static final Pattern COOKIE_PATTERN = Pattern.compile(COOKIE);

  // Shared by the virtual users.
  private static final AtomicLong START = new AtomicLong();
  private static final AtomicInteger CLIENT_SEQ = new AtomicInteger();
  private static final AtomicInteger WRITER_SEQ = new AtomicInteger();
  private static final AtomicLongArray TARGET_VERSION = new AtomicLongArray(INSTANCES);
  private static final AtomicInteger CLIENTS_READY = new AtomicInteger();
  private static final AtomicInteger WRITERS_DONE = new AtomicInteger();
  private static final AtomicLong DROP_AT = new AtomicLong();
  private static final AtomicLong RECONNECT_AT = new AtomicLong();
  private static volatile String dropDecision = "not decided";
  private static volatile String reconnectDecision = "not decided";
  private static final AtomicInteger LATE_FOR_DROP = new AtomicInteger();
  private static final AtomicInteger COOKIE_FROM_BUFFER = new AtomicInteger();
  private static final AtomicInteger RECONNECTED = new AtomicInteger();
  private static final AtomicInteger CAUGHT_UP = new AtomicInteger();
  private static final AtomicInteger RESETS = new AtomicInteger();
  private static final AtomicInteger FINISHED = new AtomicInteger();
  private static final AtomicLong LAST_CAUGHT_UP_AT = new AtomicLong();
  private static final ConcurrentHistogram PER_CLIENT = new ConcurrentHistogram(3);
  private static final ConcurrentHistogram SINCE_STORM = new ConcurrentHistogram(3);
  private static final ConcurrentHistogram START_LAG = new ConcurrentHistogram(3);
  private static String verdict;

  private final HttpProtocolBuilder protocol = http.wsBaseUrl(BASE_URL).wsMaxReconnects(0)
      // Only the newest poke before the drop matters; the buffer drops the oldest.
      .wsUnmatchedInboundMessageBufferSize(16);

  /** The socket before the drop. */
  private static Ws before(String request) {
    return ws(request).wsName("before");
  }

  /** The socket after the reconnect. */
  private static Ws after(String request) {
    return ws(request).wsName("after");
  }

  private static long start() {
    START.compareAndSet(0, System.currentTimeMillis());
    return START.get();
  }

  private static Duration until(long instant) {
    return Duration.ofMillis(Math.max(1, instant - System.currentTimeMillis()));
  }

  /** Sets an instant once: {@code notBefore}, or {@code DECIDE_AHEAD_MS} from now if later; the first caller wins. */
  private static void decide(AtomicLong instant, long notBefore, String why, boolean drop) {
    long at = Math.max(notBefore, System.currentTimeMillis() + DECIDE_AHEAD_MS);
    if (instant.compareAndSet(0, at)) {
      if (drop) {
        dropDecision = why;
      } else {
        reconnectDecision = why;
      }
    }
  }

  /** True while the drop instant is not decided; decides it when the barrier waited too long. */
  private static boolean dropUndecided() {
    if (DROP_AT.get() == 0 && System.currentTimeMillis() > START.get() + BARRIER_CAP_MS) {
      decide(DROP_AT, 0, "by the time cap, " + CLIENTS_READY.get() + " of " + CLIENTS + " clients ready", true);
    }
    return DROP_AT.get() == 0;
  }

  /** True while the reconnect instant is not decided; decides it when the writers took too long. */
  private static boolean reconnectUndecided() {
    if (RECONNECT_AT.get() == 0 && DROP_AT.get() != 0
        && System.currentTimeMillis() > DROP_AT.get() + RECONNECT_DELAY_MS + (CHANGES + 1L) * CHECK_TIMEOUT_SECONDS * 1000) {
      decide(RECONNECT_AT, 0, "by the time cap, " + WRITERS_DONE.get() + " of " + INSTANCES + " writers done", false);
    }
    return RECONNECT_AT.get() == 0;
  }

  private final ChainBuilder connectAndHello = exec(before("connect").connect(PATH))
      .exec(before("hello").sendText(HELLO).await(Duration.ofSeconds(CHECK_TIMEOUT_SECONDS)).on(
          ws.checkTextMessage("connected").matching(regex("\"type\":\"connected\"").exists()),
          ws.checkTextMessage("initial poke").matching(regex("\"type\":\"poke\"").exists()).check(regex(COOKIE).saveAs("cookie"))));

  private final ChainBuilder push = exec(before("push").sendText(PUSH).await(Duration.ofSeconds(CHECK_TIMEOUT_SECONDS)).on(
      ws.checkTextMessage("confirmed").matching(regex("\"#{clientId}\":#{mid}[,}]").exists())
          .check(regex(COOKIE).saveAs("cookie"), regex(COOKIE_VERSION).transform(Long::parseLong).saveAs("version"))));

  private final ScenarioBuilder clients = scenario("ReconnectStorm clients")
      .exec(session -> {
        start();
        int idx = CLIENT_SEQ.getAndIncrement() % INSTANCES;
        return session.set("clientId", "storm-" + RUN + "-" + session.userId()).set("idx", idx)
            .set("instance", "storm-" + RUN + "-" + idx).set("todoText", "pushed before the storm");
      })
      .exec(connectAndHello)
      .repeat(PUSHES, "n").on(exec(session -> session.set("mid", session.getInt("n") + 1)).exec(push))
      .exec(session -> {
        if (CLIENTS_READY.incrementAndGet() == CLIENTS) {
          decide(DROP_AT, System.currentTimeMillis() + SETTLE_MS, "every client had pushed; drop " + SETTLE_MS + " ms later", true);
        }
        return session;
      })
      .asLongAs(session -> dropUndecided()).on(pause(Duration.ofMillis(POLL_MS)))
      .pause(session -> until(DROP_AT.get()))
      .exec(ws.processUnmatchedMessages("before", ReconnectStormSimulation::keepNewestCookie))
      .exec(session -> {
        if (System.currentTimeMillis() > DROP_AT.get() + 100) {
          LATE_FOR_DROP.incrementAndGet();
        }
        return session;
      })
      .exec(before("drop").close())
      .asLongAs(session -> reconnectUndecided()).on(pause(Duration.ofMillis(POLL_MS)))
      .exec(session -> session.set("plannedReconnect",
          RECONNECT_AT.get() + (RECONNECT_JITTER_MS > 0 ? ThreadLocalRandom.current().nextInt(RECONNECT_JITTER_MS + 1) : 0)))
      .pause(session -> until(session.getLong("plannedReconnect")))
      .exec(session -> {
        RECONNECTED.incrementAndGet();
        return session.markAsSucceeded().set("reconnectStart", System.currentTimeMillis());
      })
      .group(GROUP).on(
          exec(after("reconnect").connect(PATH))
              .exec(after("hello with cookie").sendText(HELLO_WITH_COOKIE)
                  .await(Duration.ofSeconds(CHECK_TIMEOUT_SECONDS)).on(
                      ws.checkTextMessage("connected again").matching(regex("\"type\":\"connected\"").exists())
                          .check(regex("\"lastMutationId\":(\\d+)").transform(Integer::parseInt).is(PUSHES)))
                  .await(Duration.ofSeconds(CHECK_TIMEOUT_SECONDS)).on(
                      ws.checkTextMessage("caught up").matching(regex("\"type\":\"poke\"").exists())
                          .check(
                              regex("\"baseCookie\":\"([^\"]*)\"").is(session -> session.getString("cookie")),
                              regex(COOKIE_VERSION).transform(Long::parseLong).gte(session -> TARGET_VERSION.get(session.getInt("idx"))),
                              regex("\"patch\":\\[\\{\"op\":\"clear\"").count().saveAs("resets"),
                              // When the catch-up poke arrived: checks run on the Netty thread that received the frame.
                              bodyString().transform(body -> System.currentTimeMillis()).saveAs("caughtUpAt")))))
      .exec(session -> {
        if (!session.isFailed() && session.contains("caughtUpAt")) {
          long at = session.getLong("caughtUpAt");
          long reconnectStart = session.getLong("reconnectStart");
          CAUGHT_UP.incrementAndGet();
          LAST_CAUGHT_UP_AT.accumulateAndGet(at, Math::max);
          PER_CLIENT.recordValue(Math.max(0, at - reconnectStart));
          SINCE_STORM.recordValue(Math.max(0, at - RECONNECT_AT.get()));
          START_LAG.recordValue(Math.max(0, reconnectStart - session.getLong("plannedReconnect")));
          if (session.getInt("resets") > 0) {
            RESETS.incrementAndGet();
          }
        }
        FINISHED.incrementAndGet();
        return session;
      })
      .exec(after("close").close());

  private final ScenarioBuilder writers = scenario("ReconnectStorm writers")
      .exec(session -> {
        start();
        int idx = WRITER_SEQ.getAndIncrement();
        return session.set("clientId", "storm-writer-" + RUN + "-" + idx).set("idx", idx).set("instance", "storm-" + RUN + "-" + idx)
            .set("todoText", "written while the clients were away");
      })
      .exec(connectAndHello)
      .asLongAs(session -> dropUndecided()).on(pause(Duration.ofMillis(POLL_MS)))
      .pause(session -> until(DROP_AT.get() + WRITE_DELAY_MS))
      .repeat(CHANGES, "n").on(exec(session -> session.set("mid", session.getInt("n") + 1)).exec(push))
      .exec(session -> {
        int idx = session.getInt("idx");
        if (session.contains("version")) {
          TARGET_VERSION.set(idx, session.getLong("version"));
        }
        if (WRITERS_DONE.incrementAndGet() == INSTANCES) {
          long planned = DROP_AT.get() + RECONNECT_DELAY_MS;
          decide(RECONNECT_AT, planned, System.currentTimeMillis() + DECIDE_AHEAD_MS <= planned
              ? "every writer was done; reconnect " + RECONNECT_DELAY_MS + " ms after the drop"
              : "every writer was done, later than planned; reconnect " + DECIDE_AHEAD_MS + " ms after the last", false);
        }
        return session;
      })
      .doIf(session -> session.getInt("idx") == 0).then(
          asLongAs(session -> FINISHED.get() < CLIENTS
                  && System.currentTimeMillis() < START.get() + 2 * BARRIER_CAP_MS + 4L * CHECK_TIMEOUT_SECONDS * 1000)
              .on(pause(Duration.ofMillis(200)))
              .exec(before("verdict ping").sendText("{\"type\":\"ping\"}").await(Duration.ofSeconds(CHECK_TIMEOUT_SECONDS)).on(
                  ws.checkTextMessage(VERDICT).matching(regex("\"type\":\"pong\"").exists())
                      .check(bodyString().transform(body -> verdict()).is("ok")))))
      .exec(before("close").close());

  {
    setUp(
        clients.injectOpen(rampUsers(CLIENTS).during(Duration.ofMillis(Math.max(1, ARRIVAL_MS)))),
        writers.injectOpen(atOnceUsers(INSTANCES)))
        .protocols(protocol)
        .assertions(
            global().failedRequests().percent().lte(MAX_ERROR_PERCENT),
            details(GROUP).responseTime().percentile(99.0).lt(P99_MS),
            details(VERDICT).failedRequests().count().is(0L));
  }

  /** Takes the cookie of the newest poke that arrived while the client sat idle, if any. */
  private static Session keepNewestCookie(List<WsInboundMessage> messages, Session session) {
    String cookie = null;
    for (WsInboundMessage message : messages) {
      if (message instanceof WsInboundMessage.Text text && text.message().contains("\"type\":\"poke\"")) {
        Matcher m = COOKIE_PATTERN.matcher(text.message());
        if (m.find()) {
          cookie = m.group(1);
        }
      }
    }
    if (cookie == null) {
      return session;
    }
    COOKIE_FROM_BUFFER.incrementAndGet();
    return session.set("cookie", cookie);
  }

  private static long sinceReconnectInstant() {
    return LAST_CAUGHT_UP_AT.get() - RECONNECT_AT.get();
  }

  private static synchronized String verdict() {
    if (CAUGHT_UP.get() < CLIENTS) {
      verdict = "only " + CAUGHT_UP.get() + " of " + CLIENTS + " clients caught up";
    } else if (sinceReconnectInstant() >= ALL_CAUGHT_UP_MS) {
      verdict = "the last client caught up " + sinceReconnectInstant() + " ms after the reconnect instant";
    } else {
      verdict = "ok";
    }
    return verdict;
  }

  @Override
  public void after() {
    String finalVerdict = verdict();
    String text = String.join("\n",
        "ReconnectStorm summary (run " + RUN + ")",
        "  clients: " + CLIENTS + " over " + INSTANCES + " instances, " + PUSHES + " pushes each before the drop; "
            + CLIENTS_READY.get() + " reached the drop, " + LATE_FOR_DROP.get() + " of them over 100 ms late; "
            + COOKIE_FROM_BUFFER.get() + " received pokes after their last confirmation and held the newest one's cookie",
        "  drop instant: " + dropDecision + " (" + (DROP_AT.get() - START.get()) + " ms after the start)",
        "  writers: " + CHANGES + " changes per instance while the clients were away, " + WRITERS_DONE.get() + " of " + INSTANCES + " done",
        "  reconnect instant: " + reconnectDecision + " (" + (RECONNECT_AT.get() - DROP_AT.get()) + " ms after the drop)",
        "  reconnected: " + RECONNECTED.get() + ", caught up: " + CAUGHT_UP.get() + ", of which by a reset (clear): " + RESETS.get(),
        "  TIME UNTIL ALL CAUGHT UP (reconnect instant -> last catch-up poke): "
            + (CAUGHT_UP.get() == 0 ? "none caught up" : sinceReconnectInstant() + " ms")
            + (CAUGHT_UP.get() < CLIENTS ? " (not all caught up)" : ""),
        "  reconnect instant -> caught up, per client: " + LatencySummary.describe(SINCE_STORM),
        "  own reconnect start -> caught up, per client: " + LatencySummary.describe(PER_CLIENT),
        "  reconnect instant -> the client's connect started (load generator lag): " + LatencySummary.describe(START_LAG),
        "  verdict (every client caught up within " + ALL_CAUGHT_UP_MS + " ms of the reconnect instant): " + finalVerdict,
        "");
    LatencySummary.publish("ReconnectStormSimulation", text);
  }
}
