package io.syncedstore.client.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.syncedstore.client.ReadTransaction;
import io.syncedstore.client.SyncClient;
import io.syncedstore.client.testkit.KitTestApps.SetDone;
import io.syncedstore.client.testkit.KitTestApps.ToggleDone;
import io.syncedstore.client.testkit.KitTestApps.Todo;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The documented mutator rule, shown with the kit: a mutator that computes its write from what it
 * reads ({@code done = !done}) means something else once it is rebased onto another user's
 * change, while a mutator that carries the user's intent ({@code done = true}) does not.
 *
 * <p>Every step is ordered with holds and waits, never with sleeps.
 */
class MutatorRulesTest {
  private static final String ID = "t1";

  /** Two users both check a todo while offline: the toggles cancel out and nobody's intent survives. */
  @Test
  void twoConcurrentTogglesCancelOutNeitherUsersIntentSurvives() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(KitTestApps.TOGGLE_TODO)) {
      SyncClient alice = kit.createClient("alice");
      SyncClient bob = kit.createClient("bob");
      seedUnchecked(kit, alice);

      kit.network(alice).holdOutbound();
      kit.network(bob).holdOutbound();
      alice.mutate("toggleDone", new ToggleDone(ID));
      bob.mutate("toggleDone", new ToggleDone(ID));
      // Each user sees what they meant, optimistically.
      assertTrue(done(alice), "alice's optimistic view shows her check");
      assertTrue(done(bob), "bob's optimistic view shows his check");

      kit.network(alice).releaseOutbound();
      kit.network(bob).releaseOutbound();
      kit.waitForAllClients();

      // The documented hazard: two "check" clicks became check, uncheck.
      assertFalse(done(alice), "alice: the second toggle undid the first; neither user's intent (done) survived");
      assertFalse(done(bob), "bob: the second toggle undid the first; neither user's intent (done) survived");
      SyncClient carol = kit.createClient("carol");
      kit.waitForAllClients();
      assertFalse(done(carol), "a fresh client reads the server's state: not done");
    }
  }

  /** The same scenario with the explicit value: both users meant done, and done it is. */
  @Test
  void twoConcurrentExplicitSetsKeepTheUsersIntent() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(KitTestApps.TOGGLE_TODO)) {
      SyncClient alice = kit.createClient("alice");
      SyncClient bob = kit.createClient("bob");
      seedUnchecked(kit, alice);

      kit.network(alice).holdOutbound();
      kit.network(bob).holdOutbound();
      alice.mutate("setDone", new SetDone(ID, true));
      bob.mutate("setDone", new SetDone(ID, true));
      assertTrue(done(alice), "alice's optimistic view shows her check");
      assertTrue(done(bob), "bob's optimistic view shows his check");

      kit.network(alice).releaseOutbound();
      kit.network(bob).releaseOutbound();
      kit.waitForAllClients();

      assertTrue(done(alice), "alice: both users meant done");
      assertTrue(done(bob), "bob: both users meant done");
      SyncClient carol = kit.createClient("carol");
      kit.waitForAllClients();
      assertTrue(done(carol), "a fresh client reads the server's state: done");
    }
  }

  /**
   * Between the two confirmations: alice's toggle is still pending when bob's toggle is confirmed
   * to her, so her toggle is rebased onto "done" and her own screen unchecks the todo she just
   * checked; after her toggle reaches the server it stays unchecked for everyone.
   */
  @Test
  void pendingToggleRebasedOntoAnotherUsersToggleShowsTheOppositeOfWhatTheUserJustDid() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(KitTestApps.TOGGLE_TODO)) {
      SyncClient alice = kit.createClient("alice");
      SyncClient bob = kit.createClient("bob");
      seedUnchecked(kit, alice);

      kit.network(alice).holdOutbound();
      alice.mutate("toggleDone", new ToggleDone(ID));
      assertTrue(done(alice), "alice just clicked to check it");

      bob.mutate("toggleDone", new ToggleDone(ID)).confirmed().get(10, TimeUnit.SECONDS);
      kit.waitFor("alice's confirmed state to include bob's toggle (done)", () -> confirmedDone(kit, alice),
          () -> "alice's confirmed done=" + confirmedDone(kit, alice) + ", pending " + alice.pendingCount());

      assertEquals(1, alice.pendingCount(), "alice's toggle is still pending (held)");
      assertFalse(done(alice), "the hazard: alice's pending toggle, rebased onto bob's, shows unchecked"
          + " although she just clicked to check it");

      kit.network(alice).releaseOutbound();
      kit.waitForAllClients();
      assertFalse(done(alice), "alice: unchecked in the end");
      assertFalse(done(bob), "bob: unchecked in the end");
    }
  }

  /** The same interleaving with the explicit value: alice's screen keeps her check throughout. */
  @Test
  void pendingExplicitSetRebasedOntoAnotherUsersSetStillShowsWhatTheUserDid() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(KitTestApps.TOGGLE_TODO)) {
      SyncClient alice = kit.createClient("alice");
      SyncClient bob = kit.createClient("bob");
      seedUnchecked(kit, alice);

      kit.network(alice).holdOutbound();
      alice.mutate("setDone", new SetDone(ID, true));
      bob.mutate("setDone", new SetDone(ID, true)).confirmed().get(10, TimeUnit.SECONDS);
      kit.waitFor("alice's confirmed state to include bob's check", () -> confirmedDone(kit, alice),
          () -> "alice's confirmed done=" + confirmedDone(kit, alice) + ", pending " + alice.pendingCount());

      assertEquals(1, alice.pendingCount(), "alice's check is still pending (held)");
      assertTrue(done(alice), "alice's rebased view still shows her check");

      kit.network(alice).releaseOutbound();
      kit.waitForAllClients();
      assertTrue(done(alice), "alice: checked in the end");
      assertTrue(done(bob), "bob: checked in the end");
    }
  }

  /** Creates the todo unchecked and waits until every client has it confirmed. */
  private static void seedUnchecked(SyncTestKit kit, SyncClient by) {
    by.mutate("setDone", new SetDone(ID, false));
    kit.waitForAllClients();
  }

  private static boolean done(SyncClient c) {
    return c.query(read());
  }

  /** The confirmed state only. */
  private static boolean confirmedDone(SyncTestKit kit, SyncClient c) {
    return kit.queryConfirmed(c, read());
  }

  private static Function<ReadTransaction, Boolean> read() {
    return tx -> tx.table("todos").get(ID, Todo.class)
        .orElseThrow(() -> new AssertionError("no todo " + ID + " in the view")).done();
  }
}
