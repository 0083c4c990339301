package io.syncedstore.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.syncedstore.api.SyncException;
import io.syncedstore.client.impl.SyncClientImpl;
import io.syncedstore.examples.todo.TodoApp;
import io.syncedstore.examples.todo.TodoApp.SetTodo;
import io.syncedstore.examples.todo.TodoApp.Todo;
import io.syncedstore.gateway.SyncServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client against a real in-process server: optimistic writes, rebase, server failures, subscriptions. */
class SyncClientTest {
  @TempDir
  static Path dir;

  private static SyncServer server;
  private final List<SyncClient> clients = new ArrayList<>();

  @BeforeAll
  static void start() {
    server = TestServers.start(dir, List.of(TodoApp.DEFINITION, TestApp.DEFINITION), 0);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @AfterEach
  void closeClients() {
    clients.forEach(SyncClient::close);
  }

  private SyncClientImpl client(io.syncedstore.api.AppDefinition app, String instance, String user, MutationListener listener) {
    SyncClient c = SyncClient.connect(SyncOptions.builder()
        .server("ws://127.0.0.1:" + server.port())
        .app(app)
        .instanceId(instance)
        .auth(() -> "dev:" + user)
        .mutationListener(listener)
        .build());
    clients.add(c);
    assertTrue(c.waitForBootstrap(Await.WAIT), "bootstrap of " + user);
    return (SyncClientImpl) c;
  }

  private SyncClientImpl todoClient(String instance, String user) {
    return client(TodoApp.DEFINITION, instance, user, new MutationListener() {});
  }

  private static Map<String, Todo> todos(ReadTransaction tx) {
    Map<String, Todo> out = new TreeMap<>();
    tx.table("todos").values(Todo.class).forEach(t -> out.put(t.id(), t));
    return out;
  }

  private static SetTodo set(String id, String text, Boolean done) {
    return new SetTodo(id, text, Optional.ofNullable(done), 1_700_000_000_000L);
  }

  private static void confirmed(MutationHandle h) throws Exception {
    h.confirmed().get(Await.WAIT.toSeconds(), TimeUnit.SECONDS);
  }

  @Test
  void aMutationIsVisibleLocallyAtOnceAndOnTheOtherClientAfterThePoke() throws Exception {
    SyncClientImpl a = todoClient("two-clients", "alice");
    SyncClientImpl b = todoClient("two-clients", "bob");
    a.holdOutbound(true);
    MutationHandle h = a.mutate("setTodo", set("t1", "buy milk", null));
    assertEquals(1, h.id());
    assertEquals("buy milk", a.query(tx -> tx.table("todos").get("t1", Todo.class)).orElseThrow().text());
    assertEquals(1, a.pendingCount());
    assertFalse(h.confirmed().isDone());
    boolean bHasIt = b.query(tx -> tx.table("todos").has("t1"));
    assertFalse(bHasIt);

    a.holdOutbound(false);
    confirmed(h);
    assertEquals(0, a.pendingCount());
    assertEquals("buy milk", a.queryConfirmed(tx -> tx.table("todos").get("t1", Todo.class)).orElseThrow().text());
    Await.until("t1 on bob's client", () -> b.<Boolean>query(tx -> tx.table("todos").has("t1")));
    assertEquals(new Todo("t1", "buy milk", false, 1_700_000_000_000L), b.query(tx -> tx.table("todos").get("t1", Todo.class)).orElseThrow());
  }

  /** setTodo as the model: text from the input, done from the input or else the current value. */
  private static Map<String, Todo> model(Map<String, Todo> confirmed, List<SetTodo> pending) {
    Map<String, Todo> state = new TreeMap<>(confirmed);
    for (SetTodo in : pending) {
      boolean done = in.done().orElseGet(() -> Optional.ofNullable(state.get(in.id())).map(Todo::done).orElse(false));
      state.put(in.id(), new Todo(in.id(), in.text(), done, in.updatedAt()));
    }
    return state;
  }

  @Test
  void fiftyPendingMutationsRebaseOverConflictingConfirmedWritesAndConvergeToTheServer() throws Exception {
    SyncClientImpl a = todoClient("rebase", "alice");
    SyncClientImpl b = todoClient("rebase", "bob");
    a.holdOutbound(true);
    List<SetTodo> aPending = new ArrayList<>();
    List<MutationHandle> aHandles = new ArrayList<>();
    for (int round = 0; round < 5; round++) {
      for (int i = 0; i < 10; i++) {
        int n = round * 10 + i;
        SetTodo in = set("k" + (n % 7), "a-" + n, null); // done left out: it comes from the current state
        aPending.add(in);
        aHandles.add(a.mutate("setTodo", in));
      }
      // B writes the same keys, and flips done, which A's pending mutations must pick up on rebase.
      for (int k = 0; k < 7; k += 2) {
        String text = "b-" + round + "-" + k;
        confirmed(b.mutate("setTodo", set("k" + k, text, (round + k) % 2 == 0)));
        String key = "k" + k;
        Await.until("b's " + text + " confirmed on a", () -> a.queryConfirmed(tx -> tx.table("todos").get(key, Todo.class))
            .map(t -> t.text().equals(text)).orElse(false));
        Map<String, Todo> expected = model(a.queryConfirmed(SyncClientTest::todos), aPending);
        assertEquals(expected, a.query(SyncClientTest::todos), "a's view = confirmed + pending, round " + round + " key " + k);
      }
      assertEquals(aPending.size(), a.pendingCount());
    }

    a.holdOutbound(false);
    for (MutationHandle h : aHandles) {
      confirmed(h);
    }
    assertEquals(0, a.pendingCount());
    Map<String, Todo> aView = a.query(SyncClientTest::todos);
    assertEquals(a.queryConfirmed(SyncClientTest::todos), aView);
    SyncClientImpl fresh = todoClient("rebase", "carol");
    assertEquals(aView, fresh.query(SyncClientTest::todos), "a's final view equals the server's state");
    Await.until("b converged", () -> b.query(SyncClientTest::todos).equals(aView));
    // The last writes to every key are A's (pushed after B's), each with done as B last left it.
    assertEquals("a-49", aView.get("k0").text());
  }

  @Test
  void aMutatorThatFailsOnlyOnTheServerFailsConfirmedAndItsWriteDisappears() throws Exception {
    CompletableFuture<MutationFailure> heard = new CompletableFuture<>();
    SyncClientImpl a = client(TestApp.DEFINITION, "server-fails", "alice", new MutationListener() {
      @Override
      public void onMutationFailed(MutationFailure failure) {
        heard.complete(failure);
      }
    });
    a.holdOutbound(true);
    MutationHandle rejected = a.mutate("serverRejects", new TestApp.Note("n1", "optimistic"));
    MutationHandle accepted = a.mutate("note", new TestApp.Note("n2", "kept"));
    assertEquals(Optional.of("optimistic"), a.query(tx -> tx.table("notes").get("n1", String.class)));
    a.holdOutbound(false);

    ExecutionException e = assertThrows(ExecutionException.class,
        () -> rejected.confirmed().get(Await.WAIT.toSeconds(), TimeUnit.SECONDS));
    SyncException cause = assertInstanceOf(SyncException.class, e.getCause());
    assertTrue(cause.getMessage().contains("rejected by the server"), cause.getMessage());
    MutationFailure failure = heard.get(Await.WAIT.toSeconds(), TimeUnit.SECONDS);
    assertEquals(rejected.id(), failure.id());
    assertEquals("serverRejects", failure.name());
    assertEquals(cause.code(), failure.code());
    confirmed(accepted);
    assertEquals(Optional.empty(), a.query(tx -> tx.table("notes").get("n1", String.class)));
    assertEquals(Optional.of("kept"), a.query(tx -> tx.table("notes").get("n2", String.class)));
    assertEquals(0, a.pendingCount());
  }

  @Test
  void aMutatorThatThrowsLocallyRejectsTheCallAndLeavesNothingPending() {
    SyncClientImpl a = client(TestApp.DEFINITION, "local-fails", "alice", new MutationListener() {});
    SyncException e = assertThrows(SyncException.class, () -> a.mutate("alwaysFails", new TestApp.Note("n1", "")));
    assertTrue(e.getMessage().contains("text must not be empty"), e.getMessage());
    assertThrows(SyncException.class, () -> a.mutate("noSuchMutator", Map.of()));
    assertEquals(0, a.pendingCount());
    assertEquals(1, a.mutate("alwaysFails", new TestApp.Note("n1", "fine")).id(), "a rejected call uses no mutation id");
  }

  @Test
  void aSubscriptionFiresOnceAtFirstAndThenOnlyWhenItsResultChanges() throws Exception {
    SyncClientImpl a = todoClient("subscribe", "alice");
    SyncClientImpl b = todoClient("subscribe", "bob");
    BlockingQueue<Optional<Todo>> results = new LinkedBlockingQueue<>();
    AtomicReference<String> callbackThread = new AtomicReference<>();
    Subscription sub = a.subscribe(tx -> tx.table("todos").get("t1", Todo.class), r -> {
      callbackThread.set(Thread.currentThread().getName());
      results.add(r);
    });
    assertEquals(Optional.empty(), results.poll(Await.WAIT.toSeconds(), TimeUnit.SECONDS));

    confirmed(a.mutate("setTodo", set("t2", "other", null)));
    MutationHandle t1 = a.mutate("setTodo", set("t1", "mine", null));
    confirmed(t1);
    confirmed(a.mutate("setTodo", set("t1", "mine", null))); // the same value again: no change
    confirmed(b.mutate("setTodo", set("t3", "bob's", null)));
    // Callbacks run in order on one thread: once a later subscription has seen t3, the first has had all its calls.
    CompletableFuture<Void> sawT3 = new CompletableFuture<>();
    Subscription marker = a.subscribe(tx -> tx.table("todos").has("t3"), has -> {
      if (has) {
        sawT3.complete(null);
      }
    });
    sawT3.get(Await.WAIT.toSeconds(), TimeUnit.SECONDS);
    assertEquals(List.of(Optional.of(new Todo("t1", "mine", false, 1_700_000_000_000L))), new ArrayList<>(results));
    assertTrue(callbackThread.get().startsWith("sync-client-callbacks"), callbackThread.get());

    sub.close();
    marker.close();
    confirmed(b.mutate("setTodo", set("t1", "changed by bob", null)));
    Await.until("bob's change", () -> a.query(tx -> tx.table("todos").get("t1", Todo.class)).orElseThrow().text().equals("changed by bob"));
    assertTrue(results.size() <= 1, "a closed subscription stops (one already queued call may run)");
  }

  @Test
  void privateRowsArriveInTheUsersOwnTierAndNobodyElseSeesThem() throws Exception {
    SyncClientImpl alice = client(TestApp.DEFINITION, "private", "alice", new MutationListener() {});
    SyncClientImpl bob = client(TestApp.DEFINITION, "private", "bob", new MutationListener() {});
    assertEquals(Optional.of("alice"), alice.query(ReadTransaction::userId));
    MutationHandle h = alice.mutate("draft", new TestApp.Note("d1", "secret"));
    assertEquals(Optional.of("secret"), alice.query(tx -> tx.privateOfUser("alice").table("notes").get("d1", String.class)));
    assertEquals(Optional.empty(), alice.query(tx -> tx.table("notes").get("d1", String.class)));
    confirmed(h);
    assertEquals(Optional.of("secret"), alice.queryConfirmed(tx -> tx.privateOfUser("alice").table("notes").get("d1", String.class)),
        "the poke's private put lands in alice's private tier");
    confirmed(bob.mutate("note", new TestApp.Note("n1", "public")));
    Await.until("bob's public note on alice", () -> alice.<Boolean>query(tx -> tx.table("notes").has("n1")));
    assertEquals(List.of("n1"), bob.query(tx -> tx.table("notes").keys()));
    assertEquals(List.of(), bob.query(tx -> tx.privateOfUser("alice").table("notes").keys()));
  }

  private record Stop(int code, String reason) {}

  private static SyncClient stoppedClient(io.syncedstore.api.AppDefinition app, String token, CompletableFuture<Stop> stopped) {
    return stoppedClient(SyncOptions.builder().app(app).instanceId("refused"), token, stopped);
  }

  /** A client of {@code builder}'s app and instance whose {@code onStopped} completes {@code stopped}. */
  private static SyncClient stoppedClient(SyncOptions.Builder builder, String token, CompletableFuture<Stop> stopped) {
    return SyncClient.connect(builder
        .server("ws://127.0.0.1:" + server.port())
        .auth(() -> token)
        .reconnectDelay(java.time.Duration.ofMillis(10), java.time.Duration.ofMillis(20))
        .connectionListener(new ConnectionListener() {
          @Override
          public void onStopped(int code, String reason) {
            stopped.complete(new Stop(code, reason));
          }
        })
        .build());
  }

  @Test
  void aRefusedTokenOrAnotherSchemaVersionStopsTheClientInsteadOfRetrying() throws Exception {
    CompletableFuture<Stop> badToken = new CompletableFuture<>();
    try (SyncClient c = stoppedClient(TestApp.DEFINITION, "not-a-dev-token", badToken)) {
      assertEquals(4401, badToken.get(Await.WAIT.toSeconds(), TimeUnit.SECONDS).code());
      assertEquals(ConnectionStatus.STOPPED, c.connectionStatus());
      assertFalse(c.waitForBootstrap(java.time.Duration.ofMillis(100)));
      assertEquals(ConnectionStatus.STOPPED, c.connectionStatus(), "no retry after 4401");
    }
    io.syncedstore.api.AppDefinition newer = io.syncedstore.api.AppDefinition.builder("clienttest").schemaVersion(2)
        .table("notes", String.class).build();
    CompletableFuture<Stop> mismatch = new CompletableFuture<>();
    try (SyncClient c = stoppedClient(newer, "dev:alice", mismatch)) {
      assertEquals(4412, mismatch.get(Await.WAIT.toSeconds(), TimeUnit.SECONDS).code());
      assertEquals(ConnectionStatus.STOPPED, c.connectionStatus());
    }
  }

  @Test
  void aSecondLiveClientWithTheSameClientIdStopsTheFirstInsteadOfTakingTheIdBackAndForth() throws Exception {
    CompletableFuture<Stop> first = new CompletableFuture<>();
    CompletableFuture<Stop> second = new CompletableFuture<>();
    try (SyncClient a = sameIdClient(first)) {
      assertTrue(a.waitForBootstrap(Await.WAIT));
      try (SyncClient b = sameIdClient(second)) {
        assertTrue(b.waitForBootstrap(Await.WAIT));
        assertEquals(4409, first.get(Await.WAIT.toSeconds(), TimeUnit.SECONDS).code());
        assertEquals(ConnectionStatus.STOPPED, a.connectionStatus());
        assertFalse(second.isDone(), "the newer client keeps the id");
        assertTrue(b.isOnline());
      }
    }
  }

  private static SyncClient sameIdClient(CompletableFuture<Stop> stopped) {
    return stoppedClient(SyncOptions.builder().app(TestApp.DEFINITION).instanceId("same-id").clientGroupId("g-same")
        .clientId("c-same"), "dev:alice", stopped);
  }
}
