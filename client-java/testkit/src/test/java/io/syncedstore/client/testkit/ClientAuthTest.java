package io.syncedstore.client.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Table;
import io.syncedstore.client.ConnectionListener;
import io.syncedstore.client.ConnectionStatus;
import io.syncedstore.client.MutationFailure;
import io.syncedstore.client.MutationHandle;
import io.syncedstore.client.MutationListener;
import io.syncedstore.client.SyncClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * The client's handling of authentication and quotas against the real server: a token that
 * expires during a session (close 4440), a token refused at connect (HTTP 401, final), and the
 * rate limit (close 4429 with a retry-after).
 */
class ClientAuthTest {
  /**
   * Input of {@code put}.
   *
   * @param key the item key
   * @param text the value
   */
  record Put(String key, String text) {}

  /**
   * Input of {@code add}: writes item {@code i} and counts it, so a mutation applied twice shows.
   *
   * @param i the number
   */
  record Add(int i) {}

  static final AppDefinition APP = AppDefinition.builder("client-auth").schemaVersion(1)
      .table("items", String.class)
      .table("counters", Long.class)
      .mutator("put", Put.class, (ctx, in) -> ctx.table("items").set(in.key(), in.text()))
      .mutator("add", Add.class, (ctx, in) -> {
        ctx.table("items").set(String.format("n%03d", in.i()), "item " + in.i());
        Table counters = ctx.table("counters");
        counters.set("count", counters.get("count", Long.class).orElse(0L) + 1);
      })
      .build();

  private static final java.util.regex.Pattern RETRY_AFTER = java.util.regex.Pattern.compile("retry after (\\d+) ms");

  /** One call of a {@link ConnectionListener}, with when it came. */
  record Event(String kind, int code, String reason, long atNanos, long atEpochMillis) {
    Event(String kind, int code, String reason) {
      this(kind, code, reason, System.nanoTime(), System.currentTimeMillis());
    }

    @Override
    public String toString() {
      return kind + (code == 0 ? "" : "(" + code + ")") + (reason == null ? "" : " " + reason);
    }
  }

  /** Records every call of the connection listener. */
  static final class Recorder implements ConnectionListener {
    final List<Event> events = new CopyOnWriteArrayList<>();
    final List<ConnectionStatus> statuses = new CopyOnWriteArrayList<>();

    @Override
    public void onStatusChanged(ConnectionStatus status) {
      statuses.add(status);
      events.add(new Event("status:" + status, 0, null));
    }

    @Override
    public void onDisconnected(int code, String reason) {
      events.add(new Event("disconnected", code, reason));
    }

    @Override
    public void onStopped(int code, String reason) {
      events.add(new Event("stopped", code, reason));
    }

    @Override
    public void onServerError(ErrorCode code, String message) {
      events.add(new Event("serverError:" + code, 0, message));
    }

    @Override
    public void onAuthFailed(int code, String reason) {
      events.add(new Event("authFailed", code, reason));
    }

    @Override
    public void onError(Throwable error) {
      events.add(new Event("error", 0, String.valueOf(error)));
    }

    List<Event> of(String kind) {
      return events.stream().filter(e -> e.kind().equals(kind)).toList();
    }

    List<Event> of(String kind, int code) {
      return events.stream().filter(e -> e.kind().equals(kind) && e.code() == code).toList();
    }

    /** @return the index of the first event matching {@code match}, or -1 */
    int indexOf(Predicate<Event> match) {
      List<Event> all = new ArrayList<>(events);
      for (int i = 0; i < all.size(); i++) {
        if (match.test(all.get(i))) {
          return i;
        }
      }
      return -1;
    }
  }

  private static SyncTestKit.Builder callbackAuth(SyncTestKit.Builder b) {
    return b.serverSetting("synced-store.auth.provider", "callback")
        .serverSetting("synced-store.auth.callback.class", TestTokenValidator.class.getName());
  }

  /** Waits (bounded) until {@code condition} holds, then describes the listener's calls on failure. */
  private static void await(SyncTestKit kit, String what, java.util.function.Supplier<Boolean> condition, Recorder r) {
    kit.waitFor(what, condition, () -> "listener calls: " + r.events);
  }

