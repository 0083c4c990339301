package io.syncedstore.loadtest;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.regex;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Replicache's HTTP push and pull ({@code docs/REPLICACHE.md}), open workload: clients arrive at
 * a constant rate, each pulls the whole state of one of {@code instances} todo instances, then
 * {@code pushesPerClient} times pushes one {@code setTodo} and pulls from its cookie, checking
 * that the pull confirms the mutation ({@code lastMutationIDChanges}).
 *
 * <p>System properties: {@code httpBaseUrl} (http://127.0.0.1:8080), {@code rate} (200 pushes/s),
 * {@code durationSeconds} (45), {@code instances} (100), {@code pushesPerClient} (5), {@code p99Ms}
 * (200, on the push and on the confirming pull), {@code maxErrorPercent} (0).
 */
public class ReplicachePushPullSimulation extends Simulation {
  private static final String BASE_URL = System.getProperty("httpBaseUrl", "http://127.0.0.1:8080");
  private static final int RATE = Integer.getInteger("rate", 200);
  private static final int DURATION_SECONDS = Integer.getInteger("durationSeconds", 45);
  private static final int INSTANCES = Integer.getInteger("instances", 100);
  private static final int PUSHES = Integer.getInteger("pushesPerClient", 5);
  private static final int P99_MS = Integer.getInteger("p99Ms", 200);
  private static final double MAX_ERROR_PERCENT = Double.parseDouble(System.getProperty("maxErrorPercent", "0"));

  private final HttpProtocolBuilder protocol = http.baseUrl(BASE_URL).contentTypeHeader("application/json")
      .acceptHeader("application/json").shareConnections();

  private static final String PULL = "{\"pullVersion\":1,\"clientGroupID\":\"g-#{clientId}\",\"cookie\":#{cookie},"
      + "\"profileID\":\"p\",\"schemaVersion\":\"\"}";

  private final ScenarioBuilder clients = scenario("ReplicachePushPull")
      .exec(session -> session
          .set("clientId", "c-" + UUID.randomUUID())
          .set("instance", "rep-" + ThreadLocalRandom.current().nextInt(INSTANCES))
          .set("cookie", "null"))
      .exec(http("initial pull").post("/replicache/todo/#{instance}/pull").body(StringBody(PULL))
          .check(status().is(200), regex("\"cookie\":(\\{[^}]*\\})").saveAs("cookie")))
      .repeat(PUSHES, "n").on(
          io.gatling.javaapi.core.CoreDsl.exec(session -> session.set("mid", session.getInt("n") + 1))
              .exec(http("push").post("/replicache/todo/#{instance}/push")
                  .body(StringBody("{\"pushVersion\":1,\"clientGroupID\":\"g-#{clientId}\",\"profileID\":\"p\",\"schemaVersion\":\"\","
                      + "\"mutations\":[{\"id\":#{mid},\"clientID\":\"#{clientId}\",\"name\":\"setTodo\",\"timestamp\":#{mid},"
                      + "\"args\":{\"id\":\"#{clientId}-#{mid}\",\"text\":\"load test todo #{mid}\",\"updatedAt\":#{mid}}}]}"))
                  .check(status().is(200)))
              .exec(http("confirming pull").post("/replicache/todo/#{instance}/pull").body(StringBody(PULL))
                  .check(status().is(200), regex("\"#{clientId}\":#{mid}[,}]").exists(),
                      regex("\"cookie\":(\\{[^}]*\\})").saveAs("cookie"))));

  {
    setUp(clients.injectOpen(constantUsersPerSec((double) RATE / PUSHES).during(Duration.ofSeconds(DURATION_SECONDS))))
        .protocols(protocol)
        .assertions(
            global().failedRequests().percent().lte(MAX_ERROR_PERCENT),
            details("push").responseTime().percentile(99.0).lt(P99_MS),
            details("confirming pull").responseTime().percentile(99.0).lt(P99_MS));
  }
}
