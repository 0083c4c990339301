package io.syncedstore.loadtest;

import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.regex;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.ws;

import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.CoreDsl;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A mixed workload over the sync WebSocket, open model, four populations arriving at once:
 *
 * <ul>
 *   <li><b>readers</b> (anonymous): connect to {@code mixed-big}, an instance holding
 *       {@code entries} (10,000) todos seeded before the run, and read the initial sync (one reset
 *       poke with every entry): the {@code initial sync 10k} request is hello to that poke;
 *   <li><b>writers</b> (signed in, {@code dev:<user>} tokens on the upgrade request): connect to
 *       one of {@code instances} small instances and push {@code pushesPerClient} {@code setTodo}s,
 *       each checked by the poke that confirms it ({@code confirmed});
 *   <li><b>callers</b> (signed in): call the action {@code countTodos} over the socket
 *       ({@code actionResult}: the call to its answer);
 *   <li><b>anonymous writers</b>: as writers, without a token.
 * </ul>
 *
 * <p>Signed-in users need the server's {@code dev} provider:
 * {@code SERVER_JAVA_OPTS=-Dsynced-store.auth.provider=dev loadtest/run-simulation.sh MixedSimulation}
 * (under the default {@code anonymous} provider the tokens are ignored and everyone is anonymous).
 *
 * <p>System properties (defaults finish in about a minute): {@code baseUrl}, {@code httpBaseUrl},
 * {@code durationSeconds} (40), {@code entries} (10,000), {@code instances} (20),
 * {@code readersPerSecond} (2), {@code writersPerSecond} (20), {@code callersPerSecond} (5),
 * {@code anonymousPerSecond} (10), {@code pushesPerClient} (5), {@code paceMs} (200);
 * assertions: no failed request ({@code maxErrorPercent}, 0), p99 of {@code confirmed} under
 * {@code p99Ms} (100), of {@code actionResult} under {@code actionP99Ms} (200), of the initial sync under
 * {@code initialSyncP99Ms} (2,000).
 */
public class MixedSimulation extends Simulation {
  private static final String BASE_URL = System.getProperty("baseUrl", "ws://127.0.0.1:8080");
  private static final String HTTP_BASE_URL = System.getProperty("httpBaseUrl", "http://127.0.0.1:8080");
  private static final int DURATION_SECONDS = Integer.getInteger("durationSeconds", 40);
  private static final int ENTRIES = Integer.getInteger("entries", 10_000);
  private static final int INSTANCES = Integer.getInteger("instances", 20);
  private static final double READERS = Double.parseDouble(System.getProperty("readersPerSecond", "2"));
  private static final double WRITERS = Double.parseDouble(System.getProperty("writersPerSecond", "20"));
  private static final double CALLERS = Double.parseDouble(System.getProperty("callersPerSecond", "5"));
  private static final double ANONYMOUS = Double.parseDouble(System.getProperty("anonymousPerSecond", "10"));
  private static final int PUSHES = Integer.getInteger("pushesPerClient", 5);
  private static final int PACE_MS = Integer.getInteger("paceMs", 200);
  private static final int P99_MS = Integer.getInteger("p99Ms", 100);
  private static final int ACTION_P99_MS = Integer.getInteger("actionP99Ms", 200);
  private static final int INITIAL_SYNC_P99_MS = Integer.getInteger("initialSyncP99Ms", 2000);
  private static final double MAX_ERROR_PERCENT = Double.parseDouble(System.getProperty("maxErrorPercent", "0"));
  private static final String BIG = "mixed-big";

  private final HttpProtocolBuilder protocol = http.wsBaseUrl(BASE_URL).wsMaxReconnects(0);

  private static ChainBuilder identity(boolean signedIn) {
    return CoreDsl.exec(session -> {
      String id = UUID.randomUUID().toString();
      return session.set("clientId", "c-" + id).set("user", signedIn ? "user-" + id.substring(0, 8) : "")
          .set("instance", "mixed-" + ThreadLocalRandom.current().nextInt(INSTANCES));
    });
  }

  private static ChainBuilder connect(String instance, boolean signedIn) {
    var connect = ws("connect").connect("/v1/apps/todo/instances/" + instance + "/sync");
    if (signedIn) {
      connect = connect.header("Authorization", "Bearer dev:#{user}");
    }
    return CoreDsl.exec(connect);
  }

  private static ChainBuilder hello(String name) {
    return CoreDsl.exec(ws(name)
        .sendText("{\"type\":\"hello\",\"protocolVersion\":1,\"clientGroupId\":\"g-#{clientId}\",\"clientId\":\"#{clientId}\","
            + "\"schemaVersion\":1}")
        .await(Duration.ofSeconds(30)).on(
            ws.checkTextMessage("connected").matching(regex("\"type\":\"connected\"").exists()),
            ws.checkTextMessage("initial poke").matching(regex("\"type\":\"poke\"").exists())));
  }