  @Test
  void tokenExpiryDuringASessionReconnectsWithAFreshTokenAndKeepsSyncing() throws Exception {
    try (SyncTestKit kit = callbackAuth(SyncTestKit.builder(APP)).start()) {
      // The instance starts with the first connection (a second or more on a cold JVM): a client
      // with a long-lived token first, so that alice's 1.5 s are spent online.
      SyncClient warmUp = kit.createClient("warm-up", b -> b.auth(() -> TestTokenValidator.token("warm-up")));
      kit.waitForAllClients();
      warmUp.close();

      AtomicInteger authCalls = new AtomicInteger();
      List<Instant> expiries = new CopyOnWriteArrayList<>();
      Recorder r = new Recorder();
      SyncClient alice = kit.createClient("alice", b -> b
          .auth(() -> {
            // The first token expires ~1.5 s after it is handed out; later ones last an hour.
            Instant expiresAt = Instant.now().plus(authCalls.incrementAndGet() == 1 ? Duration.ofMillis(1500) : Duration.ofHours(1));
            expiries.add(expiresAt);
            return TestTokenValidator.token("alice", expiresAt);
          })
          .connectionListener(r));

      await(kit, "alice online with her first token", alice::isOnline, r);
      long firstOnline = System.nanoTime();
      alice.mutate(new Put("before", "written with the first token"));
      kit.waitUntilConfirmed(alice, "'before' confirmed", tx -> tx.table("items").has("before"));
      assertEquals(1, authCalls.get(), "one token so far");
      assertTrue(r.of("authFailed").isEmpty(), "no auth failure before the token expires: " + r.events);

      // The server closes the connection with 4440 when the token expires.
      await(kit, "onAuthFailed(4440)", () -> !r.of("authFailed", 4440).isEmpty(), r);
      Event expired = r.of("authFailed", 4440).get(0);
      long afterOnlineMs = TimeUnit.NANOSECONDS.toMillis(expired.atNanos() - firstOnline);
      assertTrue(afterOnlineMs < 3000, "the expiry closed the connection " + afterOnlineMs + " ms after it was online");
      assertTrue(expired.atEpochMillis() >= expiries.get(0).toEpochMilli() - 50,
          "closed no earlier than the token's expiry: " + Instant.ofEpochMilli(expired.atEpochMillis()) + " vs " + expiries.get(0));
      assertFalse(r.of("disconnected", 4440).isEmpty(), "onDisconnected(4440) too: " + r.events);

      // A mutation made after the expiry, while the client may still be reconnecting.
      MutationHandle after = alice.mutate(new Put("after", "written after the expiry"));

      // The client asks its auth callback again and comes back online by itself.
      await(kit, "a second call of the auth callback", () -> authCalls.get() >= 2, r);
      await(kit, "alice online again", () -> alice.isOnline() && alice.connectionStatus() == ConnectionStatus.ONLINE, r);
      kit.waitUntilConfirmed(alice, "'after' confirmed by the server", tx -> tx.table("items").has("after"));
      after.confirmed().get(5, TimeUnit.SECONDS);
      kit.waitForAllClients(); // the server's view: nothing pending, nothing missing

      // It went offline and back online; it was never stopped.
      int offline = r.statuses.lastIndexOf(ConnectionStatus.OFFLINE);
      assertTrue(offline >= 0 && r.statuses.subList(offline, r.statuses.size()).contains(ConnectionStatus.ONLINE),
          "OFFLINE then ONLINE: " + r.statuses);
      assertFalse(r.statuses.contains(ConnectionStatus.STOPPED), "never STOPPED: " + r.statuses);
      assertTrue(r.of("stopped").isEmpty(), "no onStopped: " + r.events);
      assertNotEquals(ConnectionStatus.STOPPED, alice.connectionStatus());
      assertEquals(1, r.of("authFailed").size(), "one auth failure, the expiry: " + r.events);
      assertEquals(2, authCalls.get(), "one fresh token, and the long-lived one holds: " + r.events);
      assertTrue(r.of("error").isEmpty(), "no client errors: " + r.events);
      System.out.printf("token expiry: 4440 came %d ms after online; listener calls %s%n", afterOnlineMs, r.events);
    }
  }

  @Test
  void aRefusedTokenStopsTheClientWithoutRetrying() throws Exception {
    try (SyncTestKit kit = callbackAuth(SyncTestKit.builder(APP)).start()) {
      AtomicInteger authCalls = new AtomicInteger();
      Recorder r = new Recorder();
      SyncClient client = kit.createClient("mallory", b -> b
          .auth(() -> {
            authCalls.incrementAndGet();
            return "bad";
          })
          .connectionListener(r));

      await(kit, "onStopped", () -> !r.of("stopped").isEmpty(), r);
      await(kit, "status STOPPED", () -> client.connectionStatus() == ConnectionStatus.STOPPED, r);
      assertEquals(List.of(4401), r.of("authFailed").stream().map(Event::code).toList(), "onAuthFailed(4401) once: " + r.events);
      assertEquals(List.of(4401), r.of("stopped").stream().map(Event::code).toList(), "onStopped(4401) once: " + r.events);
      int authFailed = r.indexOf(e -> e.kind().equals("authFailed"));
      int stopped = r.indexOf(e -> e.kind().equals("stopped"));
      assertTrue(authFailed < stopped, "onAuthFailed before onStopped: " + r.events);
      assertFalse(client.isOnline());

      // With a 20 ms reconnect delay, a client that kept retrying would call the callback dozens of times.
      Thread.sleep(2000);
      assertEquals(1, authCalls.get(), "the auth callback is called once; no retry after 4401: " + r.events);
      assertEquals(ConnectionStatus.STOPPED, client.connectionStatus());
      assertEquals(1, r.of("disconnected").size(), "one disconnect: " + r.events);
      assertFalse(r.statuses.contains(ConnectionStatus.ONLINE), "never online: " + r.statuses);
      System.out.println("refused token: listener calls " + r.events);
    }
  }

