package io.syncedstore.loadtest;

import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.regex;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.ws;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Push to confirmation over the sync WebSocket, open workload: virtual clients arrive at a
 * constant rate, each connects to one of {@code instances} todo instances, says hello, and pushes
 * {@code pushesPerClient} {@code setTodo} mutations one every {@code paceMs}, each checked by the
 * poke whose {@code lastMutationIDChanges} confirms its id. Arrivals per second =
 * {@code rate / pushesPerClient}, so the server is offered {@code rate} mutations a second whatever
 * its speed: a slow server makes clients live longer and more of them connected at once, not fewer
 * pushes (the open model). With the defaults a client stays 5 s, so at 5,000 mutations/s about 500
 * clients are connected, five per instance, and 100 connect every second.
 *
 * <p>System properties (defaults finish in about a minute): {@code baseUrl} (ws://127.0.0.1:8080),
 * {@code rate} (500 mutations/s), {@code durationSeconds} (45), {@code instances} (100),
 * {@code pushesPerClient} (50), {@code paceMs} (100), {@code distinctTodos} (100: each push updates one of
 * 100 todos of its instance, so every run and every minute of a run meets instances of the same size;
 * 0: each push a new todo, so the instances and every newcomer's initial poke grow), {@code p99Ms} (50, the assertion on the "confirmed" check,
 * confirmation p99), {@code maxErrorPercent} (0).
 */
public class PushConfirmSimulation extends Simulation {
  private static final String BASE_URL = System.getProperty("baseUrl", "ws://127.0.0.1:8080");
  static final int RATE = Integer.getInteger("rate", 500);
  private static final int DURATION_SECONDS = Integer.getInteger("durationSeconds", 45);
  private static final int INSTANCES = Integer.getInteger("instances", 100);
  static final int PUSHES = Integer.getInteger("pushesPerClient", 50);
  private static final int PACE_MS = Integer.getInteger("paceMs", 100);
  static final int P99_MS = Integer.getInteger("p99Ms", 50);
  /** 0: every push writes a new todo (the instances grow); N: pushes update one of N todos per instance. */
  static final int DISTINCT_TODOS = Integer.getInteger("distinctTodos", 100);
  static final double MAX_ERROR_PERCENT = Double.parseDouble(System.getProperty("maxErrorPercent", "0"));

  static final HttpProtocolBuilder PROTOCOL = http.wsBaseUrl(BASE_URL).wsMaxReconnects(0);

  /** The virtual clients (also the soak's load, {@link PushConfirmSoakSimulation}). */
  static final ScenarioBuilder CLIENTS = scenario("PushConfirm")
      .exec(session -> session
          .set("clientId", "c-" + UUID.randomUUID())
          .set("instance", "load-" + ThreadLocalRandom.current().nextInt(INSTANCES)))
      .exec(ws("connect").connect("/v1/apps/todo/instances/#{instance}/sync"))
      .exec(ws("hello")
          .sendText("{\"type\":\"hello\",\"protocolVersion\":1,\"clientGroupId\":\"g-#{clientId}\",\"clientId\":\"#{clientId}\","
              + "\"schemaVersion\":1}")
          .await(Duration.ofSeconds(10)).on(
              ws.checkTextMessage("connected").matching(regex("\"type\":\"connected\"").exists()),
              ws.checkTextMessage("initial poke").matching(regex("\"type\":\"poke\"").exists())))
      .repeat(PUSHES, "n").on(
          pace(Duration.ofMillis(PACE_MS)).exec(session -> session.set("mid", session.getInt("n") + 1)
              .set("todo", DISTINCT_TODOS > 0 ? "todo-" + ThreadLocalRandom.current().nextInt(DISTINCT_TODOS)
                  : session.getString("clientId") + "-" + (session.getInt("n") + 1)))
              .exec(ws("push")
                  .sendText("{\"type\":\"push\",\"mutations\":[{\"id\":#{mid},\"name\":\"setTodo\",\"timestamp\":#{mid},"
                      + "\"args\":{\"id\":\"#{todo}\",\"text\":\"load test todo number #{mid}\",\"updatedAt\":#{mid}}}]}")
                  .await(Duration.ofSeconds(10)).on(
                      // Other clients' pokes of the same instance are skipped; only this client's confirmation counts.
                      ws.checkTextMessage("confirmed").matching(regex("\"#{clientId}\":#{mid}[,}]").exists()))))
      .exec(ws("close").close());

  {
    double arrivalsPerSecond = (double) RATE / PUSHES;
    setUp(CLIENTS.injectOpen(constantUsersPerSec(arrivalsPerSecond).during(Duration.ofSeconds(DURATION_SECONDS))))
        .protocols(PROTOCOL)
        .assertions(
            global().failedRequests().percent().lte(MAX_ERROR_PERCENT),
            details("confirmed").responseTime().percentile(99.0).lt(P99_MS));
  }

  private static io.gatling.javaapi.core.ChainBuilder pace(Duration d) {
    return io.gatling.javaapi.core.CoreDsl.pace(d);
  }
}