  private static ChainBuilder pushes() {
    return CoreDsl.repeat(PUSHES, "n").on(
        CoreDsl.pace(Duration.ofMillis(PACE_MS)).exec(session -> session.set("mid", session.getInt("n") + 1))
            .exec(ws("push")
                .sendText("{\"type\":\"push\",\"mutations\":[{\"id\":#{mid},\"name\":\"setTodo\",\"timestamp\":#{mid},"
                    + "\"args\":{\"id\":\"#{clientId}-#{mid}\",\"text\":\"mixed load todo #{mid}\",\"updatedAt\":#{mid}}}]}")
                .await(Duration.ofSeconds(10)).on(
                    ws.checkTextMessage("confirmed").matching(regex("\"#{clientId}\":#{mid}[,}]").exists()))));
  }

  private final ScenarioBuilder readers = scenario("readers (anonymous, initial sync of " + ENTRIES + ")")
      .exec(identity(false))
      .exec(connect(BIG, false))
      .exec(ws("hello big")
          .sendText("{\"type\":\"hello\",\"protocolVersion\":1,\"clientGroupId\":\"g-#{clientId}\",\"clientId\":\"#{clientId}\","
              + "\"schemaVersion\":1}")
          .await(Duration.ofSeconds(30)).on(
              ws.checkTextMessage("connected big").matching(regex("\"type\":\"connected\"").exists()),
              // the reset poke: it starts with clear and holds every entry (Gatling reports each check
              // as a request timed from the hello)
              ws.checkTextMessage("initial sync 10k").matching(regex("\"type\":\"poke\".*\"op\":\"clear\"").exists())))
      .exec(ws("close").close());

  private final ScenarioBuilder writers = scenario("writers (signed in)")
      .exec(identity(true))
      .exec(connect("#{instance}", true))
      .exec(hello("hello"))
      .exec(pushes())
      .exec(ws("close").close());

  private final ScenarioBuilder anonymousWriters = scenario("writers (anonymous)")
      .exec(identity(false))
      .exec(connect("#{instance}", false))
      .exec(hello("hello"))
      .exec(pushes())
      .exec(ws("close").close());

  private final ScenarioBuilder callers = scenario("action callers (signed in)")
      .exec(identity(true))
      .exec(connect("#{instance}", true))
      .exec(hello("hello"))
      .exec(ws("action")
          .sendText("{\"type\":\"action\",\"id\":\"a-#{clientId}\",\"name\":\"countTodos\",\"args\":{}}")
          .await(Duration.ofSeconds(30)).on(
              ws.checkTextMessage("actionResult").matching(regex("\"type\":\"actionResult\",\"id\":\"a-#{clientId}\"").exists())))
      .exec(ws("close").close());

  @Override
  public void before() {
    // The big instance: ENTRIES todos through HTTP pushes of 1,000, before any virtual user arrives.
    HttpClient http = HttpClient.newHttpClient();
    String client = "seed-" + UUID.randomUUID();
    try {
      for (int from = 1; from <= ENTRIES; from += 1000) {
        StringBuilder mutations = new StringBuilder();
        for (int id = from; id < Math.min(ENTRIES + 1, from + 1000); id++) {
          mutations.append(mutations.isEmpty() ? "" : ",").append("{\"id\":").append(id)
              .append(",\"name\":\"setTodo\",\"timestamp\":").append(id).append(",\"args\":{\"id\":\"todo-").append(id)
              .append("\",\"text\":\"a todo of the big instance, number ").append(id).append("\",\"updatedAt\":").append(id).append("}}");
        }
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(HTTP_BASE_URL + "/v1/apps/todo/instances/" + BIG + "/push"))
            .POST(HttpRequest.BodyPublishers.ofString("{\"clientGroupId\":\"g-" + client + "\",\"clientId\":\"" + client
                + "\",\"mutations\":[" + mutations + "]}")).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
          throw new IllegalStateException("seeding " + BIG + " failed: " + r.statusCode() + " " + r.body());
        }
      }
    } catch (Exception e) {
      throw new IllegalStateException("cannot seed " + BIG + " at " + HTTP_BASE_URL, e);
    }
    System.out.printf("seeded %s with %d todos%n", BIG, ENTRIES);
  }

  {
    Duration during = Duration.ofSeconds(DURATION_SECONDS);
    setUp(
        readers.injectOpen(constantUsersPerSec(READERS).during(during)),
        writers.injectOpen(constantUsersPerSec(WRITERS).during(during)),
        anonymousWriters.injectOpen(constantUsersPerSec(ANONYMOUS).during(during)),
        callers.injectOpen(constantUsersPerSec(CALLERS).during(during)))
        .protocols(protocol)
        .assertions(
            global().failedRequests().percent().lte(MAX_ERROR_PERCENT),
            details("confirmed").responseTime().percentile(99.0).lt(P99_MS),
            details("actionResult").responseTime().percentile(99.0).lt(ACTION_P99_MS),
            details("initial sync 10k").responseTime().percentile(99.0).lt(INITIAL_SYNC_P99_MS));
  }
}