  @Test
  void theRateLimitClosesWith4429AndTheClientCatchesUpAfterTheRetryAfter() throws Exception {
    int count = 100;
    try (SyncTestKit kit = SyncTestKit.builder(APP)
        .serverSetting("synced-store.quotas.messages-per-second", 5)
        .serverSetting("synced-store.quotas.mutations-per-second", 5)
        .timeout(Duration.ofSeconds(20))
        .start()) {
      Recorder r = new Recorder();
      List<MutationFailure> failures = new CopyOnWriteArrayList<>();
      SyncClient flooder = kit.createClient("flooder", b -> b
          .connectionListener(r)
          .mutationListener(new MutationListener() {
            @Override
            public void onMutationFailed(MutationFailure failure) {
              failures.add(failure);
            }
          }));
      await(kit, "the flooder online", flooder::isOnline, r);

      long start = System.nanoTime();
      List<MutationHandle> handles = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        handles.add(flooder.mutate(new Add(i)));
      }
      // Its view shows them all at once, whatever the server does.
      assertEquals(count, flooder.query(tx -> tx.table("counters").get("count", Long.class).orElse(0L)).intValue());

      await(kit, "a close with 4429", () -> !r.of("disconnected", 4429).isEmpty(), r);
      await(kit, "all " + count + " mutations confirmed (status " + flooder.connectionStatus() + ")", () -> kit.queryConfirmed(flooder,
          tx -> tx.table("items").keys().size() == count && tx.table("counters").get("count", Long.class).orElse(0L) == count), r);
      kit.waitForAllClients(); // the server has nothing more for it, and nothing is pending
      long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      for (MutationHandle h : handles) {
        h.confirmed().get(5, TimeUnit.SECONDS);
      }

      // The server's view, through another user's client (its own quota): each mutation applied exactly once.
      SyncClient observer = kit.createClient("observer");
      kit.waitUntilConfirmed(observer, "the observer sees " + count + " items",
          tx -> tx.table("items").keys().size() == count);
      assertEquals(count, kit.queryConfirmed(observer, tx -> tx.table("counters").get("count", Long.class).orElseThrow()).intValue(),
          "every mutation applied exactly once");
      assertEquals(count, kit.queryConfirmed(flooder, tx -> tx.table("counters").get("count", Long.class).orElseThrow()).intValue());
      assertTrue(failures.isEmpty(), "no mutation failed: " + failures);

      // After each 4429 the client waited at least the retry-after of the error before it, then came back by itself.
      List<Event> all = new ArrayList<>(r.events);
      List<Event> limited = r.of("disconnected", 4429);
      long retryAfterMs = -1;
      for (int i = 0; i < all.size(); i++) {
        Event e = all.get(i);
        java.util.regex.Matcher m = RETRY_AFTER.matcher(e.reason() == null ? "" : e.reason());
        if (e.kind().startsWith("serverError:") && m.find()) {
          retryAfterMs = Long.parseLong(m.group(1));
        } else if (e.kind().equals("disconnected") && e.code() == 4429) {
          assertTrue(retryAfterMs >= 0, "a retry-after came before the close: " + all);
          Event online = all.subList(i, all.size()).stream().filter(x -> x.kind().equals("status:ONLINE")).findFirst()
              .orElseThrow(() -> new AssertionError("online again after the close: " + all));
          long waitedMs = TimeUnit.NANOSECONDS.toMillis(online.atNanos() - e.atNanos());
          assertTrue(waitedMs >= retryAfterMs, "reconnected " + waitedMs + " ms after a close with retry-after " + retryAfterMs + " ms");
          retryAfterMs = -1;
        }
      }
      assertTrue(limited.size() <= 25, "the client backs off instead of being thrown out again and again: "
          + limited.size() + " closes with 4429: " + all);
      assertTrue(r.of("serverError:" + ErrorCode.RATE_LIMITED).size() >= 1, "the server said RATE_LIMITED: " + r.events);
      assertTrue(r.of("stopped").isEmpty(), "not stopped: " + r.events);
      assertEquals(ConnectionStatus.ONLINE, flooder.connectionStatus());
      assertTrue(r.of("authFailed").isEmpty(), "no auth failures: " + r.events);
      System.out.printf("rate limit: %d mutations confirmed in %d ms after %d close(s) with 4429; server errors: %s%n",
          count, tookMs, limited.size(), r.of("serverError:" + ErrorCode.RATE_LIMITED).stream().map(Event::reason).toList());
      System.out.println("rate limit: listener calls " + r.events);
    }
  }
}
